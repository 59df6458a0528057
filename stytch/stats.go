package stytch

import (
	"sync/atomic"
	"time"
)

// EventKind says what an [Event] reports.
type EventKind int

const (
	// EventAttempt is one request put on the wire (first attempt or retry), after the limiter let
	// it out.
	EventAttempt EventKind = iota + 1
	// EventRateLimited is a 429 answer.
	EventRateLimited
	// EventRetry is a failed attempt about to be retried after Wait.
	EventRetry
)

// String returns the event kind's name.
func (k EventKind) String() string {
	switch k {
	case EventAttempt:
		return "attempt"
	case EventRateLimited:
		return "rate_limited"
	case EventRetry:
		return "retry"
	default:
		return "unknown"
	}
}

// Event describes one thing the transport did, for progress and logs.
type Event struct {
	Kind   EventKind
	Method string
	// Path is the request path without host or query.
	Path string
	// Attempt numbers the attempt (1 for the first).
	Attempt int
	// StatusCode is the answer's status, 0 for a transport error or an attempt not answered yet.
	StatusCode int
	// Err is the transport error of a retried attempt, if any.
	Err error
	// Wait is the delay before the retry (EventRetry only).
	Wait time.Duration
}

// Observer receives transport events. It is called synchronously on the request's goroutine and
// must be quick and safe for concurrent use.
type Observer func(Event)

// Stats is a snapshot of a client's counters.
type Stats struct {
	// Requests counts attempts put on the wire, retries included.
	Requests int64
	// Retries counts attempts made after a failed one.
	Retries int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// ServerErrors counts 5xx answers.
	ServerErrors int64
	// TransportErrors counts attempts that got no HTTP answer.
	TransportErrors int64
}

// counters are the live atomic counters behind [Stats], shared by a client's transport layers.
type counters struct {
	requests, retries, rateLimited, serverErrors, transportErrors atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Requests:        c.requests.Load(),
		Retries:         c.retries.Load(),
		RateLimited:     c.rateLimited.Load(),
		ServerErrors:    c.serverErrors.Load(),
		TransportErrors: c.transportErrors.Load(),
	}
}
