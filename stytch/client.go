package stytch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"time"
)

// Defaults of the client.
const (
	// DefaultVersion is the tool version put in the User-Agent when none is given.
	DefaultVersion = "dev"
	// maxResponseBytes bounds a success body (a search page of 1,000 users is a few MB).
	maxResponseBytes = 64 << 20
	// maxErrorBodyBytes bounds an error body.
	maxErrorBodyBytes = 64 << 10
)

// Client is the HTTP core shared by [ConsumerClient] and [B2BClient]: base URL, Basic auth,
// headers, JSON encoding, and the transport stack
//
//	retry → rate limit (adaptive, shared) → base http.Transport
//
// so every attempt, retries included, waits on the one [Limiter]. A Client is safe for concurrent
// use. Its String, GoString, Format and LogValue never reveal the secret.
type Client struct {
	kind      Kind
	projectID string
	baseURL   string
	auth      string // "Basic ..." header value; never printed
	userAgent string
	http      *http.Client
	limiter   *Limiter
	stats     *counters
	logger    *slog.Logger
}

// Option configures a client.
type Option func(*options)

type options struct {
	transport      http.RoundTripper
	attemptTimeout time.Duration
	rate           float64
	burst          int
	limiter        *Limiter
	retry          RetryPolicy
	observer       Observer
	version        string
	logger         *slog.Logger
}

func defaultOptions() options {
	return options{
		attemptTimeout: DefaultAttemptTimeout,
		rate:           DefaultRate,
		retry:          DefaultRetryPolicy(),
		version:        DefaultVersion,
	}
}

// WithRateLimit sets the rate ceiling (requests per second) and burst of the client's own
// limiter. Ignored when [WithLimiter] is given. The default is 65 r/s with a burst of a tenth of
// that.
func WithRateLimit(rps float64, burst int) Option {
	return func(o *options) { o.rate, o.burst = rps, burst }
}

// WithLimiter makes the client wait on a limiter shared with other clients (e.g. the Consumer
// and B2B clients of one run, or many workers).
func WithLimiter(l *Limiter) Option { return func(o *options) { o.limiter = l } }

// WithRetryPolicy replaces the retry policy. MaxAttempts 1 disables retries.
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithTimeout sets the per-attempt timeout (default 30 s). The caller's context bounds the whole
// call, retries included.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.attemptTimeout = d } }

// WithTransport replaces the base HTTP transport (the bottom of the stack).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithObserver registers a callback receiving every attempt, 429 and retry.
func WithObserver(fn Observer) Option { return func(o *options) { o.observer = fn } }

// WithVersion sets the version in the User-Agent "stytch-migrate/<version>".
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithLogger logs one debug line per call (method, path, status, attempts, request id; never a
// credential). The default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// newClient builds the core for cfg.
func newClient(cfg Config, kind Kind, opts []Option) (*Client, error) {
	if cfg.Kind != 0 && cfg.Kind != kind {
		return nil, fmt.Errorf("stytch: a %s config cannot build a %s client", cfg.Kind, kind)
	}
	cfg.Kind = kind
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := cfg.ResolveBaseURL()
	if err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.retry.MaxAttempts < 1 {
		o.retry.MaxAttempts = 1
	}
	limiter := o.limiter
	if limiter == nil {
		if !(o.rate > 0) {
			return nil, fmt.Errorf("stytch: rate limit must be positive, got %v", o.rate)
		}
		burst := o.burst
		if burst < 1 && !math.IsInf(o.rate, 1) {
			burst = int(math.Ceil(o.rate / 10))
		}
		limiter = NewLimiter(o.rate, burst)
	}
	rt := o.transport
	if rt == nil {
		rt = newBaseTransport()
	}
	stats := &counters{}
	rt = &limitTransport{next: rt, limiter: limiter, stats: stats, observe: o.observer}
	rt = &retryTransport{next: rt, policy: o.retry, attemptTimeout: o.attemptTimeout, stats: stats, observe: o.observer}
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		kind:      kind,
		projectID: cfg.ProjectID,
		baseURL:   base,
		auth:      "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.ProjectID+":"+cfg.Secret.Reveal())),
		userAgent: "stytch-migrate/" + o.version,
		http:      &http.Client{Transport: rt},
		limiter:   limiter,
		stats:     stats,
		logger:    logger,
	}, nil
}

// Limiter returns the rate limiter every request of this client waits on.
func (c *Client) Limiter() *Limiter { return c.limiter }

// Stats returns a snapshot of the client's transport counters.
func (c *Client) Stats() Stats { return c.stats.snapshot() }

// BaseURL returns the URL requests are sent to.
func (c *Client) BaseURL() string { return c.baseURL }

// String describes the client without its secret.
func (c *Client) String() string {
	if c == nil {
		return "stytch.Client(nil)"
	}
	return fmt.Sprintf("stytch.Client{Kind:%s ProjectID:%s Secret:%s BaseURL:%s}", c.kind, c.projectID, redacted, c.baseURL)
}

// GoString is the same as String.
func (c *Client) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints the redacted description.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", c.kind.String()), slog.String("project_id", c.projectID),
		slog.String("base_url", c.baseURL))
}

// call describes one API call for [Client.do].
type call struct {
	op     string // "create member": prefixes every error
	method string
	path   string // already escaped
	query  url.Values
	body   any // marshalled as JSON when non-nil
	write  bool
}

// decode sends cl and decodes its answer into a new T (see [Client.do]).
func decode[T any](ctx context.Context, c *Client, cl call) (*T, error) {
	var out T
	if err := c.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one call and decodes a 200/201 body into out. Any other status becomes an *Error; no
// answer becomes a *TransportError; both wrapped as "<op>: %w".
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body io.Reader = http.NoBody
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", cl.op, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.baseURL + cl.path
	if q := cl.query.Encode(); q != "" {
		u += "?" + q
	}
	st := &requestState{write: cl.write}
	req, err := http.NewRequestWithContext(withRequestState(ctx, st), cl.method, u, body)
	if err != nil {
		return fmt.Errorf("%s: %w", cl.op, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.logger.DebugContext(ctx, "stytch call failed", "op", cl.op, "method", cl.method, "path", cl.path,
			"attempts", st.attempts, "error", err)
		return fmt.Errorf("%s: %w", cl.op, &TransportError{Method: cl.method, Path: cl.path,
			Attempts: st.attempts, MaybeApplied: st.maybeApplied, Err: err})
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if err != nil {
			return fmt.Errorf("%s: %w", cl.op, &TransportError{Method: cl.method, Path: cl.path,
				Attempts: st.attempts, MaybeApplied: cl.write, Err: fmt.Errorf("read response: %w", err)})
		}
		c.logger.DebugContext(ctx, "stytch call", "op", cl.op, "method", cl.method, "path", cl.path,
			"status", resp.StatusCode, "attempts", st.attempts)
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: decode response: %w", cl.op, err)
		}
		return nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	apiErr := decodeError(resp.StatusCode, data)
	apiErr.Attempts = st.attempts
	apiErr.MaybeApplied = cl.write && st.maybeApplied
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		apiErr.RetryAfter = ra.Seconds()
	}
	c.logger.DebugContext(ctx, "stytch call error", "op", cl.op, "method", cl.method, "path", cl.path,
		"status", resp.StatusCode, "error_type", apiErr.ErrorType, "request_id", apiErr.RequestID,
		"attempts", st.attempts)
	return fmt.Errorf("%s: %w", cl.op, apiErr)
}

// ConsumerClient talks to a Stytch Consumer project (the migration's source).
type ConsumerClient struct {
	*Client
	// Users is the Consumer Users API.
	Users *Users
}

// NewConsumerClient returns a client for the Consumer project described by cfg.
func NewConsumerClient(cfg Config, opts ...Option) (*ConsumerClient, error) {
	c, err := newClient(cfg, KindConsumer, opts)
	if err != nil {
		return nil, err
	}
	return &ConsumerClient{Client: c, Users: &Users{c: c}}, nil
}

// B2BClient talks to a Stytch B2B project (the migration's target).
type B2BClient struct {
	*Client
	// Organizations is the B2B Organizations API.
	Organizations *Organizations
	// Members is the B2B Organization Members API (the SDK's Organizations.Members).
	Members *Members
	// Passwords is the B2B Passwords API (migrate only).
	Passwords *Passwords
}

// NewB2BClient returns a client for the B2B project described by cfg.
func NewB2BClient(cfg Config, opts ...Option) (*B2BClient, error) {
	c, err := newClient(cfg, KindB2B, opts)
	if err != nil {
		return nil, err
	}
	return &B2BClient{Client: c, Organizations: &Organizations{c: c}, Members: &Members{c: c},
		Passwords: &Passwords{c: c}}, nil
}

// pathEscape escapes one path segment (ids, slugs, external ids: "|" becomes "%7C").
func pathEscape(s string) string { return url.PathEscape(s) }
