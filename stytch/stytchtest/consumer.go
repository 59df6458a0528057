package stytchtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// consumerStore holds the Consumer project's users, sorted by (created_at, user_id).
type consumerStore struct {
	mu    sync.RWMutex
	users []*stytch.User
	byID  map[string]*stytch.User
	byExt map[string]*stytch.User
}

func newConsumerStore() *consumerStore {
	return &consumerStore{byID: map[string]*stytch.User{}, byExt: map[string]*stytch.User{}}
}

func userKey(u *stytch.User) sortKey { return sortKey{at: u.CreatedAt, id: u.UserID} }

// AddUsers seeds Consumer users. A user without user_id gets a generated one, without created_at
// the current time; nil lists become empty and absent metadata {}. A user_id or external_id
// already present is an error, and then nothing is added.
func (s *Server) AddUsers(users ...stytch.User) error {
	prepared := make([]*stytch.User, 0, len(users))
	now := time.Now().UTC().Truncate(time.Second)
	for i := range users {
		u := cloneUser(users[i])
		if u.UserID == "" {
			u.UserID = "user-test-" + s.faults.uuid()
		}
		if u.CreatedAt.IsZero() {
			u.CreatedAt = now
		}
		if u.Status == "" {
			u.Status = "active"
		}
		normalizeUser(&u)
		prepared = append(prepared, &u)
	}
	c := s.consumer
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	seenExt := map[string]bool{}
	for _, u := range prepared {
		if c.byID[u.UserID] != nil || seen[u.UserID] {
			return fmt.Errorf("stytchtest: user %s already exists", u.UserID)
		}
		seen[u.UserID] = true
		if u.ExternalID != "" {
			if c.byExt[u.ExternalID] != nil || seenExt[u.ExternalID] {
				return fmt.Errorf("stytchtest: user external_id %q already exists", u.ExternalID)
			}
			seenExt[u.ExternalID] = true
		}
	}
	for _, u := range prepared {
		c.users = append(c.users, u)
		c.byID[u.UserID] = u
		if u.ExternalID != "" {
			c.byExt[u.ExternalID] = u
		}
	}
	slices.SortFunc(c.users, func(a, b *stytch.User) int {
		switch ka, kb := userKey(a), userKey(b); {
		case ka.less(kb):
			return -1
		case kb.less(ka):
			return 1
		}
		return 0
	})
	return nil
}

// LoadUsers seeds users from r: a JSON array of User objects (as the export utility writes it)
// or JSON Lines (one User per line).
func (s *Server) LoadUsers(r io.Reader) error {
	br := bufio.NewReader(r)
	first, err := peekNonSpace(br)
	if err != nil {
		if err == io.EOF {
			return nil
		}
		return fmt.Errorf("stytchtest: read users: %w", err)
	}
	var users []stytch.User
	if first == '[' {
		if err := json.NewDecoder(br).Decode(&users); err != nil {
			return fmt.Errorf("stytchtest: decode users array: %w", err)
		}
	} else {
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var u stytch.User
			if err := json.Unmarshal(b, &u); err != nil {
				return fmt.Errorf("stytchtest: decode users line %d: %w", line, err)
			}
			users = append(users, u)
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("stytchtest: read users: %w", err)
		}
	}
	return s.AddUsers(users...)
}

// LoadUsersFile seeds users from a JSON array or JSON Lines file.
func (s *Server) LoadUsersFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("stytchtest: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := s.LoadUsers(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == 0xEF || b == 0xBB || b == 0xBF {
			continue // whitespace or a UTF-8 BOM
		}
		return b, br.UnreadByte()
	}
}

// UserCount returns the number of Consumer users.
func (s *Server) UserCount() int {
	s.consumer.mu.RLock()
	defer s.consumer.mu.RUnlock()
	return len(s.consumer.users)
}

func (s *Server) searchUsers(rc *reqCtx) (int, any) {
	var req searchRequest
	if e := decodeBody(rc, &req); e != nil {
		return e.status, e
	}
	p, e := parsePage(&req)
	if e != nil {
		return e.status, e
	}
	var preds []func(*stytch.User) bool
	if req.Query != nil {
		for _, op := range req.Query.Operands {
			pred, e := userFilter(op)
			if e != nil {
				return e.status, e
			}
			preds = append(preds, pred)
		}
	}
	c := s.consumer
	c.mu.RLock()
	page, next, total := paginate(c.users, userKey, combine(preds, p.matchAll), p)
	results := make([]stytch.User, len(page))
	for i, u := range page {
		results[i] = *u
	}
	c.mu.RUnlock()
	if s.cfg.totalsDisabled {
		total = -1
	}
	return http.StatusOK, &stytch.SearchUsersResponse{RequestID: rc.id, StatusCode: http.StatusOK, Results: results,
		ResultsMetadata: stytch.ResultsMetadata{NextCursor: next, Total: total}}
}

// userFilter compiles one Search Users operand.
func userFilter(op searchOperand) (func(*stytch.User) bool, *apiErr) {
	switch op.FilterName {
	case "created_at_greater_than", "created_at_less_than":
		t, e := filterTime(op, op.FilterValue)
		if e != nil {
			return nil, e
		}
		if op.FilterName == "created_at_greater_than" {
			return func(u *stytch.User) bool { return u.CreatedAt.After(t) }, nil
		}
		return func(u *stytch.User) bool { return u.CreatedAt.Before(t) }, nil
	case "created_at_between":
		var v struct {
			GreaterThan json.RawMessage `json:"greater_than"`
			LessThan    json.RawMessage `json:"less_than"`
		}
		if err := json.Unmarshal(op.FilterValue, &v); err != nil {
			return nil, badRequest(errExpectedTime, "created_at_between expects {greater_than, less_than}.")
		}
		gt, e := filterTime(op, v.GreaterThan)
		if e != nil {
			return nil, e
		}
		lt, e := filterTime(op, v.LessThan)
		if e != nil {
			return nil, e
		}
		return func(u *stytch.User) bool { return u.CreatedAt.After(gt) && u.CreatedAt.Before(lt) }, nil
	case "status":
		v, e := filterString(op)
		if e != nil {
			return nil, e
		}
		return func(u *stytch.User) bool { return u.Status == v }, nil
	case "user_id":
		vs, e := filterStrings(op)
		if e != nil {
			return nil, e
		}
		set := stringSet(vs, false)
		return func(u *stytch.User) bool { return set[u.UserID] || u.ExternalID != "" && set[u.ExternalID] }, nil
	case "email_address":
		vs, e := filterStrings(op)
		if e != nil {
			return nil, e
		}
		set := stringSet(vs, true)
		return func(u *stytch.User) bool {
			for _, em := range u.Emails {
				if set[strings.ToLower(em.Email)] {
					return true
				}
			}
			return false
		}, nil
	case "email_address_fuzzy":
		v, e := filterFuzzy(op)
		if e != nil {
			return nil, e
		}
		return func(u *stytch.User) bool {
			for _, em := range u.Emails {
				if strings.Contains(strings.ToLower(em.Email), v) {
					return true
				}
			}
			return false
		}, nil
	case "full_name_fuzzy":
		v, e := filterFuzzy(op)
		if e != nil {
			return nil, e
		}
		return func(u *stytch.User) bool {
			if u.Name == nil {
				return false
			}
			full := strings.ToLower(strings.Join([]string{u.Name.FirstName, u.Name.MiddleName, u.Name.LastName}, " "))
			return strings.Contains(full, v)
		}, nil
	case "email_verified":
		v, e := filterBool(op)
		if e != nil {
			return nil, e
		}
		return func(u *stytch.User) bool {
			for _, em := range u.Emails {
				if em.Verified == v {
					return true
				}
			}
			return false
		}, nil
	case "phone_number":
		vs, e := filterStrings(op)
		if e != nil {
			return nil, e
		}
		set := stringSet(vs, false)
		return func(u *stytch.User) bool {
			for _, ph := range u.PhoneNumbers {
				if set[ph.PhoneNumber] {
					return true
				}
			}
			return false
		}, nil
	case "password_exists":
		v, e := filterBool(op)
		if e != nil {
			return nil, e
		}
		return func(u *stytch.User) bool { return (u.Password != nil) == v }, nil
	}
	return nil, badRequest("user_search_filter_name_not_recognized", "Filter name not recognized: "+op.FilterName+".")
}

func (s *Server) getUser(rc *reqCtx) (int, any) {
	id := rc.r.PathValue("user_id")
	c := s.consumer
	c.mu.RLock()
	u := c.byID[id]
	if u == nil {
		u = c.byExt[id]
	}
	var out stytch.GetUserResponse
	if u != nil {
		out = stytch.GetUserResponse{RequestID: rc.id, StatusCode: http.StatusOK, User: *u}
	}
	c.mu.RUnlock()
	if u == nil {
		return http.StatusNotFound, &apiErr{status: http.StatusNotFound, typ: stytch.ErrorTypeUserNotFound,
			message: "User could not be found."}
	}
	return http.StatusOK, &out
}

// normalizeUser gives a user the shape Stytch answers: empty lists, not null; {} metadata.
func normalizeUser(u *stytch.User) {
	u.Emails = nonNil(u.Emails)
	u.PhoneNumbers = nonNil(u.PhoneNumbers)
	u.WebAuthnRegistrations = nonNil(u.WebAuthnRegistrations)
	u.Providers = nonNil(u.Providers)
	u.TOTPs = nonNil(u.TOTPs)
	u.CryptoWallets = nonNil(u.CryptoWallets)
	u.BiometricRegistrations = nonNil(u.BiometricRegistrations)
	u.Roles = nonNil(u.Roles)
	if len(u.TrustedMetadata) == 0 || string(u.TrustedMetadata) == "null" {
		u.TrustedMetadata = json.RawMessage("{}")
	}
	if len(u.UntrustedMetadata) == 0 || string(u.UntrustedMetadata) == "null" {
		u.UntrustedMetadata = json.RawMessage("{}")
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// cloneUser deep-copies a user.
func cloneUser(u stytch.User) stytch.User {
	u.Emails = slices.Clone(u.Emails)
	u.PhoneNumbers = slices.Clone(u.PhoneNumbers)
	u.WebAuthnRegistrations = slices.Clone(u.WebAuthnRegistrations)
	u.Providers = slices.Clone(u.Providers)
	u.TOTPs = slices.Clone(u.TOTPs)
	u.CryptoWallets = slices.Clone(u.CryptoWallets)
	u.BiometricRegistrations = slices.Clone(u.BiometricRegistrations)
	u.Roles = slices.Clone(u.Roles)
	if u.Name != nil {
		n := *u.Name
		u.Name = &n
	}
	if u.Password != nil {
		p := *u.Password
		u.Password = &p
	}
	u.TrustedMetadata = bytes.Clone(u.TrustedMetadata)
	u.UntrustedMetadata = bytes.Clone(u.UntrustedMetadata)
	if u.LockCreatedAt != nil {
		t := *u.LockCreatedAt
		u.LockCreatedAt = &t
	}
	if u.LockExpiresAt != nil {
		t := *u.LockExpiresAt
		u.LockExpiresAt = &t
	}
	return u
}
