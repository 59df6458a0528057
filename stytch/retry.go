package stytch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of the retry policy.
const (
	// DefaultMaxAttempts is how many times a request is sent at most, the first time included.
	DefaultMaxAttempts = 8
	// DefaultBaseDelay is the backoff cap of the first retry; it doubles per retry.
	DefaultBaseDelay = 200 * time.Millisecond
	// DefaultMaxDelay caps the exponential backoff.
	DefaultMaxDelay = 20 * time.Second
	// DefaultAttemptTimeout bounds one attempt (connect, send, wait, read the answer).
	DefaultAttemptTimeout = 30 * time.Second
	// maxRetryAfter caps a server's Retry-After so a bogus header cannot stall a run for hours.
	maxRetryAfter = 5 * time.Minute
	// drainLimit bounds how much of a retried answer's body is read to reuse the connection.
	drainLimit = 64 << 10
)

// ErrAttemptTimeout marks an attempt that exceeded the per-attempt timeout (as opposed to the
// caller's context ending). It is retryable and may have been applied.
var ErrAttemptTimeout = errors.New("stytch: attempt timed out")

// RetryPolicy says how failed attempts are retried: 429, 408, 5xx and transport errors are
// retried up to MaxAttempts with capped exponential backoff and full jitter (a uniform random
// delay in [0, min(MaxDelay, BaseDelay·2^(retry-1))]); a Retry-After header, when present, is
// waited instead. Each retry also waits on the shared [Limiter].
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// DefaultRetryPolicy returns the default policy.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay}
}

// backoff returns the full-jitter delay before retry number n (1 for the first retry).
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := float64(p.BaseDelay) * math.Pow(2, float64(n-1))
	ceiling = math.Min(ceiling, float64(p.MaxDelay))
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Float64() * ceiling)
}

// requestState travels in a request's context from the client core to the transport layers,
// which record what happened to it.
type requestState struct {
	write        bool
	attempts     int
	maybeApplied bool
	sent         bool
}

type requestStateKey struct{}

func withRequestState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, requestStateKey{}, st)
}

func requestStateFrom(ctx context.Context) *requestState {
	if st, ok := ctx.Value(requestStateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// notSentError marks a failure before the request reached the network (limiter wait ended).
type notSentError struct{ err error }

// Error implements error.
func (e *notSentError) Error() string { return e.err.Error() }

// Unwrap returns the limiter's error.
func (e *notSentError) Unwrap() error { return e.err }

// retryTransport retries failed attempts. It sits outside the limit transport so that every
// retry waits on the limiter again.
type retryTransport struct {
	next           http.RoundTripper
	policy         RetryPolicy
	attemptTimeout time.Duration
	stats          *counters
	observe        Observer
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	st := requestStateFrom(ctx)
	for attempt := 1; ; attempt++ {
		areq, cancel, err := t.prepare(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.next.RoundTrip(areq)
		if err != nil {
			cancel()
			var ns *notSentError
			if errors.As(err, &ns) {
				return nil, err
			}
			st.attempts = attempt
			st.sent = true
			if st.write {
				st.maybeApplied = true
			}
			if ctx.Err() != nil {
				return nil, err
			}
			if areq.Context().Err() != nil {
				err = fmt.Errorf("%w: %w", ErrAttemptTimeout, err)
			}
			if attempt >= t.policy.MaxAttempts {
				return nil, err
			}
			wait := t.policy.backoff(attempt)
			t.retried(req, attempt, 0, err, wait)
			if err := sleepCtx(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		st.attempts = attempt
		st.sent = true
		if !retryableStatus(resp.StatusCode) {
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		if st.write && resp.StatusCode != http.StatusTooManyRequests {
			st.maybeApplied = true
		}
		if attempt >= t.policy.MaxAttempts {
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		wait := t.policy.backoff(attempt)
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			wait = ra
		}
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
		_ = resp.Body.Close()
		cancel()
		t.retried(req, attempt, resp.StatusCode, nil, wait)
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// prepare clones req for one attempt with a fresh body and the per-attempt timeout.
func (t *retryTransport) prepare(req *http.Request, attempt int) (*http.Request, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(req.Context())
	if t.attemptTimeout > 0 {
		ctx, cancel = context.WithTimeout(req.Context(), t.attemptTimeout)
	}
	areq := req.Clone(ctx)
	if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			cancel()
			return nil, nil, errors.New("stytch: cannot retry a request without GetBody")
		}
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("stytch: rewind request body: %w", err)
		}
		areq.Body = body
	}
	return areq, cancel, nil
}

func (t *retryTransport) retried(req *http.Request, attempt, status int, err error, wait time.Duration) {
	t.stats.retries.Add(1)
	if t.observe != nil {
		t.observe(Event{Kind: EventRetry, Method: req.Method, Path: req.URL.Path, Attempt: attempt,
			StatusCode: status, Err: err, Wait: wait})
	}
}

// cancelBody releases an attempt's context when the caller closes the answer's body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// Close closes the body and releases the attempt's context.
func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// parseRetryAfter reads a Retry-After header: delay seconds (integer or decimal) or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) {
			return 0, false
		}
		return min(time.Duration(secs*float64(time.Second)), maxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return min(d, maxRetryAfter), true
	}
	return 0, false
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
