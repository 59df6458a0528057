package stytchtest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Default credentials of the emulated projects. They are test credentials of a local emulator,
// not secrets.
const (
	DefaultConsumerProjectID = "project-test-00000000-0000-4000-8000-00000000c0de"
	DefaultConsumerSecret    = "secret-test-consumer-emulator"
	DefaultB2BProjectID      = "project-test-00000000-0000-4000-8000-000000000b2b"
	DefaultB2BSecret         = "secret-test-b2b-emulator"
	// DefaultAddr is where [Server.Start] listens when given "".
	DefaultAddr = "127.0.0.1:0"
	// maxRequestBody bounds a request body.
	maxRequestBody = 1 << 20
)

// family is the project family a route belongs to.
type family int

const (
	familyConsumer family = iota + 1
	familyB2B
)

// Option configures a [Server].
type Option func(*config)

type config struct {
	consumerID, consumerSecret string
	b2bID, b2bSecret           string
	users                      []stytch.User
	rate                       int
	retryAfter                 bool
	reads, writes              Faults
	seed                       uint64
	totalsDisabled             bool
}

// WithConsumerProject sets the Consumer project's credentials.
func WithConsumerProject(projectID, secret string) Option {
	return func(c *config) { c.consumerID, c.consumerSecret = projectID, secret }
}

// WithB2BProject sets the B2B project's credentials.
func WithB2BProject(projectID, secret string) Option {
	return func(c *config) { c.b2bID, c.b2bSecret = projectID, secret }
}

// WithUsers seeds Consumer users (see [Server.AddUsers]); invalid seeds make NewServer panic, so
// use AddUsers to get the error instead.
func WithUsers(users ...stytch.User) Option {
	return func(c *config) { c.users = append(c.users, users...) }
}

// WithRateLimit limits each project to rps accepted requests per wall-clock second (fixed
// windows); further requests get 429 too_many_requests. 0 disables the limit.
func WithRateLimit(rps int) Option { return func(c *config) { c.rate = rps } }

// WithRetryAfter makes 429 answers carry a Retry-After header (seconds to the window's end).
// Stytch is not known to send one, so it is off by default.
func WithRetryAfter(on bool) Option { return func(c *config) { c.retryAfter = on } }

// WithFaults injects the same faults on every route.
func WithFaults(f Faults) Option { return func(c *config) { c.reads, c.writes = f, f } }

// WithReadFaults injects faults on read routes (GET and the search POSTs).
func WithReadFaults(f Faults) Option { return func(c *config) { c.reads = f } }

// WithWriteFaults injects faults on write routes (create, update, delete, migrate).
func WithWriteFaults(f Faults) Option { return func(c *config) { c.writes = f } }

// WithSeed seeds the RNG behind fault decisions and generated ids (default 1).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithSearchTotalsDisabled makes searches answer results_metadata.total = -1, as workspaces with
// totals disabled do.
func WithSearchTotalsDisabled() Option { return func(c *config) { c.totalsDisabled = true } }

// Server is an in-memory Stytch-compatible API: the Consumer Users and B2B Organizations,
// Members and Passwords Migrate endpoints the migration uses, with Stytch's semantics, error
// shapes and limits, plus deterministic fault injection. It is an http.Handler; [Server.Start]
// serves it on a real listener. A Server is safe for concurrent use.
type Server struct {
	// URL is the base URL ("http://127.0.0.1:port") once started.
	URL string

	cfg      config
	mux      *http.ServeMux
	routes   []*route
	faults   *injector
	windows  map[family]*windowLimiter
	consumer *consumerStore
	b2b      *b2bStore
	stats    serverCounters

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// route is one endpoint with its counter.
type route struct {
	pattern string
	family  family
	write   bool
	fn      handlerFunc
	count   atomic.Int64
}

// reqCtx carries per-request data to handlers.
type reqCtx struct {
	r      *http.Request
	id     string // request id
	body   []byte
	family family
}

// handlerFunc handles one authenticated request and returns status and body (a value with
// request_id and status_code filled by the handler, or an *apiErr).
type handlerFunc func(rc *reqCtx) (int, any)

// serverCounters are the live counters behind [Stats].
type serverCounters struct {
	requests, writesApplied, rateLimited, unauthorized atomic.Int64
	errors, ghosts, dropsBefore, dropsAfter            atomic.Int64
}

// NewServer returns an unstarted emulator. Serve it with [Server.Start], or mount it as an
// http.Handler (e.g. in httptest.NewServer).
func NewServer(opts ...Option) *Server {
	cfg := config{
		consumerID: DefaultConsumerProjectID, consumerSecret: DefaultConsumerSecret,
		b2bID: DefaultB2BProjectID, b2bSecret: DefaultB2BSecret,
		seed: 1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		faults:   newInjector(cfg.seed, cfg.reads, cfg.writes),
		consumer: newConsumerStore(),
		b2b:      newB2BStore(),
	}
	if cfg.rate > 0 {
		s.windows = map[family]*windowLimiter{
			familyConsumer: {limit: cfg.rate},
			familyB2B:      {limit: cfg.rate},
		}
	}
	s.register("POST /v1/users/search", familyConsumer, false, s.searchUsers)
	s.register("GET /v1/users/{user_id}", familyConsumer, false, s.getUser)
	s.register("POST /v1/b2b/organizations", familyB2B, true, s.createOrganization)
	s.register("POST /v1/b2b/organizations/search", familyB2B, false, s.searchOrganizations)
	s.register("GET /v1/b2b/organizations/{organization_id}", familyB2B, false, s.getOrganization)
	s.register("PUT /v1/b2b/organizations/{organization_id}", familyB2B, true, s.updateOrganization)
	s.register("DELETE /v1/b2b/organizations/{organization_id}", familyB2B, true, s.deleteOrganization)
	s.register("POST /v1/b2b/organizations/members/search", familyB2B, false, s.searchMembers)
	s.register("POST /v1/b2b/organizations/{organization_id}/members", familyB2B, true, s.createMember)
	s.register("GET /v1/b2b/organizations/{organization_id}/member", familyB2B, false, s.getMember)
	s.register("PUT /v1/b2b/organizations/{organization_id}/members/{member_id}", familyB2B, true, s.updateMember)
	s.register("DELETE /v1/b2b/organizations/{organization_id}/members/{member_id}", familyB2B, true, s.deleteMember)
	s.register("POST /v1/b2b/passwords/migrate", familyB2B, true, s.migratePassword)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, s.errorBody(familyB2B, s.requestID(),
			&apiErr{status: http.StatusNotFound, typ: "route_not_found", message: "No such route: " + r.Method + " " + r.URL.Path}))
	})
	if len(cfg.users) > 0 {
		if err := s.AddUsers(cfg.users...); err != nil {
			panic(err)
		}
	}
	return s
}

func (s *Server) register(pattern string, fam family, write bool, fn handlerFunc) {
	rt := &route{pattern: pattern, family: fam, write: write, fn: fn}
	s.routes = append(s.routes, rt)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(rt, w, r) })
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// serve runs one request through auth, latency, the rate limit and the fault injector.
func (s *Server) serve(rt *route, w http.ResponseWriter, r *http.Request) {
	rt.count.Add(1)
	s.stats.requests.Add(1)
	id := s.requestID()
	if e := s.authenticate(r, rt.family); e != nil {
		s.stats.unauthorized.Add(1)
		writeJSON(w, e.status, s.errorBody(rt.family, id, e))
		return
	}
	d := s.faults.draw(rt.write)
	sleepRequest(r, d.latency)
	if s.windows != nil {
		if ok, retry := s.windows[rt.family].allow(time.Now()); !ok {
			s.stats.rateLimited.Add(1)
			if s.cfg.retryAfter {
				w.Header().Set("Retry-After", itoa(retry))
			}
			writeJSON(w, http.StatusTooManyRequests, s.errorBody(rt.family, id, &apiErr{
				status: http.StatusTooManyRequests, typ: stytch.ErrorTypeTooManyRequests,
				message: "Too many requests have been made."}))
			return
		}
	}
	switch d.kind {
	case faultError500:
		s.stats.errors.Add(1)
		writeJSON(w, http.StatusInternalServerError, s.errorBody(rt.family, id, errInternal))
		return
	case faultError503:
		s.stats.errors.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, s.errorBody(rt.family, id, errUnavailable))
		return
	case faultDropBefore:
		s.stats.dropsBefore.Add(1)
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody))
		dropConnection(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, s.errorBody(rt.family, id, badRequest(ErrorTypeBadRequest, "Unreadable request body.")))
		return
	}
	status, out := rt.fn(&reqCtx{r: r, id: id, body: body, family: rt.family})
	if e, ok := out.(*apiErr); ok {
		out = s.errorBody(rt.family, id, e)
	} else if rt.write {
		s.stats.writesApplied.Add(1)
	}
	switch d.kind {
	case faultGhost:
		s.stats.ghosts.Add(1)
		writeJSON(w, http.StatusInternalServerError, s.errorBody(rt.family, id, errInternal))
		return
	case faultDropAfter:
		s.stats.dropsAfter.Add(1)
		dropConnection(w)
		return
	}
	writeJSON(w, status, out)
}

var (
	errInternal = &apiErr{status: http.StatusInternalServerError, typ: stytch.ErrorTypeInternalServerError,
		message: "Oops, something seems to have gone wrong, please reach out to support@stytch.com to let us know what went wrong."}
	errUnavailable = &apiErr{status: http.StatusServiceUnavailable, typ: stytch.ErrorTypeServerUnavailable,
		message: "Oops, something seems to have gone wrong. Please retry the request. If this issue persists, please reach out to support."}
)

// authenticate checks Basic auth against both projects and the route's family.
func (s *Server) authenticate(r *http.Request, fam family) *apiErr {
	user, pass, ok := r.BasicAuth()
	unauthorized := &apiErr{status: http.StatusUnauthorized, typ: stytch.ErrorTypeUnauthorizedCredentials,
		message: "Unauthorized credentials."}
	if !ok {
		return unauthorized
	}
	var got family
	switch {
	case equal(user, s.cfg.b2bID) && equal(pass, s.cfg.b2bSecret):
		got = familyB2B
	case equal(user, s.cfg.consumerID) && equal(pass, s.cfg.consumerSecret):
		got = familyConsumer
	default:
		return unauthorized
	}
	switch {
	case got == familyConsumer && fam == familyB2B:
		// UNCONFIRMED status; third-party code observed this type with 400.
		return badRequest(stytch.ErrorTypeInvalidB2BEndpoint,
			"This endpoint is only available for B2B projects; these are Consumer project credentials.")
	case got == familyB2B && fam == familyConsumer:
		return badRequest(stytch.ErrorTypeInvalidConsumerEndpoint,
			"This endpoint is only available for Consumer projects; these are B2B project credentials.")
	}
	return nil
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// requestID returns a fresh "request-id-test-<uuid>".
func (s *Server) requestID() string { return "request-id-test-" + s.faults.uuid() }

// errorBody builds Stytch's error body.
func (s *Server) errorBody(fam family, id string, e *apiErr) *stytch.Error {
	docs := "https://stytch.com/docs/api-reference/b2b/api/errors/"
	if fam == familyConsumer {
		docs = "https://stytch.com/docs/api-reference/consumer/api/errors/"
	}
	return &stytch.Error{StatusCode: e.status, RequestID: id, ErrorType: e.typ, ErrorMessage: e.message,
		ErrorURL: docs + itoa(e.status) + "#" + e.typ}
}

// writeJSON writes v as the JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"status_code":500,"error_type":"internal_server_error","error_message":"encode"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decodeBody decodes a JSON request body into v; an empty body leaves v unchanged.
func decodeBody(rc *reqCtx, v any) *apiErr {
	if len(bytes.TrimSpace(rc.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(rc.body, v); err != nil {
		return badRequest(ErrorTypeBadRequest, "Request body is not valid JSON for this endpoint: "+firstLine(err.Error()))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Start listens on addr ("" for 127.0.0.1 on a free port) and serves in the background. URL is
// set when Start returns.
func (s *Server) Start(addr string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.ln, s.srv = ln, srv
	s.URL = "http://" + ln.Addr().String()
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Shutdown stops serving, letting in-flight requests finish until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops serving at once.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// ConsumerConfig returns a client config for the emulated Consumer project.
func (s *Server) ConsumerConfig() stytch.Config {
	return stytch.Config{Kind: stytch.KindConsumer, ProjectID: s.cfg.consumerID,
		Secret: stytch.NewSecret(s.cfg.consumerSecret), BaseURL: s.URL}
}

// B2BConfig returns a client config for the emulated B2B project.
func (s *Server) B2BConfig() stytch.Config {
	return stytch.Config{Kind: stytch.KindB2B, ProjectID: s.cfg.b2bID,
		Secret: stytch.NewSecret(s.cfg.b2bSecret), BaseURL: s.URL}
}

// Stats is a snapshot of the emulator's counters.
type Stats struct {
	// Requests counts requests per route, keyed "METHOD /path/{pattern}".
	Requests map[string]int64
	// TotalRequests counts every request that reached a route.
	TotalRequests int64
	// WritesApplied counts writes that changed state (including ghosts and drops after applying).
	WritesApplied int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// Unauthorized counts requests refused by authentication or project family.
	Unauthorized int64
	// Errors counts injected 500/503 answers; Ghosts injected ghost writes; DropsBefore and
	// DropsAfter injected dropped connections before and after applying.
	Errors, Ghosts, DropsBefore, DropsAfter int64
}

// Faults returns the number of injected faults (errors, ghosts and drops).
func (st Stats) Faults() int64 { return st.Errors + st.Ghosts + st.DropsBefore + st.DropsAfter }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:      make(map[string]int64, len(s.routes)),
		TotalRequests: s.stats.requests.Load(),
		WritesApplied: s.stats.writesApplied.Load(),
		RateLimited:   s.stats.rateLimited.Load(),
		Unauthorized:  s.stats.unauthorized.Load(),
		Errors:        s.stats.errors.Load(),
		Ghosts:        s.stats.ghosts.Load(),
		DropsBefore:   s.stats.dropsBefore.Load(),
		DropsAfter:    s.stats.dropsAfter.Load(),
	}
	for _, rt := range s.routes {
		st.Requests[rt.pattern] = rt.count.Load()
	}
	return st
}
