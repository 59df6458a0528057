package stytchtest

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Error types of the search endpoints (Stytch shares the user_search_* ones across searches).
const (
	errInvalidCursor   = "user_search_invalid_cursor"
	errInvalidLimit    = "user_search_invalid_limit"
	errInvalidOperator = "user_search_invalid_operator"
	errExpectedTime    = "user_search_expected_timestamp"
)

// sortKey orders search results: created_at, then id. Cursors name the last key returned, so a
// page boundary stays put while objects are added elsewhere.
type sortKey struct {
	at time.Time
	id string
}

func (k sortKey) less(o sortKey) bool {
	if !k.at.Equal(o.at) {
		return k.at.Before(o.at)
	}
	return k.id < o.id
}

func encodeCursor(k sortKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + strconv.FormatInt(k.at.UnixNano(), 10) + "|" + k.id))
}

func decodeCursor(s string) (sortKey, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return sortKey{}, false
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != "v1" || parts[2] == "" {
		return sortKey{}, false
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return sortKey{}, false
	}
	return sortKey{at: time.Unix(0, ns).UTC(), id: parts[2]}, true
}

// searchRequest is the common body of the three search endpoints.
type searchRequest struct {
	Cursor          string       `json:"cursor"`
	Limit           *int64       `json:"limit"`
	Query           *searchQuery `json:"query"`
	OrganizationIDs []string     `json:"organization_ids"`
}

type searchQuery struct {
	Operator string          `json:"operator"`
	Operands []searchOperand `json:"operands"`
}

type searchOperand struct {
	FilterName  string          `json:"filter_name"`
	FilterValue json.RawMessage `json:"filter_value"`
}

// page parameters after validation.
type pageParams struct {
	after    *sortKey
	limit    int
	matchAll bool // operator AND (true) or OR
}

func parsePage(req *searchRequest) (pageParams, *apiErr) {
	p := pageParams{limit: stytch.DefaultSearchLimit, matchAll: true}
	if req.Limit != nil {
		switch l := *req.Limit; {
		case l < 0 || l > stytch.MaxSearchLimit:
			return p, badRequest(errInvalidLimit, "limit must be between 1 and 1000.")
		case l > 0:
			p.limit = int(l)
		}
	}
	if req.Cursor != "" {
		k, ok := decodeCursor(req.Cursor)
		if !ok {
			return p, badRequest(errInvalidCursor, "The cursor is invalid.")
		}
		p.after = &k
	}
	if req.Query != nil && len(req.Query.Operands) > 0 {
		switch strings.ToUpper(req.Query.Operator) {
		case stytch.OperatorAND:
		case stytch.OperatorOR:
			p.matchAll = false
		default:
			return p, badRequest(errInvalidOperator, "operator must be AND or OR.")
		}
	}
	return p, nil
}

// paginate returns one page of items (sorted by key) that match, after the cursor, plus the next
// cursor ("" at the end) and the total number of matches.
func paginate[T any](items []T, key func(T) sortKey, match func(T) bool, p pageParams) (page []T, next string, total int) {
	start := 0
	if p.after != nil {
		after := *p.after
		start = sort.Search(len(items), func(i int) bool { return after.less(key(items[i])) })
	}
	more := false
	for i, it := range items {
		if !match(it) {
			continue
		}
		total++
		if i < start {
			continue
		}
		if len(page) < p.limit {
			page = append(page, it)
		} else {
			more = true
		}
	}
	if more && len(page) > 0 {
		next = encodeCursor(key(page[len(page)-1]))
	}
	return page, next, total
}

// combine joins predicates with AND or OR.
func combine[T any](preds []func(T) bool, all bool) func(T) bool {
	if len(preds) == 0 {
		return func(T) bool { return true }
	}
	return func(v T) bool {
		for _, p := range preds {
			if p(v) != all {
				return !all
			}
		}
		return all
	}
}

// value decoders for filter values.

func filterStrings(op searchOperand) ([]string, *apiErr) {
	var v []string
	if err := json.Unmarshal(op.FilterValue, &v); err != nil {
		return nil, badRequest("search_expected_array_of_strings", op.FilterName+" expects an array of strings.")
	}
	return v, nil
}

func filterString(op searchOperand) (string, *apiErr) {
	var v string
	if err := json.Unmarshal(op.FilterValue, &v); err != nil {
		return "", badRequest("search_expected_string", op.FilterName+" expects a string.")
	}
	return v, nil
}

func filterFuzzy(op searchOperand) (string, *apiErr) {
	v, e := filterString(op)
	if e != nil {
		return "", e
	}
	if len(v) < 3 {
		return "", badRequest("search_fuzzy_too_short", op.FilterName+" needs at least 3 characters.")
	}
	return strings.ToLower(v), nil
}

func filterBool(op searchOperand) (bool, *apiErr) {
	var v bool
	if err := json.Unmarshal(op.FilterValue, &v); err != nil {
		return false, badRequest("search_expected_boolean", op.FilterName+" expects a boolean.")
	}
	return v, nil
}

func filterTime(op searchOperand, raw json.RawMessage) (time.Time, *apiErr) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, badRequest(errExpectedTime, op.FilterName+" expects an RFC 3339 timestamp.")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badRequest(errExpectedTime, op.FilterName+" expects an RFC 3339 timestamp.")
	}
	return t, nil
}

func stringSet(vs []string, fold bool) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		if fold {
			v = strings.ToLower(v)
		}
		m[v] = true
	}
	return m
}
