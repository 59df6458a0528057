package transform

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// TestRejectsSpillMatchInMemory runs an input whose users are mostly rejected (no organization
// in their metadata, or a bad email) with a budget small enough that the rejects go to many run
// files, more than one merge takes at once: rejects.parquet must be the in-memory run's, in the
// same sorted order, and the counts the same.
func TestRejectsSpillMatchInMemory(t *testing.T) {
	var users []schemas.User
	genUsers(genParams{users: 12_000, orgs: 200, seed: 5}, func(u *schemas.User) {
		switch u.SourcePosition % 5 {
		case 0, 1, 2:
			u.TrustedMetadata = `{"team":"none"}`
		case 3:
			if len(u.Emails) > 0 {
				u.Emails = []schemas.Email{{EmailID: u.Emails[0].EmailID, Email: "not an address " + u.UserID}}
			}
		}
		users = append(users, *u)
	})
	cfg := DefaultConfig()
	inMemory := runPlan(t, cfg, writeUsers(t, users))
	if _, ok := inMemory.res.Details["reject_runs"]; ok {
		t.Fatalf("in-memory run wrote reject runs: %v", inMemory.res.Details)
	}
	env := writeUsers(t, users)
	spilled := runPlan(t, cfg, env, WithSpillThreshold(64<<10))
	if runs, _ := spilled.res.Details["reject_runs"].(int); runs <= runMergeFanIn {
		t.Fatalf("reject runs %d, want more than %d (a merge in several passes): %v", runs, runMergeFanIn, spilled.res.Details)
	} else {
		t.Logf("%d rejects, %d runs", len(spilled.rejects), runs)
	}
	if _, err := os.Stat(env.Dir.Path(spillDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spill folder left behind: %v", err)
	}
	if n := len(inMemory.rejects); n < len(users)/2 || inMemory.res.Counts[countRejectPrefix+ReasonNoOrganization] == 0 ||
		inMemory.res.Counts[countRejectPrefix+ReasonInvalidEmail] == 0 {
		t.Fatalf("too few rejects (%d): %v", n, inMemory.res.Counts)
	}
	// (runPlan checks that both rejects files are sorted.)
	if !slices.Equal(inMemory.rejects, spilled.rejects) {
		t.Errorf("rejects differ between the in-memory and the spilled run")
	}
	a, b := dumps(t, inMemory), dumps(t, spilled)
	for name := range a {
		if a[name] != b[name] {
			t.Errorf("%s differs between the in-memory and the spilled run", name)
		}
	}
}
