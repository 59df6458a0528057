package transform

import (
	"cmp"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Row sizes in memory besides the bytes of their strings.
const (
	rejectOverhead    = int64(unsafe.Sizeof(schemas.Reject{}))
	duplicateOverhead = int64(unsafe.Sizeof(schemas.Duplicate{}))
)

// rejectSet gathers the stage's rejects as sorted runs (see sortedRuns), so that an input that
// is mostly rejected (a wrong metadata_field, say) stays within the memory limit too, and counts
// them. Safe for concurrent add.
type rejectSet struct {
	*sortedRuns[schemas.Reject]
	// total counts every reject; counts splits them by reason (countRejectPrefix+reason) and by
	// scope ("rejects_"+scope). Both are complete once every add returned.
	total  int64
	counts map[string]int64
}

// newRejectSet makes a reject set holding at most about budget bytes in memory, with its runs
// (rejects-NNNNN.parquet) in dir.
func newRejectSet(budget int64, dir string, meta schemas.FileMeta, alloc memory.Allocator) *rejectSet {
	s := &rejectSet{counts: map[string]int64{}}
	s.sortedRuns = newSortedRuns(schemas.Rejects, compareRejects, func(r *schemas.Reject) int64 {
		// Scope and reason are constants, shared by every reject.
		return rejectOverhead + int64(len(r.SourceUserID)+len(r.OrgKey)+len(r.Field)+len(r.RawValue)+len(r.Detail))
	}, "rejects", budget, dir, meta, alloc)
	s.onAdd = func(r *schemas.Reject) {
		s.total++
		s.counts[countRejectPrefix+r.Reason]++
		s.counts["rejects_"+r.Scope]++
	}
	return s
}

// compareRejects orders rejects by user, scope, organization, reason, then the rest.
func compareRejects(a, b *schemas.Reject) int {
	return cmp.Or(strings.Compare(a.SourceUserID, b.SourceUserID), strings.Compare(a.Scope, b.Scope),
		strings.Compare(a.OrgKey, b.OrgKey), strings.Compare(a.Reason, b.Reason),
		strings.Compare(a.Field, b.Field), strings.Compare(a.RawValue, b.RawValue),
		strings.Compare(a.Detail, b.Detail), cmp.Compare(a.SourcePosition, b.SourcePosition))
}

// newDuplicateSet makes the sorted runs of the duplicates (duplicates-NNNNN.parquet in dir),
// holding at most about budget bytes in memory. Deduplication hands them over sorted within each
// partition; the runs put the partitions' rows in one order.
func newDuplicateSet(budget int64, dir string, meta schemas.FileMeta, alloc memory.Allocator) *sortedRuns[schemas.Duplicate] {
	return newSortedRuns(schemas.Duplicates, compareDuplicates, func(d *schemas.Duplicate) int64 {
		// The organization key lives in the dictionary and the rule is a constant.
		return duplicateOverhead + int64(len(d.EmailAddress)+len(d.SourceUserID)+len(d.SurvivorUserID))
	}, "duplicates", budget, dir, meta, alloc)
}

// compareDuplicates orders duplicates by organization, email and user, then the rest.
func compareDuplicates(a, b *schemas.Duplicate) int {
	return cmp.Or(strings.Compare(a.OrgKey, b.OrgKey), strings.Compare(a.EmailAddress, b.EmailAddress),
		strings.Compare(a.SourceUserID, b.SourceUserID), strings.Compare(a.SurvivorUserID, b.SurvivorUserID),
		strings.Compare(a.Rule, b.Rule))
}
