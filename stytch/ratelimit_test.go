package stytch

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"
)

// saturate feeds accepted answers at the aimd's own rate for d of fake time, as a client that
// always has work would, and returns the fake clock after it.
func saturate(a *aimd, now time.Time, d time.Duration) time.Time {
	end := now.Add(d)
	for now.Before(end) {
		step := time.Duration(float64(time.Second) / a.rate)
		now = now.Add(step)
		a.onAccepted(now.Add(-time.Millisecond), now)
	}
	return now
}

func TestAIMDDecreasesOn429AndRecovers(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := newAIMD(200, 1)
	if a.rate != 200 {
		t.Fatalf("starts at %v, want the ceiling", a.rate)
	}
	// 50 requests accepted in the first quarter second, then a 429: the server's window is full.
	now := t0
	for i := range 50 {
		now = t0.Add(time.Duration(i) * 5 * time.Millisecond)
		a.onAccepted(now, now)
	}
	if a.rate != 200 {
		t.Fatalf("accepted answers without a known limit changed the rate to %v", a.rate)
	}
	now = t0.Add(251 * time.Millisecond)
	a.onRateLimited(now.Add(-time.Millisecond), now, 0)
	if want := 50 * decreaseFactor; math.Abs(a.rate-want) > 1e-9 || a.knownLimit != 50 {
		t.Fatalf("after 429: rate %v known %v, want %v and 50", a.rate, a.knownLimit, want)
	}
	if !a.episode || a.pauseUntil.Sub(now) != initialProbeDelay {
		t.Fatalf("no pause: episode %v pause %v", a.episode, a.pauseUntil.Sub(now))
	}
	decreasedAt, rate := now, a.rate

	// A 429 for a request sent before the decrease is stale: no further reaction.
	a.onRateLimited(decreasedAt.Add(-10*time.Millisecond), now.Add(time.Millisecond), 0)
	if a.rate != rate || a.pauseUntil.Sub(now) != initialProbeDelay {
		t.Fatalf("stale 429 changed state: rate %v", a.rate)
	}
	// The probe after the pause is refused: the pause grows, the rate holds (episode < 1 s).
	now = a.pauseUntil
	a.onRateLimited(now, now.Add(time.Millisecond), 0)
	if a.rate != rate || a.probeDelay <= initialProbeDelay {
		t.Fatalf("probe 429: rate %v delay %v", a.rate, a.probeDelay)
	}
	// A Retry-After longer than the probe delay wins.
	now = a.pauseUntil
	a.onRateLimited(now, now, 900*time.Millisecond)
	if got := a.pauseUntil.Sub(now); got != 900*time.Millisecond {
		t.Fatalf("Retry-After not honoured: pause %v", got)
	}
	// The next probe is accepted: the episode ends.
	now = a.pauseUntil
	a.onAccepted(now, now.Add(time.Millisecond))
	if a.episode || !a.pauseUntil.IsZero() {
		t.Fatal("episode did not end on an accepted probe")
	}

	// Recovery: fast up to the cautious fraction of the known limit within about a second, then
	// slowly.
	now = saturate(&a, now, time.Second)
	if a.rate < cautiousFraction*50-0.01 {
		t.Fatalf("after 1 s of recovery rate is %v, want ≥ %v", a.rate, cautiousFraction*50)
	}
	r1 := a.rate
	now = saturate(&a, now, 10*time.Second)
	if a.rate <= r1 || a.rate > 50*1.05 {
		t.Fatalf("slow probing: %v → %v, want a small rise", r1, a.rate)
	}
	// Without further 429s it eventually returns to the ceiling, never above.
	now = saturate(&a, now, 30*time.Minute)
	if a.rate != 200 {
		t.Fatalf("did not recover to the ceiling: %v", a.rate)
	}

	// A long episode (a per-minute limit): every second of refusals lowers the rate further,
	// never below the floor.
	a.onRateLimited(now, now, 0)
	for i := range 200 {
		now = now.Add(500 * time.Millisecond)
		a.onRateLimited(now, now, 0)
		if a.rate < a.floor {
			t.Fatalf("rate %v below floor at %d", a.rate, i)
		}
	}
	if a.rate != a.floor {
		t.Fatalf("long episode: rate %v, want the floor %v", a.rate, a.floor)
	}
}

func TestSlidingCounter(t *testing.T) {
	s := newSlidingCounter(time.Second, 100)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		s.add(t0.Add(time.Duration(i) * 50 * time.Millisecond)) // 0 .. 1.45 s
	}
	if got := s.count(t0.Add(1450 * time.Millisecond)); got != 20 {
		t.Fatalf("count = %d, want the 20 events of the last second", got)
	}
	if got := s.count(t0.Add(10 * time.Second)); got != 0 {
		t.Fatalf("count after 10 s = %d", got)
	}
}

func TestLimiterPausesAndProbes(t *testing.T) {
	l := NewLimiter(math.Inf(1), 1)
	ctx := context.Background()
	tk, err := l.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.Done(tk, http.StatusTooManyRequests, 0)
	began := time.Now()
	probe, err := l.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < initialProbeDelay/2 || !probe.probe {
		t.Fatalf("waited %v, probe %v", waited, probe.probe)
	}
	// While the probe is out, nobody else goes.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(short); err == nil {
		t.Fatal("a second request went out during the probe")
	}
	l.Done(probe, http.StatusOK, 0)
	if _, err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{"0.25", 250 * time.Millisecond, true},
		{"Thu, 01 Jan 2026 00:00:03 GMT", 3 * time.Second, true},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0, true},
		{"99999", maxRetryAfter, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffFullJitter(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for n := 1; n <= 10; n++ {
		ceiling := min(time.Second, 100*time.Millisecond<<(n-1))
		for range 50 {
			if d := p.backoff(n); d < 0 || d > ceiling {
				t.Fatalf("retry %d: %v outside [0, %v]", n, d, ceiling)
			}
		}
	}
}

func TestUnlimitedLimiterWithDeadline(t *testing.T) {
	l := NewLimiter(math.Inf(1), 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 1000 {
		tk, err := l.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.Done(tk, http.StatusOK, 0)
	}
}
