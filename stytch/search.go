package stytch

import (
	"context"
	"encoding/json"
	"time"
)

// Search limits shared by every search endpoint.
const (
	// DefaultSearchLimit is the page size Stytch uses when limit is omitted.
	DefaultSearchLimit = 100
	// MaxSearchLimit is the largest page size Stytch accepts.
	MaxSearchLimit = 1000
)

// Search query operators. OR is deprecated by Stytch; use AND.
const (
	OperatorAND = "AND"
	OperatorOR  = "OR"
)

// SearchQuery filters a search: every operand must hold (operator AND). A nil query returns
// everything.
type SearchQuery struct {
	Operator string          `json:"operator"`
	Operands []SearchOperand `json:"operands"`
}

// SearchOperand is one filter: its name (e.g. "created_at_greater_than", "member_emails") and its
// value, whose JSON type depends on the filter (string, bool, []string or an object).
type SearchOperand struct {
	FilterName  string `json:"filter_name"`
	FilterValue any    `json:"filter_value"`
}

// And returns a query requiring every operand.
func And(operands ...SearchOperand) *SearchQuery {
	return &SearchQuery{Operator: OperatorAND, Operands: operands}
}

// Filter returns an operand.
func Filter(name string, value any) SearchOperand {
	return SearchOperand{FilterName: name, FilterValue: value}
}

// CreatedAtBetween is the value of the Consumer "created_at_between" filter.
type CreatedAtBetween struct {
	GreaterThan string `json:"greater_than"`
	LessThan    string `json:"less_than"`
}

// FormatTime formats a time the way search filters expect it: RFC 3339 in UTC, whole seconds.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ResultsMetadata is the pagination block of a search answer.
type ResultsMetadata struct {
	// NextCursor is the cursor of the next page; "" (null on the wire) on the last page.
	NextCursor string `json:"next_cursor"`
	// Total counts all matches; -1 when the workspace disabled totals.
	Total int `json:"total"`
}

// MarshalJSON writes an empty NextCursor as null, as Stytch does.
func (m ResultsMetadata) MarshalJSON() ([]byte, error) {
	var cursor *string
	if m.NextCursor != "" {
		cursor = &m.NextCursor
	}
	return json.Marshal(struct {
		NextCursor *string `json:"next_cursor"`
		Total      int     `json:"total"`
	}{cursor, m.Total})
}

// searchPage is a search answer: it says where the next page starts.
type searchPage interface{ nextCursor() string }

func (r *SearchUsersResponse) nextCursor() string         { return r.ResultsMetadata.NextCursor }
func (r *SearchOrganizationsResponse) nextCursor() string { return r.ResultsMetadata.NextCursor }
func (r *SearchMembersResponse) nextCursor() string       { return r.ResultsMetadata.NextCursor }

// searchRequest is a pointer to search parameters that can start at a cursor.
type searchRequest[P any] interface {
	*P
	setCursor(cursor string)
}

func (p *SearchUsersParams) setCursor(cursor string)         { p.Cursor = cursor }
func (p *SearchOrganizationsParams) setCursor(cursor string) { p.Cursor = cursor }
func (p *SearchMembersParams) setCursor(cursor string)       { p.Cursor = cursor }

// searchAll walks every page of a search from params' cursor on, calling fn per page until
// next_cursor is null or empty, or fn returns an error.
func searchAll[P any, PP searchRequest[P], R searchPage](ctx context.Context, params P,
	search func(context.Context, P) (R, error), fn func(R) error) error {
	for {
		page, err := search(ctx, params)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		next := page.nextCursor()
		if next == "" {
			return nil
		}
		PP(&params).setCursor(next)
	}
}
