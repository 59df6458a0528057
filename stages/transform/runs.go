package transform

import (
	"container/heap"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

const (
	// runShare is the part of the candidate store's budget that the rows of each sorted output
	// (duplicates, rejects) may hold in memory before they are written to a run.
	runShare = 8
	// minRunBudget is the least such rows may hold in memory, so that a tiny budget (tests force
	// spills with one) still writes runs of several rows.
	minRunBudget = 4 << 10
	// runMergeFanIn is the most sources merged at once. More runs are merged in several passes,
	// so that a merge holds at most this many readers' batches.
	runMergeFanIn = 16
	// runReadRows is the record batch size of the readers of a merge.
	runReadRows = 1024
)

// sortedRuns gathers the rows of an output file that is sorted (duplicates.parquet,
// rejects.parquet). They stay in memory up to a budget; past it, what is held is sorted and
// written to a run file in the spill folder (the output's schema, uncompressed), and the runs
// are merged as the output is written. So memory stays bounded however many rows there are.
// Safe for concurrent add.
type sortedRuns[T any] struct {
	mu     sync.Mutex
	spec   *schemas.Spec[T]
	cmp    func(a, b *T) int
	size   func(*T) int64
	name   string // run files are name-NNNNN.parquet
	budget int64
	dir    string
	meta   schemas.FileMeta
	alloc  memory.Allocator
	// onAdd, when set, is called for every row added, under the lock.
	onAdd func(*T)

	mem   []T
	bytes int64
	runs  []string
	made  int
}

// newSortedRuns makes sorted runs of spec's rows ordered by cmp, size estimating a row's memory,
// holding at most about budget bytes in memory (at least minRunBudget) and writing the run files
// name-NNNNN.parquet in dir.
func newSortedRuns[T any](spec *schemas.Spec[T], cmp func(a, b *T) int, size func(*T) int64, name string,
	budget int64, dir string, meta schemas.FileMeta, alloc memory.Allocator) *sortedRuns[T] {
	return &sortedRuns[T]{spec: spec, cmp: cmp, size: size, name: name, budget: max(budget, minRunBudget),
		dir: dir, meta: meta, alloc: alloc}
}

// add takes rows whose strings it may keep (callers clone those that alias a record batch or an
// arena that will be reused).
func (s *sortedRuns[T]) add(rows ...T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range rows {
		r := &rows[i]
		if s.onAdd != nil {
			s.onAdd(r)
		}
		s.mem = append(s.mem, *r)
		s.bytes += s.size(r)
		if s.bytes > s.budget {
			if err := s.writeRun(); err != nil {
				return err
			}
		}
	}
	return nil
}

// runFiles reports how many run files were written, merges included.
func (s *sortedRuns[T]) runFiles() int { return s.made }

// create starts the next run file.
func (s *sortedRuns[T]) create() (*spillFile[T], error) {
	s.made++
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%05d.parquet", s.name, s.made))
	sf, err := createSpill(path, s.spec, s.meta, s.alloc)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", s.name, err)
	}
	return sf, nil
}

// sort sorts the rows held in memory, unless they came in order (duplicates come sorted within
// each partition). Rows are compared in place, not copied for every comparison.
func (s *sortedRuns[T]) sort() {
	for i := 1; i < len(s.mem); i++ {
		if s.cmp(&s.mem[i-1], &s.mem[i]) > 0 {
			sort.Sort(rowOrder[T]{s.mem, s.cmp})
			return
		}
	}
}

// rowOrder sorts rows by cmp.
type rowOrder[T any] struct {
	rows []T
	cmp  func(a, b *T) int
}

func (o rowOrder[T]) Len() int           { return len(o.rows) }
func (o rowOrder[T]) Less(i, j int) bool { return o.cmp(&o.rows[i], &o.rows[j]) < 0 }
func (o rowOrder[T]) Swap(i, j int)      { o.rows[i], o.rows[j] = o.rows[j], o.rows[i] }

// writeRun sorts the rows held in memory, writes them to a new run and lets them go.
func (s *sortedRuns[T]) writeRun() error {
	s.sort()
	sf, err := s.create()
	if err != nil {
		return err
	}
	for i := range s.mem {
		if err := sf.append(&s.mem[i]); err != nil {
			sf.close()
			return fmt.Errorf("write %s: %w", s.name, err)
		}
	}
	if _, err := sf.close(); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	s.runs = append(s.runs, sf.path)
	clear(s.mem)
	s.mem, s.bytes = s.mem[:0], 0
	return nil
}

// each calls fn for every row, in order; the row is valid during the call only. No add may
// come after it.
func (s *sortedRuns[T]) each(fn func(*T) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sort()
	// Merge runs into longer ones until they fit one merge with the rows held in memory.
	for len(s.runs) >= runMergeFanIn {
		sf, err := s.create()
		if err != nil {
			return err
		}
		in := s.runs[:runMergeFanIn]
		if err := s.merge(in, nil, sf.append); err != nil {
			sf.close()
			return err
		}
		if _, err := sf.close(); err != nil {
			return fmt.Errorf("merge %s: %w", s.name, err)
		}
		for _, p := range in {
			os.Remove(p)
		}
		s.runs = append(s.runs[runMergeFanIn:], sf.path)
	}
	return s.merge(s.runs, s.mem, fn)
}

// merge calls fn for every row of the run files at paths and of mem (sorted), in order.
func (s *sortedRuns[T]) merge(paths []string, mem []T, fn func(*T) error) error {
	h := runHeap[T]{cmp: s.cmp}
	defer func() {
		for _, src := range h.all {
			if src.r != nil {
				src.r.Close()
			}
		}
	}()
	for _, p := range paths {
		r, err := schemas.Open(p, s.spec, schemas.WithReaderAllocator(s.alloc), schemas.WithReadBatchRows(runReadRows))
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		h.all = append(h.all, &runSource[T]{r: r})
	}
	if len(mem) > 0 {
		h.all = append(h.all, &runSource[T]{mem: mem})
	}
	for _, src := range h.all {
		ok, err := src.next()
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
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
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// runSource is one sorted input of a merge: a run file, or the rows held in memory.
type runSource[T any] struct {
	r   *schemas.Reader[T]
	mem []T
	cur T
}

// next moves to the source's next row and reports whether there is one.
func (src *runSource[T]) next() (bool, error) {
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
	return false, src.r.Err()
}

// runHeap orders the live sources of a merge by their current row.
type runHeap[T any] struct {
	cmp       func(a, b *T) int
	all, live []*runSource[T]
}

func (h *runHeap[T]) Len() int           { return len(h.live) }
func (h *runHeap[T]) Less(i, j int) bool { return h.cmp(&h.live[i].cur, &h.live[j].cur) < 0 }
func (h *runHeap[T]) Swap(i, j int)      { h.live[i], h.live[j] = h.live[j], h.live[i] }
func (h *runHeap[T]) Push(x any)         { h.live = append(h.live, x.(*runSource[T])) }
func (h *runHeap[T]) Pop() any {
	x := h.live[len(h.live)-1]
	h.live = h.live[:len(h.live)-1]
	return x
}
