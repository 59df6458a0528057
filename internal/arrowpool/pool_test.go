package arrowpool

import (
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestPoolReusesZeroedBuffers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	p := New(mem, DefaultLimit)
	defer p.Release()

	b := p.Allocate(5000)
	if len(b) != 5000 || cap(b) != 8192 {
		t.Fatalf("Allocate(5000): len %d cap %d, want 5000 and the 8 KiB class", len(b), cap(b))
	}
	for i := range b {
		b[i] = 0xff
	}
	p.Free(b)
	if p.Pooled() != 8192 {
		t.Fatalf("pooled %d after Free, want 8192", p.Pooled())
	}
	c := p.Allocate(6000)
	if &c[0] != &b[0] {
		t.Fatal("a buffer of the same class was not reused")
	}
	for i, v := range c[:cap(c)] {
		if v != 0 {
			t.Fatalf("reused buffer byte %d = %#x, want zero", i, v)
		}
	}
	// Growing past the class moves to the next class and keeps the contents.
	c[0], c[5999] = 1, 2
	d := p.Reallocate(9000, c)
	if cap(d) != 16384 || d[0] != 1 || d[5999] != 2 {
		t.Fatalf("Reallocate: cap %d, contents %d %d", cap(d), d[0], d[5999])
	}
	p.Free(d)
	// Small and huge buffers are not pooled; resizing them in place is the underlying
	// allocator's business (a checked allocator counts it).
	small, huge := p.Allocate(100), p.Allocate(MaxPooled+1)
	small = p.Reallocate(50, small)
	small = p.Reallocate(200, small)
	p.Free(small)
	p.Free(huge)
	if p.Pooled() != 8192+16384 {
		t.Fatalf("pooled %d, want only the two class buffers", p.Pooled())
	}
}

func TestPoolLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	p := New(mem, 3*MinPooled)
	var bufs [][]byte
	for range 5 {
		bufs = append(bufs, p.Allocate(MinPooled))
	}
	for _, b := range bufs {
		p.Free(b)
	}
	if p.Pooled() != 3*MinPooled {
		t.Fatalf("pooled %d, want the limit %d", p.Pooled(), 3*MinPooled)
	}
	if mem.CurrentAlloc() != 3*MinPooled {
		t.Fatalf("underlying allocator holds %d, want only the pooled buffers", mem.CurrentAlloc())
	}
	p.Release()
}

// TestPoolUnderArrow builds and releases many arrays concurrently through the pool: every value
// read back is the one written, and nothing leaks.
func TestPoolUnderArrow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	p := New(mem, DefaultLimit)
	defer p.Release()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 50 {
				b := array.NewStringBuilder(p)
				n := 1000 + round*37
				for i := range n {
					if i%11 == 0 {
						b.AppendNull()
						continue
					}
					b.Append(value(g, round, i))
				}
				arr := b.NewStringArray()
				b.Release()
				for i := range n {
					if i%11 == 0 {
						if !arr.IsNull(i) {
							t.Errorf("row %d: want null", i)
						}
					} else if arr.IsNull(i) || arr.Value(i) != value(g, round, i) {
						t.Errorf("row %d: got %q, want %q", i, arr.Value(i), value(g, round, i))
					}
				}
				arr.Release()
			}
		}()
	}
	wg.Wait()
	if p.Pooled() == 0 {
		t.Fatal("nothing was pooled")
	}
}

func value(g, round, i int) string {
	return string(rune('a'+g)) + string(rune('a'+round%26)) + string(make([]byte, i%40))
}
