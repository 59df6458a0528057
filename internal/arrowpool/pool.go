package arrowpool

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Size classes: buffers from MinPooled to MaxPooled bytes are pooled, in powers of two; smaller
// and larger ones go straight to the underlying allocator.
const (
	MinPooled = 4 << 10
	MaxPooled = 16 << 20
	// DefaultLimit is the default bound on the bytes a Pool keeps.
	DefaultLimit = 32 << 20

	minShift = 12 // log2(MinPooled)
	maxShift = 24 // log2(MaxPooled)
)

// Pool is a memory.Allocator keeping freed buffers for reuse. It is safe for concurrent use.
type Pool struct {
	under memory.Allocator
	limit int64

	mu     sync.Mutex
	free   [maxShift - minShift + 1][][]byte
	pooled int64
}

var _ memory.Allocator = (*Pool)(nil)

// New returns a pool over under that keeps at most limit bytes of freed buffers.
func New(under memory.Allocator, limit int64) *Pool {
	return &Pool{under: under, limit: limit}
}

// class returns the size class of size, and whether size is pooled at all.
func class(size int) (int, bool) {
	if size < MinPooled || size > MaxPooled {
		return 0, false
	}
	return bits.Len(uint(size-1)) - minShift, true
}

// pooledCap reports whether a buffer of capacity c came from a size class, and which.
func pooledCap(c int) (int, bool) {
	if c < MinPooled || c > MaxPooled || c&(c-1) != 0 {
		return 0, false
	}
	return bits.Len(uint(c)) - 1 - minShift, true
}

// Allocate returns a zeroed buffer of size bytes.
func (p *Pool) Allocate(size int) []byte {
	c, ok := class(size)
	if !ok {
		return p.under.Allocate(size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c][n-1] = nil
		p.free[c] = p.free[c][:n-1]
		p.pooled -= int64(cap(b))
		p.mu.Unlock()
		clear(b)
		return b[:size]
	}
	p.mu.Unlock()
	return p.under.Allocate(1 << (c + minShift))[:size]
}

// Reallocate resizes b to size bytes, keeping its contents.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	_, fromPool := pooledCap(cap(b))
	if fromPool && cap(b) >= size {
		return b[:size]
	}
	if _, toPool := class(size); !fromPool && !toPool {
		// The underlying allocator's own buffer, staying outside the pool: it accounts for it.
		return p.under.Reallocate(size, b)
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes b back: into its size class while the pool has room, else to the underlying
// allocator.
func (p *Pool) Free(b []byte) {
	c, ok := pooledCap(cap(b))
	if !ok {
		p.under.Free(b)
		return
	}
	b = b[:cap(b)]
	p.mu.Lock()
	if p.pooled+int64(len(b)) > p.limit {
		p.mu.Unlock()
		p.under.Free(b)
		return
	}
	p.free[c] = append(p.free[c], b)
	p.pooled += int64(len(b))
	p.mu.Unlock()
}

// Release returns every kept buffer to the underlying allocator. The pool stays usable.
func (p *Pool) Release() {
	p.mu.Lock()
	var all [][]byte
	for c := range p.free {
		all = append(all, p.free[c]...)
		p.free[c] = nil
	}
	p.pooled = 0
	p.mu.Unlock()
	for _, b := range all {
		p.under.Free(b)
	}
}

// Pooled is the number of bytes the pool keeps now.
func (p *Pool) Pooled() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pooled
}
