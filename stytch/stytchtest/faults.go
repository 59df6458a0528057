package stytchtest

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults configures the deterministic fault injection of one kind of route (reads or writes).
// Rates are probabilities in [0, 1] drawn per request from the server's seeded RNG; their sum
// should not exceed 1.
type Faults struct {
	// ErrorRate answers 500 internal_server_error or 503 server_unavailable (half each) without
	// applying anything.
	ErrorRate float64
	// GhostRate (writes only) applies the write, then answers 500 internal_server_error instead of
	// the real answer.
	GhostRate float64
	// DropRate closes the connection without any answer. For writes, half the drops happen before
	// the write is applied and half after.
	DropRate float64
	// Latency delays every answer; LatencyJitter adds a uniform ±jitter.
	Latency       time.Duration
	LatencyJitter time.Duration
}

// faultKind is what the injector decided for one request.
type faultKind int

const (
	faultNone faultKind = iota
	faultError500
	faultError503
	faultDropBefore
	faultGhost
	faultDropAfter
)

// decision is the injector's verdict for one request.
type decision struct {
	kind    faultKind
	latency time.Duration
}

// injector draws fault decisions and ids from one seeded RNG. Draws are deterministic for a
// given arrival order of requests.
type injector struct {
	mu     sync.Mutex
	rng    *rand.Rand
	reads  Faults
	writes Faults
}

func newInjector(seed uint64, reads, writes Faults) *injector {
	return &injector{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), reads: reads, writes: writes}
}

func (in *injector) draw(write bool) decision {
	f := in.reads
	if write {
		f = in.writes
	}
	if f == (Faults{}) {
		return decision{}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	var d decision
	if f.Latency > 0 || f.LatencyJitter > 0 {
		j := time.Duration(0)
		if f.LatencyJitter > 0 {
			j = time.Duration((in.rng.Float64()*2 - 1) * float64(f.LatencyJitter))
		}
		d.latency = max(0, f.Latency+j)
	}
	r := in.rng.Float64()
	switch {
	case r < f.ErrorRate:
		d.kind = faultError500
		if in.rng.IntN(2) == 1 {
			d.kind = faultError503
		}
	case r < f.ErrorRate+f.DropRate:
		d.kind = faultDropBefore
		if write && in.rng.IntN(2) == 1 {
			d.kind = faultDropAfter
		}
	case write && r < f.ErrorRate+f.DropRate+f.GhostRate:
		d.kind = faultGhost
	}
	return d
}

// uuid returns a random version-4 UUID string from the seeded RNG.
func (in *injector) uuid() string {
	in.mu.Lock()
	hi, lo := in.rng.Uint64(), in.rng.Uint64()
	in.mu.Unlock()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdigits[x>>4], hexdigits[x&0x0f])
	}
	return string(out)
}

// windowLimiter is a fixed-window rate limit: at most limit accepted requests per wall-clock
// second ("top of the second", like Stytch's fixed intervals). Refused requests do not count.
type windowLimiter struct {
	limit int
	mu    sync.Mutex
	sec   int64
	count int
}

// allow reports whether a request arriving at now fits in its window, and if not, the seconds
// until the window resets (for Retry-After).
func (w *windowLimiter) allow(now time.Time) (bool, int) {
	sec := now.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	if sec != w.sec {
		w.sec, w.count = sec, 0
	}
	if w.count < w.limit {
		w.count++
		return true, 0
	}
	return false, 1
}

// sleepRequest waits d or until the client goes away.
func sleepRequest(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// dropConnection closes the client's connection without writing an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func itoa(n int) string { return strconv.Itoa(n) }
