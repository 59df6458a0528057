package extract

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/extract/golden")

// fixtures is the folder of the extract fixtures.
const fixtures = "../../testdata/extract"

// fixture returns the path of a fixture file.
func fixture(name string) string { return filepath.Join(fixtures, name) }

// runDir opens a fresh run directory.
func runDir(t *testing.T) *pipeline.RunDir {
	t.Helper()
	d, err := pipeline.OpenRunDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// runExtract runs the stage through pipeline.RunStage in d with a checked allocator.
func runExtract(t *testing.T, d *pipeline.RunDir, cfg Config, opts ...Option) (*pipeline.Result, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	opts = append([]Option{WithWriterOptions(schemas.WithWriterAllocator(mem)), WithReaderOptions(schemas.WithReaderAllocator(mem))}, opts...)
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return runStage(context.Background(), d, s)
}

// runStage runs s in d through pipeline.RunStage.
func runStage(ctx context.Context, d *pipeline.RunDir, s *Stage) (*pipeline.Result, error) {
	env := &pipeline.Env{Dir: d, RunID: "run-test", ToolVersion: "test"}
	return pipeline.RunStage(ctx, env, s)
}

// readUsers reads extract/users.parquet of d with a checked allocator.
func readUsers(t *testing.T, d *pipeline.RunDir) []schemas.User {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows, err := schemas.ReadAll(d.Path(schemas.Users.Path()), schemas.Users, schemas.WithReaderAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// readBad reads extract/bad_records.parquet of d.
func readBad(t *testing.T, d *pipeline.RunDir) []schemas.BadRecord {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows, err := schemas.ReadAll(d.Path(schemas.BadRecords.Path()), schemas.BadRecords, schemas.WithReaderAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// assertNothingCommitted checks that a failed run left no output and no temporary file.
func assertNothingCommitted(t *testing.T, d *pipeline.RunDir) {
	t.Helper()
	entries, err := os.ReadDir(d.Path("extract"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed run left extract/%s", e.Name())
	}
}

// canonicalLines dumps rows as sorted JSON lines.
func canonicalLines[T any](t *testing.T, rows []T) string {
	t.Helper()
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// checkGolden compares got with the golden file name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := fixture(filepath.Join("golden", name))
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n got: %s\nwant: %s", name, got, want)
	}
}

// writeFile writes content to a file in a fresh temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readText reads a whole small file.
func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
