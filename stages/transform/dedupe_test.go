package transform

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortByRank checks the counting sort of memberships by organization rank against a
// comparison sort, on random inputs with empty, single and crowded ranks.
func TestSortByRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []struct{ orgs, entries int }{{1, 0}, {1, 5}, {7, 1}, {50, 1000}, {2000, 300}, {3, 10000}} {
		ranks := rng.Perm(size.orgs)
		r32 := make([]uint32, len(ranks))
		for i, r := range ranks {
			r32[i] = uint32(r)
		}
		entries := make([]entry, size.entries)
		for i := range entries {
			entries[i] = entry{org: uint32(rng.IntN(size.orgs)), gid: uint32(i), ref: rng.Uint64()}
		}
		want := slices.Clone(entries)
		slices.SortFunc(want, func(a, b entry) int {
			return cmp.Or(cmp.Compare(r32[a.org], r32[b.org]), cmp.Compare(a.gid, b.gid))
		})
		sortByRank(entries, r32)
		if !slices.IsSortedFunc(entries, func(a, b entry) int { return cmp.Compare(r32[a.org], r32[b.org]) }) {
			t.Fatalf("%+v: not sorted by rank", size)
		}
		slices.SortStableFunc(entries, func(a, b entry) int {
			return cmp.Or(cmp.Compare(r32[a.org], r32[b.org]), cmp.Compare(a.gid, b.gid))
		})
		if !slices.Equal(entries, want) {
			t.Fatalf("%+v: the entries changed", size)
		}
	}
}
