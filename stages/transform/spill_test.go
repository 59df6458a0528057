package transform

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

func TestSpillMatchesInMemory(t *testing.T) {
	var users []schemas.User
	genUsers(genParams{users: 20_000, orgs: 300, seed: 3}, func(u *schemas.User) { users = append(users, *u) })
	cfg := DefaultConfig()
	inMemory := runPlan(t, cfg, writeUsers(t, users))
	if inMemory.res.Details["spilled"] != false {
		t.Fatalf("in-memory run spilled: %v", inMemory.res.Details)
	}
	env := writeUsers(t, users)
	spilled := runPlan(t, cfg, env, WithSpillThreshold(256<<10))
	if spilled.res.Details["spilled"] != true || spilled.res.Details["spill_partitions"].(int) < 2 {
		t.Fatalf("tiny budget did not spill into partitions: %v", spilled.res.Details)
	}
	if _, err := os.Stat(env.Dir.Path(spillDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spill folder left behind: %v", err)
	}
	if len(inMemory.members) < 15_000 || len(inMemory.dups) == 0 || len(inMemory.rejects) == 0 {
		t.Fatalf("generator too tame: %v", inMemory.res.Counts)
	}
	a, b := dumps(t, inMemory), dumps(t, spilled)
	for name := range a {
		if a[name] != b[name] {
			t.Errorf("%s differs between the in-memory and the spilled run", name)
		}
	}
	for k, v := range inMemory.res.Counts {
		if spilled.res.Counts[k] != v {
			t.Errorf("count %s: in memory %d, spilled %d", k, v, spilled.res.Counts[k])
		}
	}

	// Users sorted by organization: the first spill sees only the smallest keys, so its key
	// ranges are wrong for the rest and the last partition must be split again on read.
	sorted := slices.Clone(users)
	slices.SortStableFunc(sorted, func(a, b schemas.User) int { return strings.Compare(a.TrustedMetadata, b.TrustedMetadata) })
	resplit := runPlan(t, cfg, writeUsers(t, sorted), WithSpillThreshold(256<<10))
	if resplit.res.Details["spill_resplits"].(int) == 0 {
		t.Fatalf("sorted input caused no resplit: %v", resplit.res.Details)
	}
	c := dumps(t, resplit)
	for name := range a {
		if a[name] != c[name] {
			t.Errorf("%s differs between the in-memory and the resplit run", name)
		}
	}
}
