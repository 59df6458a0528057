package extract

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// fixtureSources are the three file sources over the same five users.
var fixtureSources = []struct {
	kind, file string
	// positions are the users' source positions.
	positions []int64
}{
	{SourceJSONL, "users.jsonl", []int64{1, 2, 4, 5, 6}},
	{SourceExportJSON, "users.json", nil}, // checked against the file below
	{SourceExportCSV, "users.csv", []int64{2, 3, 5, 6, 8}},
}

func TestFileSourcesReadEveryUser(t *testing.T) {
	var reference []schemas.User
	for _, src := range fixtureSources {
		t.Run(src.kind, func(t *testing.T) {
			d := runDir(t)
			res, err := runExtract(t, d, Config{Type: src.kind, Path: fixture(src.file)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts[CountUsers] != 5 || res.Counts[CountBadRecords] != 0 || res.Partial {
				t.Fatalf("counts %v partial %v, want 5 users and no bad record", res.Counts, res.Partial)
			}
			users := readUsers(t, d)
			if len(users) != 5 {
				t.Fatalf("read %d users, want 5", len(users))
			}
			for i, u := range users {
				if u.SourceFile != fixture(src.file) {
					t.Errorf("user %d source file %q", i, u.SourceFile)
				}
				if src.positions != nil && u.SourcePosition != src.positions[i] {
					t.Errorf("user %d at position %d, want %d", i, u.SourcePosition, src.positions[i])
				}
			}
			switch src.kind {
			case SourceExportCSV:
				if res.Counts[CountHeaderRowsSkipped] != 2 {
					t.Errorf("header rows skipped %d, want 2", res.Counts[CountHeaderRowsSkipped])
				}
			case SourceJSONL:
				if res.Counts[CountBlankLinesSkipped] != 1 {
					t.Errorf("blank lines skipped %d, want 1", res.Counts[CountBlankLinesSkipped])
				}
			case SourceExportJSON:
				// Each user's position is the line of its opening brace.
				lines := strings.Split(readText(t, fixture(src.file)), "\n")
				for i, u := range users {
					if got := lines[u.SourcePosition-1]; got != "  {" {
						t.Errorf("user %d position %d is line %q, want an element's opening brace", i, u.SourcePosition, got)
					}
				}
			}
			// The same users, whatever the source: JSON vs JSON Lines exactly; the CSV lacks the
			// columns the export utility leaves out.
			for i := range users {
				users[i].SourceFile, users[i].SourcePosition = "", 0
				if src.kind == SourceExportCSV {
					continue
				}
			}
			if reference == nil {
				reference = users
				return
			}
			for i := range users {
				want := reference[i]
				if src.kind == SourceExportCSV {
					want.ExternalID, want.Roles, want.IsLocked = "", nil, false
					want.LockCreatedAt, want.LockExpiresAt = users[i].LockCreatedAt, users[i].LockExpiresAt
				}
				if got, w := canonicalLines(t, users[i:i+1]), canonicalLines(t, []schemas.User{want}); got != w {
					t.Errorf("user %d differs from the JSON Lines source:\n got: %s\nwant: %s", i, got, w)
				}
			}
		})
	}
}

func TestMetadataKeptExactly(t *testing.T) {
	for _, src := range fixtureSources {
		t.Run(src.kind, func(t *testing.T) {
			d := runDir(t)
			if _, err := runExtract(t, d, Config{Type: src.kind, Path: fixture(src.file)}); err != nil {
				t.Fatal(err)
			}
			users := readUsers(t, d)
			want := `{"org_ids":["acme","globex"],"z":1,"a":1.0,"n":1e3,"nested":{"b":[true,null]}}`
			if users[0].TrustedMetadata != want {
				t.Errorf("trusted_metadata %s, want %s", users[0].TrustedMetadata, want)
			}
			if want := `{"note":"he said \"hi\", then left, café ☕ \u00e9"}`; users[0].UntrustedMetadata != want {
				t.Errorf("untrusted_metadata %s, want %s", users[0].UntrustedMetadata, want)
			}
			if users[1].TrustedMetadata != "" || users[1].Emails == nil || len(users[1].Emails) != 0 {
				t.Errorf("null metadata and empty lists: got %q, %#v", users[1].TrustedMetadata, users[1].Emails)
			}
			if n := len(users[2].TrustedMetadata); n < 10*1024 || !strings.HasSuffix(users[2].TrustedMetadata, `"tail":"end"}`) {
				t.Errorf("10 KB metadata: %d bytes, ends %q", n, users[2].TrustedMetadata[max(0, n-20):])
			}
			if users[4].Emails[0].Email != "山田@例え.jp" || users[4].CreatedAt.Nanosecond() != 123456000 {
				t.Errorf("user 5: %+v", users[4])
			}
			if users[3].PasswordRequiresReset == nil || !*users[3].PasswordRequiresReset || users[1].PasswordRequiresReset != nil {
				t.Errorf("password presence not kept")
			}
		})
	}
}

func TestEmptySources(t *testing.T) {
	for _, tc := range []struct{ kind, path string }{
		{SourceJSONL, fixture("empty.jsonl")},
		{SourceExportJSON, fixture("empty.json")},
		{SourceExportCSV, fixture("empty.csv")},
		{SourceExportJSON, writeFile(t, "zero.json", "")},
		{SourceExportCSV, writeFile(t, "zero.csv", "")},
	} {
		t.Run(tc.kind+"/"+tc.path[strings.LastIndex(tc.path, "/")+1:], func(t *testing.T) {
			d := runDir(t)
			res, err := runExtract(t, d, Config{Type: tc.kind, Path: tc.path})
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts[CountUsers] != 0 || len(readUsers(t, d)) != 0 || len(readBad(t, d)) != 0 {
				t.Errorf("counts %v", res.Counts)
			}
		})
	}
}

func TestGolden(t *testing.T) {
	for _, src := range fixtureSources {
		t.Run(src.kind, func(t *testing.T) {
			d := runDir(t)
			if _, err := runExtract(t, d, Config{Type: src.kind, Path: fixture(src.file)}); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, src.file+".users.jsonl", canonicalLines(t, readUsers(t, d)))
		})
	}
}

// TestBlockBoundaries reads the fixtures with tiny blocks, so that records straddle blocks and
// records bigger than a block grow it.
func TestBlockBoundaries(t *testing.T) {
	for _, src := range fixtureSources {
		t.Run(src.kind, func(t *testing.T) {
			small, big := runDir(t), runDir(t)
			if _, err := runExtract(t, small, Config{Type: src.kind, Path: fixture(src.file)}, WithBlockSize(1024), WithWorkers(3)); err != nil {
				t.Fatal(err)
			}
			if _, err := runExtract(t, big, Config{Type: src.kind, Path: fixture(src.file)}, WithWorkers(1)); err != nil {
				t.Fatal(err)
			}
			if a, b := canonicalLines(t, readUsers(t, small)), canonicalLines(t, readUsers(t, big)); a != b {
				t.Errorf("small blocks read\n%s\nwhole file read\n%s", a, b)
			}
		})
	}
}

// TestSourceHashedWhileRead checks that the manifest records the sha256 of the whole source file,
// trailing white space included, as hashed while extract read it (with blocks small enough that
// the file takes many reads).
func TestSourceHashedWhileRead(t *testing.T) {
	for _, src := range fixtureSources {
		t.Run(src.kind, func(t *testing.T) {
			data, err := os.ReadFile(fixture(src.file))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), filepath.Base(src.file))
			if src.kind != SourceExportCSV { // in CSV, a blank line is a record
				data = append(data, "\n \n"...)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			d := runDir(t)
			res, err := runExtract(t, d, Config{Type: src.kind, Path: path}, WithBlockSize(1024))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if got, want := res.InputSHA256[path], hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("stage hashed %s as %q, want %q", path, got, want)
			}
			m, err := pipeline.LoadManifest(d)
			if err != nil {
				t.Fatal(err)
			}
			in := m.Stages[pipeline.StageExtract].Inputs
			if len(in) != 1 || in[0].SHA256 != hex.EncodeToString(sum[:]) || in[0].Size != int64(len(data)) {
				t.Fatalf("manifest input %+v, want sha256 %x and size %d", in, sum, len(data))
			}
		})
	}
}
