package transform

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// withMappingBytes lets the mapping file's index take limit bytes.
func withMappingBytes(limit int64) Option {
	return func(o *options) { o.mapBytes = limit }
}

// TestMappingIndexMatchesMaps reads a mapping file with every kind of owner (canonical Stytch
// user ids, the same ids in upper case, which are other users, ids of other shapes, emails in
// any case), owners with several rows, rows repeated and rows whose email is a user id's text,
// and checks every lookup against plain maps of the file's rows, order included.
func TestMappingIndexMatchesMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var (
		ids    []string
		emails []string
		file   strings.Builder
	)
	for i := range 300 {
		id := randomUserID(r)
		ids = append(ids, id, strings.ToUpper(id), fmt.Sprintf("u%d", i), "user-test-"+id[10:20])
		emails = append(emails, fmt.Sprintf("Person%d@Example.COM", i))
	}
	byUser, byEmail := map[string][]string{}, map[string][]string{}
	file.WriteString("email,org_key,user_id\n")
	for range 5000 {
		key := fmt.Sprintf("org-%d", r.IntN(40))
		if r.IntN(3) == 0 {
			e := emails[r.IntN(len(emails))]
			norm, _, _ := normalizeEmail(e)
			byEmail[norm] = append(byEmail[norm], key)
			fmt.Fprintf(&file, "%s,%s,\n", e, key)
			continue
		}
		id := ids[r.IntN(len(ids))]
		byUser[id] = append(byUser[id], key)
		// A row with both columns is keyed by its user id.
		fmt.Fprintf(&file, "%s,%s,%s\n", []string{"", "ignored@x.io"}[r.IntN(2)], key, id)
	}
	m, err := readMappingFile(writeFile(t, "map.csv", file.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.rows() != 5000 {
		t.Fatalf("rows = %d, want 5000", m.rows())
	}
	for _, id := range append(ids, "absent", "user-test-00000000-0000-4000-8000-000000000000") {
		if got := m.appendUserKeys(nil, id); !slices.Equal(got, byUser[id]) {
			t.Fatalf("user %s: keys %v, want %v", id, got, byUser[id])
		}
	}
	for _, e := range append(emails, "absent@x.io", "ignored@x.io") {
		norm, _, _ := normalizeEmail(e)
		if got := m.appendEmailKeys([]string{"before"}, norm); !slices.Equal(got, append([]string{"before"}, byEmail[norm]...)) {
			t.Fatalf("email %s: keys %v, want %v after before", norm, got, byEmail[norm])
		}
	}
}

// TestMappingPastItsShare runs the stage with a mapping file whose index passes its share of the
// memory limit: a configuration error naming the file, the line and the limit the file needs,
// and nothing written.
func TestMappingPastItsShare(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var file strings.Builder
	file.WriteString("user_id,org_key\n")
	for i := range 20000 {
		fmt.Fprintf(&file, "%s,org-%d\n", randomUserID(r), i%50)
	}
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	env := writeUsers(t, []schemas.User{user("u1", "a@x.io", true, "a")})

	// The whole index takes about 1 MB: at 64 KiB it passes its share a few thousand rows in.
	_, err := tryPlan(t, cfg, env, withMappingBytes(64<<10))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"read mapping file: ", "map.csv: line ", "past its share of the memory limit (1/6, 0.1 MiB)",
		"the whole file needs a memory limit of about 64MiB (transform.memory_limit or --memory-limit)"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want it to contain %q", err, want)
		}
	}
	if pipeline.ExitCode(err) != pipeline.ExitConfig {
		t.Fatalf("exit code %d, want %d", pipeline.ExitCode(err), pipeline.ExitConfig)
	}
	if _, err := os.Stat(env.Dir.Path(schemas.Members.Path())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("members file written after an error: %v", err)
	}

	// Within its share the file is read; it does not name u1, who has no organization.
	out := runPlan(t, cfg, env, withMappingBytes(8<<20))
	if len(out.members) != 0 || !slices.Equal(rejectKeys(out.rejects), []string{"u1/user//no_organization"}) {
		t.Fatalf("members %v rejects %v", memberKeys(out.members), rejectKeys(out.rejects))
	}
}

// TestMappingPlansAsMetadata plans generated users twice: by the organizations in their
// metadata, and by a mapping file of the same organizations (keyed by user id, and by email for
// one user in ten) read by two workers over many batches. The plans must be the same.
func TestMappingPlansAsMetadata(t *testing.T) {
	var (
		users []schemas.User
		file  strings.Builder
	)
	file.WriteString(mappingHeader + "\n")
	genUsers(genParams{users: 3000, orgs: 60, seed: 3}, func(u *schemas.User) {
		users = append(users, *u)
		writeMappingRows(&file, len(users), u)
	})
	env := writeUsers(t, users, schemas.WithRowGroupRows(250))
	byMetadata := runPlan(t, DefaultConfig(), env)
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	byMapping := runPlan(t, cfg, env, WithWorkers(2))
	if len(byMetadata.members) < 3000 || len(byMetadata.dups) == 0 {
		t.Fatalf("%d members, %d duplicates: the input does not test much", len(byMetadata.members), len(byMetadata.dups))
	}
	a, b := dumps(t, byMetadata), dumps(t, byMapping)
	for name := range a {
		if a[name] != b[name] {
			t.Fatalf("%s differs:\n%s\nvs\n%s", name, a[name], b[name])
		}
	}
}
