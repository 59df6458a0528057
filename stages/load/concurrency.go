package load

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Concurrency sizing.
const (
	// latencyHeadroom multiplies rate × p50 latency: the in-flight requests needed to keep the
	// rate full, plus room for slower answers.
	latencyHeadroom = 1.5
	// initialLatencyGuess sizes the concurrency before any latency was observed.
	initialLatencyGuess = 100 * time.Millisecond
	// resizeInterval is how often the automatic concurrency is recomputed.
	resizeInterval = 500 * time.Millisecond
)

// sizeFor returns the concurrency that keeps rate requests per second in flight at latency p50,
// bounded by [lo, hi].
func sizeFor(rate float64, p50 time.Duration, lo, hi int) int {
	n := int(math.Ceil(rate * p50.Seconds() * latencyHeadroom))
	return min(max(n, lo), hi)
}

// gate bounds the requests in flight; its limit can change while workers run. It is a weighted
// semaphore of capacity hi of which the gate itself holds hi-limit.
type gate struct {
	sem   *semaphore.Weighted
	hi    int
	mu    sync.Mutex
	limit int
}

func newGate(limit, hi int) *gate {
	g := &gate{sem: semaphore.NewWeighted(int64(hi)), hi: hi, limit: hi}
	if limit < hi {
		_ = g.sem.Acquire(context.Background(), int64(hi-limit)) // free semaphore: never blocks
		g.limit = limit
	}
	return g
}

func (g *gate) acquire(ctx context.Context) error { return g.sem.Acquire(ctx, 1) }
func (g *gate) release()                          { g.sem.Release(1) }

// current returns the limit.
func (g *gate) current() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// setLimit changes the limit. Lowering it waits until enough requests finished; only one
// goroutine (the sizer) calls it.
func (g *gate) setLimit(ctx context.Context, n int) error {
	n = min(max(n, 1), g.hi)
	g.mu.Lock()
	cur := g.limit
	g.mu.Unlock()
	switch {
	case n > cur:
		g.sem.Release(int64(n - cur))
	case n < cur:
		if err := g.sem.Acquire(ctx, int64(cur-n)); err != nil {
			return err
		}
	default:
		return nil
	}
	g.mu.Lock()
	g.limit = n
	g.mu.Unlock()
	return nil
}

// runSizer adjusts g every resizeInterval to the target's observed latency and current rate,
// until ctx is done.
func runSizer(ctx context.Context, g *gate, inst Instrumented, lo, hi int) {
	t := time.NewTicker(resizeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p50, _, ok := inst.Latency()
		if !ok {
			continue
		}
		if err := g.setLimit(ctx, sizeFor(inst.Rate(), p50, lo, hi)); err != nil {
			return
		}
	}
}
