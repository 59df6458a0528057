package load

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Defaults of the HTTP transport under the client.
const (
	// latencySamples is how many recent attempt latencies are kept for the percentiles.
	latencySamples = 2048
	dialTimeout    = 10 * time.Second
	idleTimeout    = 90 * time.Second
)

// Client is the [Target] backed by Stytch's B2B REST API (or the stytchtest emulator) through the
// stytch package: every request and retry waits on the client's one shared adaptive rate
// limiter. It also measures each HTTP attempt's latency below the limiter (so waiting for a
// token never counts as latency), which sizes the stage's concurrency. It is safe for concurrent
// use.
type Client struct {
	b2b *stytch.B2BClient
	lat *latencyTracker
}

var (
	_ Target       = (*Client)(nil)
	_ Instrumented = (*Client)(nil)
)

// NewClient builds the B2B client for sc with the rate, burst, retry and timeout settings of cfg
// (defaults applied). opts are passed on to stytch.NewB2BClient after the stage's own (e.g.
// stytch.WithVersion, stytch.WithLogger, stytch.WithObserver).
func NewClient(sc stytch.Config, cfg Config, opts ...stytch.Option) (*Client, error) {
	cfg = cfg.WithDefaults()
	lat := &latencyTracker{}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2 * max(cfg.MaxConcurrency, cfg.Concurrency, 128),
		MaxIdleConnsPerHost:   max(cfg.MaxConcurrency, cfg.Concurrency, 128),
		IdleConnTimeout:       idleTimeout,
		TLSHandshakeTimeout:   dialTimeout,
		ExpectContinueTimeout: time.Second,
	}
	all := append([]stytch.Option{
		stytch.WithRateLimit(cfg.Rate, cfg.Burst),
		stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: cfg.MaxAttempts,
			BaseDelay: stytch.DefaultBaseDelay, MaxDelay: stytch.DefaultMaxDelay}),
		stytch.WithTimeout(cfg.RequestTimeout),
		stytch.WithTransport(&timingTransport{next: base, lat: lat}),
	}, opts...)
	b2b, err := stytch.NewB2BClient(sc, all...)
	if err != nil {
		return nil, err
	}
	return &Client{b2b: b2b, lat: lat}, nil
}

// B2B returns the underlying stytch client.
func (c *Client) B2B() *stytch.B2BClient { return c.b2b }

// Stats returns the client's transport counters.
func (c *Client) Stats() TargetStats {
	s := c.b2b.Stats()
	return TargetStats{Requests: s.Requests, Retries: s.Retries, RateLimited: s.RateLimited,
		ServerErrors: s.ServerErrors, TransportErrors: s.TransportErrors}
}

// Latency returns the recent p50 and p99 of one HTTP attempt.
func (c *Client) Latency() (p50, p99 time.Duration, ok bool) { return c.lat.percentiles() }

// Rate returns the shared limiter's current rate.
func (c *Client) Rate() float64 { return c.b2b.Limiter().Rate() }

// attemptsKey carries a per-call attempt counter from the client's methods to timingTransport,
// which sits at the bottom of the stytch transport stack and sees every attempt.
type attemptsKey struct{}

// withAttempts returns a context that counts the attempts of one call into n.
func withAttempts(ctx context.Context, n *atomic.Int32) context.Context {
	return context.WithValue(ctx, attemptsKey{}, n)
}

// timingTransport measures each attempt from the moment the limiter let it out to the answer's
// headers, and counts the attempts of a call.
type timingTransport struct {
	next http.RoundTripper
	lat  *latencyTracker
}

// RoundTrip implements http.RoundTripper.
func (t *timingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if n, ok := req.Context().Value(attemptsKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.lat.add(time.Since(start))
	}
	return resp, err
}

// latencyTracker keeps the latest attempt latencies in a ring.
type latencyTracker struct {
	mu      sync.Mutex
	samples [latencySamples]time.Duration
	n       int
}

func (l *latencyTracker) add(d time.Duration) {
	l.mu.Lock()
	l.samples[l.n%latencySamples] = d
	l.n++
	l.mu.Unlock()
}

func (l *latencyTracker) percentiles() (p50, p99 time.Duration, ok bool) {
	l.mu.Lock()
	k := min(l.n, latencySamples)
	s := slices.Clone(l.samples[:k])
	l.mu.Unlock()
	if k == 0 {
		return 0, 0, false
	}
	slices.Sort(s)
	return s[k/2], s[min(k-1, k*99/100)], true
}

// rawJSON turns optional JSON text into a raw message ("" is none).
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func remoteOrg(o *stytch.Organization, requestID string, attempts int32) RemoteOrganization {
	return RemoteOrganization{ID: o.OrganizationID, ExternalID: o.OrganizationExternalID, Slug: o.OrganizationSlug,
		Name: o.OrganizationName, CreatedAt: o.CreatedAt, RequestID: requestID, Attempts: int(attempts)}
}

func remoteMember(m *stytch.Member, requestID string, attempts int32) RemoteMember {
	return RemoteMember{ID: m.MemberID, OrganizationID: m.OrganizationID, Email: m.EmailAddress,
		ExternalID: m.ExternalID, Status: m.Status, CreatedAt: m.CreatedAt, RequestID: requestID,
		Attempts: int(attempts)}
}

// GetOrganization implements Target.
func (c *Client) GetOrganization(ctx context.Context, ref string) (RemoteOrganization, error) {
	var n atomic.Int32
	resp, err := c.b2b.Organizations.Get(withAttempts(ctx, &n), ref)
	if err != nil {
		return RemoteOrganization{}, err
	}
	return remoteOrg(&resp.Organization, resp.RequestID, n.Load()), nil
}

// CreateOrganization implements Target.
func (c *Client) CreateOrganization(ctx context.Context, o *schemas.Organization) (RemoteOrganization, error) {
	var n atomic.Int32
	resp, err := c.b2b.Organizations.Create(withAttempts(ctx, &n), stytch.CreateOrganizationParams{
		OrganizationName:       o.Name,
		OrganizationSlug:       o.Slug,
		OrganizationExternalID: o.ExternalID,
		TrustedMetadata:        rawJSON(o.TrustedMetadata),
		EmailAllowedDomains:    o.EmailAllowedDomains,
		EmailJITProvisioning:   o.EmailJITProvisioning,
		EmailInvites:           o.EmailInvites,
		AuthMethods:            o.AuthMethods,
		AllowedAuthMethods:     o.AllowedAuthMethods,
		MFAPolicy:              o.MFAPolicy,
	})
	if err != nil {
		return RemoteOrganization{}, err
	}
	return remoteOrg(&resp.Organization, resp.RequestID, n.Load()), nil
}

// SetOrganizationExternalID implements Target.
func (c *Client) SetOrganizationExternalID(ctx context.Context, orgID, externalID string) (RemoteOrganization, error) {
	var n atomic.Int32
	resp, err := c.b2b.Organizations.Update(withAttempts(ctx, &n), stytch.UpdateOrganizationParams{
		OrganizationID: orgID, OrganizationExternalID: externalID})
	if err != nil {
		return RemoteOrganization{}, err
	}
	return remoteOrg(&resp.Organization, resp.RequestID, n.Load()), nil
}

// DeleteOrganization implements Target.
func (c *Client) DeleteOrganization(ctx context.Context, orgID string) error {
	_, err := c.b2b.Organizations.Delete(ctx, orgID)
	return err
}

// GetMemberByEmail implements Target.
func (c *Client) GetMemberByEmail(ctx context.Context, orgID, email string) (RemoteMember, error) {
	var n atomic.Int32
	resp, err := c.b2b.Members.Get(withAttempts(ctx, &n), stytch.GetMemberParams{OrganizationID: orgID, EmailAddress: email})
	if err != nil {
		return RemoteMember{}, err
	}
	return remoteMember(&resp.Member, resp.RequestID, n.Load()), nil
}

// GetMemberByExternalID implements Target.
func (c *Client) GetMemberByExternalID(ctx context.Context, orgID, externalID string) (RemoteMember, error) {
	var n atomic.Int32
	resp, err := c.b2b.Members.Get(withAttempts(ctx, &n), stytch.GetMemberParams{OrganizationID: orgID, MemberID: externalID})
	if err != nil {
		return RemoteMember{}, err
	}
	return remoteMember(&resp.Member, resp.RequestID, n.Load()), nil
}

// CreateMember implements Target.
func (c *Client) CreateMember(ctx context.Context, orgID string, m *schemas.Member) (RemoteMember, error) {
	var n atomic.Int32
	resp, err := c.b2b.Members.Create(withAttempts(ctx, &n), stytch.CreateMemberParams{
		OrganizationID:        orgID,
		EmailAddress:          m.EmailAddress,
		Name:                  m.Name,
		TrustedMetadata:       rawJSON(m.TrustedMetadata),
		UntrustedMetadata:     rawJSON(m.UntrustedMetadata),
		CreateMemberAsPending: m.Status == stytch.MemberStatusPending,
		MFAPhoneNumber:        m.MFAPhoneNumber,
		ExternalID:            m.ExternalID,
	})
	if err != nil {
		return RemoteMember{}, err
	}
	rm := remoteMember(&resp.Member, resp.RequestID, n.Load())
	rm.Created = true
	return rm, nil
}

// MigratePassword implements Target. The hash travels as a stytch.Secret, which never prints.
func (c *Client) MigratePassword(ctx context.Context, orgID string, m *schemas.Member, p *schemas.MemberPassword) (RemoteMember, error) {
	params := stytch.MigratePasswordParams{
		EmailAddress:      m.EmailAddress,
		Hash:              stytch.NewSecret(p.Hash),
		HashType:          p.HashType,
		OrganizationID:    orgID,
		Name:              m.Name,
		TrustedMetadata:   rawJSON(m.TrustedMetadata),
		UntrustedMetadata: rawJSON(m.UntrustedMetadata),
		MFAPhoneNumber:    m.MFAPhoneNumber,
		ExternalID:        m.ExternalID,
	}
	switch p.HashType {
	case stytch.HashTypeMD5:
		if p.PrependSalt != "" || p.AppendSalt != "" {
			params.MD5Config = &stytch.MD5Config{PrependSalt: p.PrependSalt, AppendSalt: p.AppendSalt}
		}
	case stytch.HashTypeSHA1:
		if p.PrependSalt != "" || p.AppendSalt != "" {
			params.SHA1Config = &stytch.SHA1Config{PrependSalt: p.PrependSalt, AppendSalt: p.AppendSalt}
		}
	case stytch.HashTypeSHA512:
		if p.PrependSalt != "" || p.AppendSalt != "" {
			params.SHA512Config = &stytch.SHA512Config{PrependSalt: p.PrependSalt, AppendSalt: p.AppendSalt}
		}
	case stytch.HashTypeArgon2I, stytch.HashTypeArgon2ID:
		if p.Salt != "" {
			params.Argon2Config = &stytch.Argon2Config{Salt: p.Salt, IterationAmount: p.IterationAmount,
				Memory: p.Memory, Threads: p.Threads, KeyLength: p.KeyLength}
		}
	case stytch.HashTypeScrypt:
		if p.Salt != "" {
			params.ScryptConfig = &stytch.ScryptConfig{Salt: p.Salt, NParameter: p.NParameter,
				RParameter: p.RParameter, PParameter: p.PParameter, KeyLength: p.KeyLength}
		}
	case stytch.HashTypePBKDF2:
		params.PBKDF2Config = &stytch.PBKDF2Config{Salt: p.Salt, IterationAmount: p.IterationAmount,
			KeyLength: p.KeyLength, Algorithm: p.Algorithm}
	}
	var n atomic.Int32
	resp, err := c.b2b.Passwords.Migrate(withAttempts(ctx, &n), params)
	if err != nil {
		return RemoteMember{}, err
	}
	rm := remoteMember(&resp.Member, resp.RequestID, n.Load())
	rm.Created = resp.MemberCreated
	if rm.ID == "" {
		rm.ID = resp.MemberID
	}
	return rm, nil
}

// SetMemberExternalID implements Target.
func (c *Client) SetMemberExternalID(ctx context.Context, orgID, memberID, externalID string) (RemoteMember, error) {
	var n atomic.Int32
	resp, err := c.b2b.Members.Update(withAttempts(ctx, &n), stytch.UpdateMemberParams{
		OrganizationID: orgID, MemberID: memberID, ExternalID: externalID})
	if err != nil {
		return RemoteMember{}, err
	}
	return remoteMember(&resp.Member, resp.RequestID, n.Load()), nil
}

// DeleteMember implements Target.
func (c *Client) DeleteMember(ctx context.Context, orgID, memberID string) error {
	_, err := c.b2b.Members.Delete(ctx, orgID, memberID)
	return err
}
