package pipeline_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

func TestCreateAtomicCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "out.txt")
	f, err := pipeline.CreateAtomic(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	tmp := f.TempPath()
	if filepath.Dir(tmp) != filepath.Dir(path) || !strings.HasPrefix(filepath.Base(tmp), ".out.txt.tmp-") {
		t.Errorf("temp path %s: want .out.txt.tmp-* beside %s", tmp, path)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("final name exists before Commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "hello" {
		t.Fatalf("after Commit: %q, %v", got, err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp file left after Commit: %v", err)
	}
	if err := f.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v, want no-op", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Abort after Commit removed the file: %v", err)
	}
	if err := f.Commit(); !errors.Is(err, pipeline.ErrCommitted) {
		t.Errorf("second Commit: %v, want ErrCommitted", err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, pipeline.ErrCommitted) {
		t.Errorf("Write after Commit: %v, want ErrCommitted", err)
	}
}

func TestCreateAtomicAbortKeepsOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := pipeline.WriteFileAtomic(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := pipeline.CreateAtomic(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("after Abort: %q, want the old content", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after Abort, want only out.txt", len(entries))
	}
	if err := f.Commit(); !errors.Is(err, pipeline.ErrCommitted) {
		t.Errorf("Commit after Abort: %v, want ErrCommitted", err)
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "out.json")
	for _, content := range []string{"one", "two"} {
		if err := pipeline.WriteFileAtomic(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Errorf("got %q, want %q", got, content)
		}
	}
}

// TestAtomicWriterKilled kills a writer process mid-file: nothing appears under the final name
// (a file already there keeps its old content), and locking the run directory cleans the
// temporary file up.
func TestAtomicWriterKilled(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(map[bool]string{false: "new", true: "replace"}[existing], func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "extract", "users.parquet")
			if existing {
				if err := pipeline.WriteFileAtomic(path, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := startHelper(t, "slow-writer", path)
			line := c.readLine(t)
			tmp, ok := strings.CutPrefix(line, "writing ")
			if !ok {
				t.Fatalf("helper said %q", line)
			}
			c.kill9(t)

			got, err := os.ReadFile(path)
			switch {
			case existing && string(got) != "old":
				t.Fatalf("final name holds %q after kill, want the old content", got)
			case !existing && !errors.Is(err, fs.ErrNotExist):
				t.Fatalf("final name exists after kill: %v", err)
			}
			if _, err := os.Stat(tmp); err != nil {
				t.Fatalf("expected the killed writer's temp file: %v", err)
			}
			d, err := pipeline.OpenRunDir(root)
			if err != nil {
				t.Fatal(err)
			}
			l, err := d.Lock("test")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lock left the temp file: %v", err)
			}
			if len(l.Removed) != 1 || l.Removed[0] != "extract/"+filepath.Base(tmp) {
				t.Errorf("Removed = %v", l.Removed)
			}
		})
	}
}
