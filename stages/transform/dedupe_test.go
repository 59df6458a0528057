package transform

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortByRank checks the radix sort of memberships by organization rank against a stable
// comparison sort, on random inputs with empty, single and crowded ranks, and rank widths that
// take one, two and three passes.
func TestSortByRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []struct{ orgs, entries int }{{1, 0}, {1, 5}, {7, 1}, {50, 1000}, {2000, 300}, {3, 10000},
		{1 << 11, 5000}, {300_000, 20_000}, {1<<22 + 1, 20_000}} {
		ranks := rng.Perm(size.orgs)
		r32, order := make([]uint32, len(ranks)), make([]uint32, len(ranks))
		for i, r := range ranks {
			r32[i], order[r] = uint32(r), uint32(i)
		}
		entries := make([]entry, size.entries)
		for i := range entries {
			entries[i] = entry{org: uint32(rng.IntN(size.orgs)), gid: uint32(i), ref: rng.Uint64()}
		}
		want := slices.Clone(entries)
		slices.SortFunc(want, func(a, b entry) int {
			return cmp.Or(cmp.Compare(r32[a.org], r32[b.org]), cmp.Compare(a.gid, b.gid))
		})
		var scratch []entry
		sortByRank(entries, r32, order, &scratch)
		if !slices.Equal(entries, want) { // stable: input (gid) order within a rank
			t.Fatalf("%+v: not the stable sort by rank", size)
		}
	}
}
