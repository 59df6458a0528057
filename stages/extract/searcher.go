package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// DefaultPagesPerPart is how many API pages the stytch_api source writes into one part file
// before checkpointing the cursor.
const DefaultPagesPerPart = 1

// UserSearcher is the one Consumer API call the stytch_api source needs: one page of Search
// Users. Implementations must be safe to call again with the same request after a failure.
type UserSearcher interface {
	// SearchUsers returns one page. The request's Cursor is empty for the first page.
	SearchUsers(ctx context.Context, req SearchRequest) (*SearchPage, error)
}

// SearchRequest is one Search Users call.
type SearchRequest struct {
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string
	// Limit is the page size, 1–1000.
	Limit int
	// CreatedAfter, when not zero, keeps only users created strictly after it
	// (the created_at_greater_than filter).
	CreatedAfter time.Time
}

// SearchPage is one page of Search Users results.
type SearchPage struct {
	// Results are the User objects of the page, as raw JSON, in the API's order.
	Results []json.RawMessage
	// NextCursor is the cursor of the next page; empty on the last page.
	NextCursor string
	// Total is results_metadata.total: the number of matching users, or -1 when unknown.
	Total int64
}

// consumerSearcher adapts the stytch package's Consumer client to UserSearcher.
type consumerSearcher struct {
	users *stytch.Users
}

// NewSearcher returns a UserSearcher over a Stytch Consumer client. Pace it by building the
// client with stytch.WithRateLimit (see NewAPISearcher).
func NewSearcher(c *stytch.ConsumerClient) UserSearcher { return consumerSearcher{users: c.Users} }

// NewAPISearcher builds the Consumer client for cfg, paced at requestsPerMinute (0 means
// DefaultRequestsPerMinute) with no burst, and returns its UserSearcher. version goes into the
// User-Agent.
func NewAPISearcher(cfg stytch.Config, requestsPerMinute float64, version string, opts ...stytch.Option) (UserSearcher, error) {
	if requestsPerMinute <= 0 {
		requestsPerMinute = DefaultRequestsPerMinute
	}
	opts = append([]stytch.Option{stytch.WithRateLimit(requestsPerMinute/60, 1), stytch.WithVersion(version)}, opts...)
	c, err := stytch.NewConsumerClient(cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to the Consumer project: %w", err)
	}
	return NewSearcher(c), nil
}

// SearchUsers implements UserSearcher. The client decodes users into typed values (metadata stays
// raw JSON); they are encoded back to JSON so that API users go through the same checks as
// file records.
func (s consumerSearcher) SearchUsers(ctx context.Context, req SearchRequest) (*SearchPage, error) {
	params := stytch.SearchUsersParams{Cursor: req.Cursor, Limit: uint32(req.Limit)}
	if !req.CreatedAfter.IsZero() {
		params.Query = stytch.And(stytch.Filter(FilterCreatedAtGreaterThan, stytch.FormatTime(req.CreatedAfter)))
	}
	resp, err := s.users.Search(ctx, params)
	if err != nil {
		return nil, err
	}
	page := &SearchPage{NextCursor: resp.ResultsMetadata.NextCursor, Total: int64(resp.ResultsMetadata.Total),
		Results: make([]json.RawMessage, len(resp.Results))}
	for i := range resp.Results {
		if page.Results[i], err = json.Marshal(&resp.Results[i]); err != nil {
			return nil, fmt.Errorf("encode user %s: %w", resp.Results[i].UserID, err)
		}
	}
	return page, nil
}

// FilterCreatedAtGreaterThan is the Search Users filter of incremental mode.
const FilterCreatedAtGreaterThan = "created_at_greater_than"
