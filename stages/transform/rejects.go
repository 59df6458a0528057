package transform

import (
	"cmp"
	"container/heap"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

const (
	// rejectRunFile names a run of sorted rejects in the spill folder.
	rejectRunFile = "rejects-%05d.parquet"
	// rejectShare is the part of the candidate store's budget the rejects may hold in memory
	// before they are written to a run.
	rejectShare = 4
	// minRejectBudget is the least the rejects may hold in memory, so that a tiny budget (tests
	// force spills with one) still writes runs of several rejects.
	minRejectBudget = 4 << 10
	// rejectMergeFanIn is the most sources merged at once. More runs are merged in several
	// passes, so that a merge holds at most this many readers' batches.
	rejectMergeFanIn = 16
	// rejectReadRows is the record batch size of the readers of a merge.
	rejectReadRows = 1024
	// rejectOverhead is what a reject takes in memory besides the bytes of its strings.
	rejectOverhead = int64(unsafe.Sizeof(schemas.Reject{}))
)

// rejectSet gathers the stage's rejects, which rejects.parquet holds sorted by compareRejects.
// They stay in memory up to a budget; past it, the set sorts what it holds and writes it to a
// run file (schemas.Rejects, uncompressed) in the spill folder, and the runs are merged as the
// rejects are written. So a run whose input is mostly rejected (a wrong metadata_field, say)
// stays within the memory limit too. Safe for concurrent add.
type rejectSet struct {
	mu     sync.Mutex
	budget int64
	dir    string
	meta   schemas.FileMeta
	alloc  memory.Allocator

	mem   []schemas.Reject
	bytes int64
	runs  []string
	made  int
	// total counts every reject; counts splits them by reason (countRejectPrefix+reason) and by
	// scope ("rejects_"+scope).
	total  int64
	counts map[string]int64
}

// newRejectSet makes a reject set that holds at most about budget bytes in memory (at least
// minRejectBudget) and writes its runs in dir.
func newRejectSet(budget int64, dir string, meta schemas.FileMeta, alloc memory.Allocator) *rejectSet {
	return &rejectSet{budget: max(budget, minRejectBudget), dir: dir, meta: meta, alloc: alloc, counts: map[string]int64{}}
}

// add takes rejects whose strings it may keep (callers clone those that alias a record batch).
func (s *rejectSet) add(rs ...schemas.Reject) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range rs {
		r := &rs[i]
		s.total++
		s.counts[countRejectPrefix+r.Reason]++
		s.counts["rejects_"+r.Scope]++
		s.mem = append(s.mem, *r)
		// Scope and reason are constants, shared by every reject.
		s.bytes += rejectOverhead + int64(len(r.SourceUserID)+len(r.OrgKey)+len(r.Field)+len(r.RawValue)+len(r.Detail))
		if s.bytes > s.budget {
			if err := s.writeRun(); err != nil {
				return err
			}
		}
	}
	return nil
}

// runFiles reports how many run files the rejects were written to.
func (s *rejectSet) runFiles() int { return s.made }

// newRunPath names the next run file.
func (s *rejectSet) newRunPath() string {
	s.made++
	return filepath.Join(s.dir, fmt.Sprintf(rejectRunFile, s.made))
}

// writeRun sorts the rejects held in memory, writes them to a new run and lets them go.
func (s *rejectSet) writeRun() error {
	sortRejects(s.mem)
	sf, err := createSpill(s.newRunPath(), schemas.Rejects, s.meta, s.alloc)
	if err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	for i := range s.mem {
		if err := sf.append(&s.mem[i]); err != nil {
			sf.close()
			return fmt.Errorf("write rejects: %w", err)
		}
	}
	if _, err := sf.close(); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	s.runs = append(s.runs, sf.path)
	clear(s.mem)
	s.mem, s.bytes = s.mem[:0], 0
	return nil
}

// each calls fn for every reject, in order; the reject is valid during the call only. No add may
// come after it.
func (s *rejectSet) each(fn func(*schemas.Reject) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sortRejects(s.mem)
	// Merge runs into longer ones until they fit one merge with the rejects held in memory.
	for len(s.runs) >= rejectMergeFanIn {
		sf, err := createSpill(s.newRunPath(), schemas.Rejects, s.meta, s.alloc)
		if err != nil {
			return fmt.Errorf("merge rejects: %w", err)
		}
		in := s.runs[:rejectMergeFanIn]
		if err := s.merge(in, nil, sf.append); err != nil {
			sf.close()
			return err
		}
		if _, err := sf.close(); err != nil {
			return fmt.Errorf("merge rejects: %w", err)
		}
		for _, p := range in {
			os.Remove(p)
		}
		s.runs = append(s.runs[rejectMergeFanIn:], sf.path)
	}
	return s.merge(s.runs, s.mem, fn)
}

// merge calls fn for every reject of the run files at paths and of mem (sorted), in order.
func (s *rejectSet) merge(paths []string, mem []schemas.Reject, fn func(*schemas.Reject) error) error {
	var h rejectHeap
	defer func() {
		for _, src := range h.all {
			if src.r != nil {
				src.r.Close()
			}
		}
	}()
	for _, p := range paths {
		r, err := schemas.Open(p, schemas.Rejects, schemas.WithReaderAllocator(s.alloc), schemas.WithReadBatchRows(rejectReadRows))
		if err != nil {
			return fmt.Errorf("read rejects: %w", err)
		}
		h.all = append(h.all, &rejectSource{r: r})
	}
	if len(mem) > 0 {
		h.all = append(h.all, &rejectSource{mem: mem})
	}
	for _, src := range h.all {
		ok, err := src.next()
		if err != nil {
			return err
		}
		if ok {
			h.live = append(h.live, src)
		}
	}
	heap.Init(&h)
	for len(h.live) > 0 {
		src := h.live[0]
		if err := fn(&src.cur); err != nil {
			return err
		}
		ok, err := src.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// rejectSource is one sorted input of a merge: a run file, or the rejects held in memory.
type rejectSource struct {
	r   *schemas.Reader[schemas.Reject]
	mem []schemas.Reject
	cur schemas.Reject
}

// next moves to the source's next reject and reports whether there is one.
func (src *rejectSource) next() (bool, error) {
	if src.r == nil {
		if len(src.mem) == 0 {
			return false, nil
		}
		src.cur, src.mem = src.mem[0], src.mem[1:]
		return true, nil
	}
	if src.r.Next() {
		src.cur = *src.r.Row()
		return true, nil
	}
	if err := src.r.Err(); err != nil {
		return false, fmt.Errorf("read rejects: %w", err)
	}
	return false, nil
}

// rejectHeap orders the live sources of a merge by their current reject.
type rejectHeap struct {
	all, live []*rejectSource
}

func (h *rejectHeap) Len() int           { return len(h.live) }
func (h *rejectHeap) Less(i, j int) bool { return compareRejects(&h.live[i].cur, &h.live[j].cur) < 0 }
func (h *rejectHeap) Swap(i, j int)      { h.live[i], h.live[j] = h.live[j], h.live[i] }
func (h *rejectHeap) Push(x any)         { h.live = append(h.live, x.(*rejectSource)) }
func (h *rejectHeap) Pop() any {
	x := h.live[len(h.live)-1]
	h.live = h.live[:len(h.live)-1]
	return x
}

// sortRejects sorts rs by compareRejects.
func sortRejects(rs []schemas.Reject) {
	slices.SortFunc(rs, func(a, b schemas.Reject) int { return compareRejects(&a, &b) })
}

// compareRejects orders rejects by user, scope, organization, reason, then the rest.
func compareRejects(a, b *schemas.Reject) int {
	return cmp.Or(strings.Compare(a.SourceUserID, b.SourceUserID), strings.Compare(a.Scope, b.Scope),
		strings.Compare(a.OrgKey, b.OrgKey), strings.Compare(a.Reason, b.Reason),
		strings.Compare(a.Field, b.Field), strings.Compare(a.RawValue, b.RawValue),
		strings.Compare(a.Detail, b.Detail), cmp.Compare(a.SourcePosition, b.SourcePosition))
}
