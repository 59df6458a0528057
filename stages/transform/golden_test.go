package transform

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/transform")

// fixtureDir is the messy golden fixture.
const fixtureDir = "../../testdata/transform/messy"

// loadFixture reads the fixture's users and configuration.
func loadFixture(t *testing.T, dir string) ([]schemas.User, Config) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "users.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var users []schemas.User
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var u schemas.User
		if err := json.Unmarshal(s.Bytes(), &u); err != nil {
			t.Fatal(err)
		}
		u.SourcePosition = int64(len(users) + 1)
		users = append(users, u)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*string{&cfg.Organizations.File, &cfg.Organizations.MappingFile, &cfg.Passwords.HashesFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return users, cfg
}

// jsonLines renders rows as sorted JSON lines, the canonical text of a staged file.
func jsonLines[T any](t *testing.T, rows []T) string {
	t.Helper()
	lines := make([]string, len(rows))
	for i := range rows {
		b, err := json.Marshal(rows[i])
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(b)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// dumps renders every output of a plan as canonical text, keyed by golden file name.
func dumps(t *testing.T, out planOut) map[string]string {
	counts, _ := json.MarshalIndent(out.res.Counts, "", "  ")
	d := map[string]string{
		"organizations.jsonl":    jsonLines(t, out.orgs),
		"members.jsonl":          jsonLines(t, out.members),
		"duplicates.jsonl":       jsonLines(t, out.dups),
		"rejects.jsonl":          jsonLines(t, out.rejects),
		"member_passwords.jsonl": jsonLines(t, out.passwords),
		"counts.json":            string(counts) + "\n",
	}
	if _, ok := out.res.Counts[CountMappingUnmatched]; ok {
		d["mapping_unmatched.jsonl"] = jsonLines(t, out.unmatched)
	}
	return d
}

func TestGolden(t *testing.T) {
	users, cfg := loadFixture(t, fixtureDir)
	if cfg.Transform.MemoryLimit != 64<<20 {
		t.Fatalf("memory_limit from YAML = %v", cfg.Transform.MemoryLimit)
	}
	out := runPlan(t, cfg, writeUsers(t, users))
	golden := filepath.Join(fixtureDir, "golden")
	for name, got := range dumps(t, out) {
		path := filepath.Join(golden, name)
		if *update {
			if err := os.MkdirAll(golden, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the golden file (run with -update and review the diff):\ngot:\n%s\nwant:\n%s", name, got, want)
		}
	}
	// The same plan comes out when the fixture is forced through the spill paths.
	// The hash file goes to partition files from its first row on, split again down to one owner.
	spilled := runPlan(t, cfg, writeUsers(t, users, schemas.WithBatchRows(3), schemas.WithRowGroupRows(5)),
		WithSpillThreshold(1), withPasswordSpill(1, 3, 1))
	if leaves, _ := spilled.res.Details["password_partitions"].(int); spilled.res.Details["spilled"] != true || leaves <= 3 {
		t.Fatalf("spill thresholds did not spill: %v", spilled.res.Details)
	}
	got, want := dumps(t, spilled), dumps(t, out)
	for name := range want {
		if got[name] != want[name] {
			t.Errorf("spilled %s differs:\n%s\nwant\n%s", name, got[name], want[name])
		}
	}
}
