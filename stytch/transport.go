package stytch

import (
	"net"
	"net/http"
	"time"
)

// Defaults of the base HTTP transport.
const (
	defaultDialTimeout         = 10 * time.Second
	defaultTLSHandshakeTimeout = 10 * time.Second
	defaultIdleConnTimeout     = 90 * time.Second
	defaultMaxIdleConnsPerHost = 128
)

// newBaseTransport returns the HTTP transport at the bottom of the stack: keep-alive connections
// sized for a few hundred concurrent workers.
func newBaseTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          defaultMaxIdleConnsPerHost * 2,
		MaxIdleConnsPerHost:   defaultMaxIdleConnsPerHost,
		IdleConnTimeout:       defaultIdleConnTimeout,
		TLSHandshakeTimeout:   defaultTLSHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// limitTransport waits on the shared [Limiter] before every attempt and reports each outcome back
// to it, so the limiter adapts to 429s. It also counts attempts and answers.
type limitTransport struct {
	next    http.RoundTripper
	limiter *Limiter
	stats   *counters
	observe Observer
}

// RoundTrip implements http.RoundTripper.
func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ticket, err := t.limiter.Wait(req.Context())
	if err != nil {
		return nil, &notSentError{err: err}
	}
	t.stats.requests.Add(1)
	st := requestStateFrom(req.Context())
	if t.observe != nil {
		t.observe(Event{Kind: EventAttempt, Method: req.Method, Path: req.URL.Path, Attempt: st.attempts + 1})
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.stats.transportErrors.Add(1)
		t.limiter.Done(ticket, 0, 0)
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		t.stats.rateLimited.Add(1)
		ra, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		t.limiter.Done(ticket, resp.StatusCode, ra)
		if t.observe != nil {
			t.observe(Event{Kind: EventRateLimited, Method: req.Method, Path: req.URL.Path,
				Attempt: st.attempts + 1, StatusCode: resp.StatusCode, Wait: ra})
		}
	case resp.StatusCode >= 500:
		t.stats.serverErrors.Add(1)
		t.limiter.Done(ticket, resp.StatusCode, 0)
	default:
		t.limiter.Done(ticket, resp.StatusCode, 0)
	}
	return resp, nil
}
