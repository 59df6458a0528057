package verify

import (
	"context"
	"fmt"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Target is the B2B project verify reads back. Implementations must be safe for concurrent use.
type Target interface {
	// GetOrganization returns the organization answering to ref (its external id here), or nil
	// and no error when there is none.
	GetOrganization(ctx context.Context, ref string) (*stytch.Organization, error)
	// SearchMembers calls fn with every page of the non-deleted members of the given
	// organizations, pageSize at a time. fn must not keep the slice after it returns.
	SearchMembers(ctx context.Context, organizationIDs []string, pageSize int, fn func([]stytch.Member) error) error
}

// ClientTarget reads a B2B project through the stytch client. Search Members calls wait on their
// own limiter (Stytch limits search to 100 requests per minute, apart from the other endpoints);
// every request also waits on the client's shared limiter.
type ClientTarget struct {
	b2b      *stytch.B2BClient
	search   *rate.Limiter
	searches atomic.Int64
	gets     atomic.Int64
}

var _ Target = (*ClientTarget)(nil)

// NewClientTarget returns a Target over b2b, calling Search Members at most searchPerMinute
// times a minute.
func NewClientTarget(b2b *stytch.B2BClient, searchPerMinute float64) *ClientTarget {
	return &ClientTarget{b2b: b2b, search: rate.NewLimiter(rate.Limit(searchPerMinute/60), 1)}
}

// NewClient builds the B2B client verify uses for sc: the config's rate, retries and timeout.
// opts are passed on to stytch.NewB2BClient after verify's own (e.g. stytch.WithVersion).
func NewClient(sc stytch.Config, cfg Config, opts ...stytch.Option) (*stytch.B2BClient, error) {
	cfg = cfg.WithDefaults()
	all := append([]stytch.Option{
		stytch.WithRateLimit(cfg.Rate, max(1, int(cfg.Rate/10))),
		stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: cfg.MaxAttempts,
			BaseDelay: stytch.DefaultBaseDelay, MaxDelay: stytch.DefaultMaxDelay}),
		stytch.WithTimeout(cfg.RequestTimeout),
	}, opts...)
	return stytch.NewB2BClient(sc, all...)
}

// GetOrganization implements Target.
func (t *ClientTarget) GetOrganization(ctx context.Context, ref string) (*stytch.Organization, error) {
	t.gets.Add(1)
	resp, err := t.b2b.Organizations.Get(ctx, ref)
	if stytch.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get organization %q: %w", ref, err)
	}
	return &resp.Organization, nil
}

// SearchMembers implements Target.
func (t *ClientTarget) SearchMembers(ctx context.Context, organizationIDs []string, pageSize int, fn func([]stytch.Member) error) error {
	params := stytch.SearchMembersParams{OrganizationIDs: organizationIDs, Limit: uint32(pageSize)}
	for {
		if err := t.search.Wait(ctx); err != nil {
			return fmt.Errorf("search members: %w", err)
		}
		t.searches.Add(1)
		page, err := t.b2b.Members.Search(ctx, params)
		if err != nil {
			return fmt.Errorf("search members of %d organizations: %w", len(organizationIDs), err)
		}
		if err := fn(page.Members); err != nil {
			return err
		}
		if page.ResultsMetadata.NextCursor == "" {
			return nil
		}
		params.Cursor = page.ResultsMetadata.NextCursor
	}
}

// Requests returns the number of Search Members pages and Get Organization calls made.
func (t *ClientTarget) Requests() (searches, gets int64) { return t.searches.Load(), t.gets.Load() }
