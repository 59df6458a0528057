package stytch

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the adaptive rate limiter.
const (
	// DefaultRate is Stytch's migration guidance: at most 65 requests per second.
	DefaultRate = 65.0
	// DefaultMinRate is the floor the limiter never goes below after 429s.
	DefaultMinRate = 1.0

	// decreaseFactor multiplies the accepted rate measured over the last second when a 429
	// starts a new episode: the new rate sits just under what the server accepted.
	decreaseFactor = 0.95
	// longEpisodeFactor further lowers the rate for every second a 429 episode lasts (limits
	// counted over longer windows than a second).
	longEpisodeFactor = 0.7
	// cautiousFraction of the known limit is where fast recovery stops and slow probing starts.
	cautiousFraction = 0.98
	// fastIncreaseFraction of the known limit is added per second of saturated traffic below the
	// cautious zone.
	fastIncreaseFraction = 0.25
	// slowIncreaseFraction of the known limit is added per second of saturated traffic in the
	// cautious zone and above: the limiter keeps probing, but slowly, so that a raised server limit
	// is found again while a fixed one costs a 429 only every few seconds.
	slowIncreaseFraction = 0.01
	// initialProbeDelay is the pause after the first 429 of an episode before one probe request is
	// let out; it grows by probeGrowth on every further 429, up to maxProbeDelay.
	initialProbeDelay = 50 * time.Millisecond
	probeGrowth       = 1.5
	maxProbeDelay     = 2 * time.Second
	// episodeCostRef is the 429 episode length at which slow probing runs at full speed; a longer
	// episode (a long Retry-After, a window that resets late) slows probing proportionally, down to
	// minProbeSpeed, because each probe above the limit then costs that much idle time.
	episodeCostRef = 100 * time.Millisecond
	minProbeSpeed  = 0.1
	// probeTimeout frees the probe slot if a probe never reports back.
	probeTimeout = 30 * time.Second
	// acceptedWindow is the span over which accepted answers are counted to estimate the server's
	// limit; acceptedBuckets is its resolution.
	acceptedWindow  = time.Second
	acceptedBuckets = 100
)

// Limiter is the one rate controller shared by every request and every retry of one or more
// clients. It is a token bucket (golang.org/x/time/rate) whose rate adapts to the server, AIMD
// style:
//
//   - On a 429 that starts a new episode, the rate drops to 95% of the answers the server
//     accepted over the last second (never above the current rate, never below the floor), that
//     figure is remembered as the known limit, and all requests pause; after the pause a single
//     probe is let out. Further 429s lengthen the pause (×1.5 up to 2 s, or Retry-After when
//     longer) and, every second the episode lasts, lower the rate further. 429s for requests sent
//     before the last decrease are ignored: the limiter has already reacted to them.
//   - Each accepted answer raises the rate additively, so that at full use it grows by 25% of the
//     known limit per second up to 98% of it, and by 1% of it per second beyond, up to the
//     configured ceiling. That slow probing is slowed further (down to a tenth) when the last 429
//     episode was long, e.g. a Retry-After of whole seconds, because each probe then costs that
//     much idle time.
//
// A client configured at 200 r/s against a server limiting at 50 r/s in fixed one-second windows
// therefore settles at 45–50 r/s and sees a 429 only every several seconds. Concurrency is not the
// limiter's business; [Limiter.Rate] tells the caller how fast it currently goes so it can size
// its workers. A Limiter is safe for concurrent use.
type Limiter struct {
	lim *rate.Limiter

	mu      sync.Mutex
	state   aimd
	burst   int
	changed chan struct{} // closed and replaced whenever pause or probe state changes
}

// NewLimiter returns a limiter allowing at most rps requests per second with the given burst.
// rps must be positive; rate.Inf disables limiting (but 429 pauses still apply). burst below 1 is
// taken as 1.
func NewLimiter(rps float64, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	floor := math.Min(DefaultMinRate, rps)
	l := &Limiter{
		lim:     rate.NewLimiter(toLimit(rps), burst),
		burst:   burst,
		changed: make(chan struct{}),
		state:   newAIMD(rps, floor),
	}
	return l
}

// Rate returns the current rate in requests per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.rate
}

// Ceiling returns the configured maximum rate.
func (l *Limiter) Ceiling() float64 { return l.state.ceiling }

// KnownLimit returns the server limit estimated at the last 429, or 0 when there was none.
func (l *Limiter) KnownLimit() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.knownLimit
}

// Ticket is handed out by [Limiter.Wait] and given back to [Limiter.Done] with the outcome, so the
// limiter can tell fresh 429s from stale ones.
type Ticket struct {
	sentAt time.Time
	probe  bool
}

// Wait blocks until a request may be sent: through a 429 pause, behind the single probe of an
// episode, and for a token of the bucket. It returns ctx's error if ctx is done first. Every Wait
// that succeeds must be followed by exactly one [Limiter.Done].
func (l *Limiter) Wait(ctx context.Context) (Ticket, error) {
	for {
		l.mu.Lock()
		now := time.Now()
		changed := l.changed
		var wait time.Duration
		probe := false
		switch {
		case now.Before(l.state.pauseUntil):
			wait = l.state.pauseUntil.Sub(now)
		case l.state.episode && l.state.probeInFlight && now.Sub(l.state.probeStarted) < probeTimeout:
			wait = -1 // until the probe reports back
		case l.state.episode:
			l.state.probeInFlight = true
			l.state.probeStarted = now
			probe = true
		}
		l.mu.Unlock()

		if wait != 0 {
			if err := sleepOrChange(ctx, wait, changed); err != nil {
				return Ticket{}, err
			}
			continue
		}
		if err := l.lim.Wait(ctx); err != nil {
			if probe {
				l.releaseProbe()
			}
			return Ticket{}, err
		}
		l.mu.Lock()
		held := time.Now().Before(l.state.pauseUntil) || l.state.episode
		l.mu.Unlock()
		if held && !probe {
			continue // an episode began while this request waited for its token
		}
		return Ticket{sentAt: time.Now(), probe: probe}, nil
	}
}

// Done reports the outcome of a request sent under t: the HTTP status (0 for a transport error)
// and the server's Retry-After, if any.
func (l *Limiter) Done(t Ticket, status int, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	before := l.state.rate
	switch {
	case status == http.StatusTooManyRequests:
		l.state.onRateLimited(t.sentAt, now, retryAfter)
	case status == 0:
		l.state.onNoAnswer(t.probe, now)
	default:
		l.state.onAccepted(t.sentAt, now)
	}
	if t.probe {
		l.state.probeInFlight = false
	}
	if after := l.state.rate; after != before {
		l.lim.SetLimitAt(now, toLimit(after))
		if !math.IsInf(l.state.ceiling, 1) {
			b := int(math.Ceil(float64(l.burst) * after / l.state.ceiling))
			l.lim.SetBurstAt(now, max(1, min(b, l.burst)))
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// releaseProbe frees the probe slot of a probe that was never sent.
func (l *Limiter) releaseProbe() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.probeInFlight = false
	close(l.changed)
	l.changed = make(chan struct{})
}

// toLimit converts a rate to x/time/rate's Limit; +Inf must become rate.Inf (MaxFloat64), which
// the package special-cases, because arithmetic on a real infinity yields NaN tokens.
func toLimit(rps float64) rate.Limit {
	if math.IsInf(rps, 1) || rps >= float64(rate.Inf) {
		return rate.Inf
	}
	return rate.Limit(rps)
}

// sleepOrChange waits for d (d < 0: indefinitely), a state change or ctx.
func sleepOrChange(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-timer:
	}
	return nil
}

// aimd is the limiter's decision logic, a pure state machine driven by explicit times so it can
// be tested with a fake clock.
type aimd struct {
	ceiling, floor float64
	rate           float64
	// knownLimit is the accepted-per-second estimate taken at the last decrease (0: none yet).
	knownLimit   float64
	lastDecrease time.Time

	episode       bool // a 429 episode is running: pause, then one probe at a time
	episodeStart  time.Time
	pauseUntil    time.Time
	probeDelay    time.Duration
	probeInFlight bool
	probeStarted  time.Time
	// lastEpisode is how long the last finished 429 episode lasted (pause and probes).
	lastEpisode time.Duration

	accepted slidingCounter
}

func newAIMD(ceiling, floor float64) aimd {
	return aimd{
		ceiling:  ceiling,
		floor:    floor,
		rate:     ceiling,
		accepted: newSlidingCounter(acceptedWindow, acceptedBuckets),
	}
}

// onAccepted handles any answer other than 429: the server counted it and let it through.
func (a *aimd) onAccepted(sentAt, now time.Time) {
	a.accepted.add(now)
	if a.episode && !sentAt.Before(a.episodeStart) {
		a.lastEpisode = now.Sub(a.episodeStart)
		a.episode = false
		a.probeDelay = 0
		a.pauseUntil = time.Time{}
	}
	if a.rate >= a.ceiling || math.IsInf(a.rate, 1) {
		return
	}
	speed := 1.0
	if a.lastEpisode > episodeCostRef {
		speed = max(minProbeSpeed, float64(episodeCostRef)/float64(a.lastEpisode))
	}
	perSecond := a.knownLimit * slowIncreaseFraction * speed
	if a.rate < a.knownLimit*cautiousFraction {
		perSecond = a.knownLimit * fastIncreaseFraction
	}
	perSecond = max(perSecond, 0.1*a.floor)
	// One answer per 1/rate seconds at full use, so the rate grows by perSecond per second.
	next := a.rate + perSecond/a.rate
	if a.rate < a.knownLimit*cautiousFraction && next > a.knownLimit*cautiousFraction {
		next = a.knownLimit * cautiousFraction
	}
	a.rate = min(a.ceiling, next)
}

// onRateLimited handles a 429 for a request sent at sentAt.
func (a *aimd) onRateLimited(sentAt, now time.Time, retryAfter time.Duration) {
	if sentAt.Before(a.lastDecrease) {
		return // sent before the last reaction: already accounted for
	}
	if a.episode {
		// A probe (or a request let out after the pause) was refused: the window has not reset.
		a.probeDelay = min(maxProbeDelay, time.Duration(float64(a.probeDelay)*probeGrowth))
		if now.Sub(a.lastDecrease) >= acceptedWindow {
			a.rate = max(a.floor, a.rate*longEpisodeFactor)
			a.lastDecrease = now
		}
		a.pauseUntil = now.Add(max(a.probeDelay, retryAfter))
		return
	}
	est := float64(a.accepted.count(now))
	next := math.Min(a.rate, est) * decreaseFactor
	if math.IsInf(next, 1) {
		next = est * decreaseFactor
	}
	a.rate = max(a.floor, next)
	if est >= a.floor {
		a.knownLimit = est
	} else if a.knownLimit == 0 {
		a.knownLimit = a.rate
	}
	a.lastDecrease = now
	a.episode = true
	a.episodeStart = now
	a.probeDelay = initialProbeDelay
	a.pauseUntil = now.Add(max(a.probeDelay, retryAfter))
}

// onNoAnswer handles a transport error: no information about the server's limit. A failed probe
// just lets the next one out after the current delay.
func (a *aimd) onNoAnswer(probe bool, now time.Time) {
	if probe && a.episode {
		a.pauseUntil = now.Add(a.probeDelay)
	}
}

// slidingCounter counts events over the last window in fixed buckets.
type slidingCounter struct {
	width  time.Duration
	counts []int
	stamps []int64 // bucket index (time / width) each slot currently holds
}

func newSlidingCounter(window time.Duration, buckets int) slidingCounter {
	return slidingCounter{
		width:  window / time.Duration(buckets),
		counts: make([]int, buckets),
		stamps: make([]int64, buckets),
	}
}

func (s *slidingCounter) add(now time.Time) {
	idx := now.UnixNano() / int64(s.width)
	slot := int(idx % int64(len(s.counts)))
	if s.stamps[slot] != idx {
		s.stamps[slot] = idx
		s.counts[slot] = 0
	}
	s.counts[slot]++
}

func (s *slidingCounter) count(now time.Time) int {
	idx := now.UnixNano() / int64(s.width)
	oldest := idx - int64(len(s.counts)) + 1
	n := 0
	for i, st := range s.stamps {
		if st >= oldest && st <= idx {
			n += s.counts[i]
		}
	}
	return n
}
