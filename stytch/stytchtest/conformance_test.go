package stytchtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// start serves a fresh emulator on loopback for one test.
func start(t testing.TB, opts ...stytchtest.Option) *stytchtest.Server {
	t.Helper()
	srv := stytchtest.NewServer(opts...)
	if err := srv.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// fast are client options for tests: no rate limit to speak of, quick retries.
func fast(extra ...stytch.Option) []stytch.Option {
	return append([]stytch.Option{
		stytch.WithRateLimit(math.Inf(1), 0),
		stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
	}, extra...)
}

func newB2B(t testing.TB, cfg stytch.Config, opts ...stytch.Option) *stytch.B2BClient {
	t.Helper()
	c, err := stytch.NewB2BClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newConsumer(t testing.TB, cfg stytch.Config, opts ...stytch.Option) *stytch.ConsumerClient {
	t.Helper()
	c, err := stytch.NewConsumerClient(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantType asserts err is a Stytch error of the given type.
func wantType(t *testing.T, err error, errorType string) *stytch.Error {
	t.Helper()
	e, ok := stytch.AsError(err)
	if !ok {
		t.Fatalf("err = %v, want %s", err, errorType)
	}
	if e.ErrorType != errorType {
		t.Fatalf("error_type = %s (%v), want %s", e.ErrorType, err, errorType)
	}
	if e.RequestID == "" || !strings.HasPrefix(e.RequestID, "request-id-test-") || e.ErrorURL == "" || e.ErrorMessage == "" {
		t.Errorf("error body not Stytch-shaped: %+v", e)
	}
	return e
}

func seedUsers(n int) []stytch.User {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	users := make([]stytch.User, n)
	for i := range users {
		status := "active"
		if i%10 == 0 {
			status = "pending"
		}
		users[i] = stytch.User{
			UserID: fmt.Sprintf("user-test-00000000-0000-4000-8000-%012d", i),
			// Several users share a second, so the (created_at, user_id) order is exercised.
			CreatedAt:  base.Add(time.Duration(i/3) * time.Minute),
			Status:     status,
			Emails:     []stytch.UserEmail{{EmailID: fmt.Sprintf("email-test-%d", i), Email: fmt.Sprintf("User%d@Example.com", i), Verified: i%2 == 0}},
			Name:       &stytch.UserName{FirstName: "First", LastName: fmt.Sprintf("Last%d", i)},
			ExternalID: fmt.Sprintf("ext-%d", i),
		}
	}
	return users
}

func TestConsumerUsers(t *testing.T) {
	ctx := context.Background()
	srv := start(t)
	if err := srv.AddUsers(seedUsers(2500)...); err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, srv.ConsumerConfig(), fast()...)

	t.Run("pagination to the end", func(t *testing.T) {
		seen := map[string]int{}
		pages := 0
		var last time.Time
		err := c.Users.SearchAll(ctx, stytch.SearchUsersParams{Limit: stytch.MaxSearchLimit}, func(p *stytch.SearchUsersResponse) error {
			pages++
			if p.ResultsMetadata.Total != 2500 || p.RequestID == "" || p.StatusCode != 200 {
				t.Errorf("page %d metadata %+v", pages, p.ResultsMetadata)
			}
			for _, u := range p.Results {
				seen[u.UserID]++
				if u.CreatedAt.Before(last) {
					t.Errorf("order broken at %s", u.UserID)
				}
				last = u.CreatedAt
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if pages != 3 || len(seen) != 2500 {
			t.Fatalf("pages %d, users %d", pages, len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s seen %d times", id, n)
			}
		}
	})
	t.Run("default limit 100", func(t *testing.T) {
		p, err := c.Users.Search(ctx, stytch.SearchUsersParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Results) != stytch.DefaultSearchLimit || p.ResultsMetadata.NextCursor == "" {
			t.Fatalf("got %d, cursor %q", len(p.Results), p.ResultsMetadata.NextCursor)
		}
	})
	t.Run("filters", func(t *testing.T) {
		count := func(q *stytch.SearchQuery) int {
			t.Helper()
			n := 0
			err := c.Users.SearchAll(ctx, stytch.SearchUsersParams{Limit: 1000, Query: q}, func(p *stytch.SearchUsersResponse) error {
				n += len(p.Results)
				if p.ResultsMetadata.Total != -1 && n > p.ResultsMetadata.Total {
					t.Errorf("more results than total")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		cut := time.Date(2024, 1, 1, 0, 100, 0, 0, time.UTC) // users 300.. are after minute 100 → i/3 > 100
		if got := count(stytch.And(stytch.Filter("created_at_greater_than", stytch.FormatTime(cut)))); got != 2500-303 {
			t.Errorf("created_at_greater_than: %d", got)
		}
		if got := count(stytch.And(stytch.Filter("created_at_less_than", stytch.FormatTime(cut)))); got != 300 {
			t.Errorf("created_at_less_than: %d", got)
		}
		between := stytch.CreatedAtBetween{GreaterThan: "2024-01-01T00:09:30Z", LessThan: "2024-01-01T00:20:30Z"}
		if got := count(stytch.And(stytch.Filter("created_at_between", between))); got != 33 {
			t.Errorf("created_at_between: %d", got)
		}
		if got := count(stytch.And(stytch.Filter("status", "pending"))); got != 250 {
			t.Errorf("status: %d", got)
		}
		if got := count(stytch.And(stytch.Filter("user_id", []string{"user-test-00000000-0000-4000-8000-000000000007", "ext-8"}))); got != 2 {
			t.Errorf("user_id with external id: %d", got)
		}
		if got := count(stytch.And(stytch.Filter("email_address", []string{"user9@example.com"}))); got != 1 {
			t.Errorf("email_address: %d", got)
		}
		if got := count(stytch.And(stytch.Filter("status", "pending"), stytch.Filter("email_address", []string{"user10@example.com", "user11@example.com"}))); got != 1 {
			t.Errorf("AND: %d", got)
		}
	})
	t.Run("bad cursor and limit", func(t *testing.T) {
		_, err := c.Users.Search(ctx, stytch.SearchUsersParams{Cursor: "not-a-cursor!"})
		wantType(t, err, "user_search_invalid_cursor")
		if !stytch.IsPermanent(err) {
			t.Error("bad cursor should be permanent")
		}
		_, err = c.Users.Search(ctx, stytch.SearchUsersParams{Limit: 1001})
		wantType(t, err, "user_search_invalid_limit")
		_, err = c.Users.Search(ctx, stytch.SearchUsersParams{Query: stytch.And(stytch.Filter("no_such_filter", "x"))})
		wantType(t, err, "user_search_filter_name_not_recognized")
		_, err = c.Users.Search(ctx, stytch.SearchUsersParams{Query: stytch.And(stytch.Filter("created_at_greater_than", "yesterday"))})
		wantType(t, err, "user_search_expected_timestamp")
	})
	t.Run("get by id and external id", func(t *testing.T) {
		u, err := c.Users.Get(ctx, "user-test-00000000-0000-4000-8000-000000000042")
		if err != nil {
			t.Fatal(err)
		}
		if u.ExternalID != "ext-42" || u.Name == nil || u.Name.LastName != "Last42" || u.RequestID == "" {
			t.Errorf("user = %+v", u)
		}
		u, err = c.Users.Get(ctx, "ext-42")
		if err != nil || u.UserID != "user-test-00000000-0000-4000-8000-000000000042" {
			t.Fatalf("by external id: %v %+v", err, u)
		}
		_, err = c.Users.Get(ctx, "user-test-missing")
		wantType(t, err, "user_not_found")
		if !stytch.IsNotFound(err) {
			t.Error("IsNotFound")
		}
	})
}

func TestSeedUsersFromFiles(t *testing.T) {
	dir := t.TempDir()
	users := seedUsers(5)
	arr, _ := json.MarshalIndent(users, "", "  ")
	arrPath := filepath.Join(dir, "users.json")
	if err := os.WriteFile(arrPath, arr, 0o600); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, u := range seedUsers(8)[5:] {
		b, _ := json.Marshal(u)
		lines = append(lines, string(b))
	}
	jsonlPath := filepath.Join(dir, "users.jsonl")
	if err := os.WriteFile(jsonlPath, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := stytchtest.NewServer()
	if err := srv.LoadUsersFile(arrPath); err != nil {
		t.Fatal(err)
	}
	if err := srv.LoadUsersFile(jsonlPath); err != nil {
		t.Fatal(err)
	}
	if srv.UserCount() != 8 {
		t.Fatalf("users = %d", srv.UserCount())
	}
	if err := srv.LoadUsersFile(arrPath); err == nil {
		t.Fatal("duplicate user ids accepted")
	}
	bad := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(bad, []byte("{\"user_id\":\"x\"}\n{oops\n"), 0o600)
	if err := srv.LoadUsersFile(bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line error = %v", err)
	}
}

func TestOrganizations(t *testing.T) {
	ctx := context.Background()
	srv := start(t)
	c := newB2B(t, srv.B2BConfig(), fast()...)
	create := func(name, slug, ext string) (*stytch.OrganizationResponse, error) {
		return c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: name, OrganizationSlug: slug, OrganizationExternalID: ext})
	}
	acme, err := create("Acme", "acme", "acme-ext|1")
	if err != nil {
		t.Fatal(err)
	}
	o := acme.Organization
	if !strings.HasPrefix(o.OrganizationID, "organization-test-") || o.CreatedAt.IsZero() || o.UpdatedAt.IsZero() ||
		string(o.TrustedMetadata) != "{}" || o.EmailAllowedDomains == nil || acme.RequestID == "" {
		t.Errorf("organization = %+v", o)
	}

	t.Run("uniqueness", func(t *testing.T) {
		_, err := create("Other", "acme", "")
		wantType(t, err, "organization_slug_already_used")
		if !stytch.IsAlreadyExists(err) {
			t.Error("slug clash should be IsAlreadyExists")
		}
		_, err = create("Other", "other", "acme-ext|1")
		wantType(t, err, stytch.ErrorTypeOrganizationExternalIDUsed)
		if !stytch.IsAlreadyExists(err) {
			t.Error("external id clash should be IsAlreadyExists")
		}
		if _, err := create("Acme", "acme-2", "acme-ext-2"); err != nil {
			t.Errorf("same name, other slug: %v", err)
		}
	})
	t.Run("validation", func(t *testing.T) {
		cases := []struct{ name, slug, ext, md, want string }{
			{"", "ok-slug", "", "", "organization_name_missing"},
			{strings.Repeat("n", 129), "ok-slug", "", "", "invalid_organization_name"},
			{"N", "a", "", "", "invalid_organization_slug"},
			{"N", "---", "", "", "invalid_organization_slug"},
			{"N", "has space", "", "", "invalid_organization_slug"},
			{"N", strings.Repeat("s", 129), "", "", "invalid_organization_slug"},
			{"N", "", "", "", "invalid_organization_slug"},
			{"N", "ok-slug", "bad ext", "", stytchtest.ErrorTypeInvalidExternalID},
			{"N", "ok-slug", strings.Repeat("e", 129), "", stytchtest.ErrorTypeInvalidExternalID},
			{"N", "ok-slug", "", `[1,2]`, "metadata_invalid_format"},
			{"N", "ok-slug", "", `{"k":"` + strings.Repeat("x", 4096) + `"}`, "metadata_too_large"},
			{"N", "ok-slug", "", manyKeys(21), "metadata_too_many_keys"},
		}
		for _, tc := range cases {
			_, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: tc.name,
				OrganizationSlug: tc.slug, OrganizationExternalID: tc.ext, TrustedMetadata: json.RawMessage(tc.md)})
			wantType(t, err, tc.want)
			if !stytch.IsPermanent(err) || stytch.IsRetryable(err) {
				t.Errorf("%s should be permanent", tc.want)
			}
		}
		// Boundaries that pass: 128-character slug/name/external id, slug "a~", 20 keys, exactly 4,096 bytes.
		for i, p := range []stytch.CreateOrganizationParams{
			{OrganizationName: strings.Repeat("n", 128), OrganizationSlug: strings.Repeat("s", 128), OrganizationExternalID: strings.Repeat("e", 128)},
			{OrganizationName: "N", OrganizationSlug: "a~", TrustedMetadata: json.RawMessage(manyKeys(20))},
			{OrganizationName: "N", OrganizationSlug: "x._-~9", TrustedMetadata: json.RawMessage(`{"k": "` + strings.Repeat("x", 4096-8) + `"}`)},
		} {
			if _, err := c.Organizations.Create(ctx, p); err != nil {
				t.Errorf("boundary %d: %v", i, err)
			}
		}
	})
	t.Run("lookups", func(t *testing.T) {
		for _, ref := range []string{o.OrganizationID, "acme", "acme-ext|1"} {
			got, err := c.Organizations.Get(ctx, ref)
			if err != nil || got.Organization.OrganizationID != o.OrganizationID {
				t.Errorf("get %q: %v", ref, err)
			}
		}
		_, err := c.Organizations.Get(ctx, "nope")
		wantType(t, err, "organization_not_found")
		if !stytch.IsNotFound(err) {
			t.Error("IsNotFound")
		}
	})
	t.Run("update and delete", func(t *testing.T) {
		tmp, err := create("Tmp", "tmp-org", "tmp-ext")
		if err != nil {
			t.Fatal(err)
		}
		up, err := c.Organizations.Update(ctx, stytch.UpdateOrganizationParams{OrganizationID: "tmp-ext",
			OrganizationSlug: "tmp-org-2", TrustedMetadata: json.RawMessage(`{"a": 1}`)})
		if err != nil || up.Organization.OrganizationSlug != "tmp-org-2" || string(up.Organization.TrustedMetadata) != `{"a":1}` {
			t.Fatalf("update: %v %+v", err, up)
		}
		if _, err := c.Organizations.Get(ctx, "tmp-org"); !stytch.IsNotFound(err) {
			t.Errorf("old slug still resolves: %v", err)
		}
		_, err = c.Organizations.Update(ctx, stytch.UpdateOrganizationParams{OrganizationID: "tmp-ext", OrganizationSlug: "acme"})
		wantType(t, err, "organization_slug_already_used")
		del, err := c.Organizations.Delete(ctx, "tmp-org-2")
		if err != nil || del.OrganizationID != tmp.Organization.OrganizationID {
			t.Fatalf("delete: %v", err)
		}
		if _, err := c.Organizations.Get(ctx, tmp.Organization.OrganizationID); !stytch.IsNotFound(err) {
			t.Errorf("deleted org still there: %v", err)
		}
	})
	t.Run("search pagination", func(t *testing.T) {
		for i := range 25 {
			if _, err := create(fmt.Sprintf("Bulk %d", i), fmt.Sprintf("bulk-%02d", i), ""); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		pages := 0
		err := c.Organizations.SearchAll(ctx, stytch.SearchOrganizationsParams{Limit: 10,
			Query: stytch.And(stytch.Filter("organization_slug_fuzzy", "bulk"))}, func(p *stytch.SearchOrganizationsResponse) error {
			pages++
			for _, o := range p.Organizations {
				seen[o.OrganizationSlug] = true
			}
			return nil
		})
		if err != nil || pages != 3 || len(seen) != 25 {
			t.Fatalf("pages %d, orgs %d, err %v", pages, len(seen), err)
		}
		p, err := c.Organizations.Search(ctx, stytch.SearchOrganizationsParams{Query: stytch.And(stytch.Filter("organization_slugs", []string{"acme", "bulk-03"}))})
		if err != nil || len(p.Organizations) != 2 || p.ResultsMetadata.NextCursor != "" {
			t.Fatalf("slugs filter: %v %+v", err, p)
		}
	})
}

func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d": %d`, i, i)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func TestMembers(t *testing.T) {
	ctx := context.Background()
	srv := start(t)
	c := newB2B(t, srv.B2BConfig(), fast()...)
	orgA, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "A", OrganizationSlug: "org-a", OrganizationExternalID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "B", OrganizationSlug: "org-b", OrganizationExternalID: "b"}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "a", EmailAddress: "Ada+Work@Example.com",
		Name: "Ada Lovelace", ExternalID: "u|1", TrustedMetadata: json.RawMessage(`{"x": 1}`), CreateMemberAsPending: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.MemberID, "member-test-") || m.Member.Status != "pending" || m.Member.Name != "Ada Lovelace" ||
		m.Member.OrganizationID != orgA.Organization.OrganizationID || m.Organization.OrganizationID != orgA.Organization.OrganizationID ||
		m.Member.EmailAddressVerified || string(m.Member.TrustedMetadata) != `{"x":1}` || m.Member.Roles[0].RoleID != "stytch_member" {
		t.Errorf("member = %+v", m.Member)
	}

	t.Run("uniqueness", func(t *testing.T) {
		_, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "org-a", EmailAddress: "ada+work@example.COM"})
		wantType(t, err, "duplicate_member_email")
		if !stytch.IsAlreadyExists(err) {
			t.Error("IsAlreadyExists")
		}
		_, err = c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "a", EmailAddress: "other@example.com", ExternalID: "u|1"})
		wantType(t, err, "duplicate_member_external_id")
		if !stytch.IsAlreadyExists(err) {
			t.Error("IsAlreadyExists")
		}
		// The same email and external id in another organization are a different member.
		if _, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "b", EmailAddress: "ada+work@example.com", ExternalID: "u|1"}); err != nil {
			t.Errorf("other org: %v", err)
		}
	})
	t.Run("validation", func(t *testing.T) {
		cases := []struct {
			p    stytch.CreateMemberParams
			want string
		}{
			{stytch.CreateMemberParams{EmailAddress: "no-at-sign"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: "a@@b.com"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: "a@nodot"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: "a@b..com"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: "a b@c.com"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: strings.Repeat("l", 65) + "@c.com"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: "a@" + strings.Repeat("d", 250) + ".com"}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: ""}, "invalid_email"},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", ExternalID: "has space"}, stytchtest.ErrorTypeInvalidExternalID},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", ExternalID: "é"}, stytchtest.ErrorTypeInvalidExternalID},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", ExternalID: strings.Repeat("x", 129)}, stytchtest.ErrorTypeInvalidExternalID},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", UntrustedMetadata: json.RawMessage(manyKeys(21))}, "metadata_too_many_keys"},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", TrustedMetadata: json.RawMessage(`{"k":"` + strings.Repeat("x", 4100) + `"}`)}, "metadata_too_large"},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", TrustedMetadata: json.RawMessage(`"str"`)}, "metadata_invalid_format"},
			{stytch.CreateMemberParams{EmailAddress: "v@c.com", MFAPhoneNumber: "555-1234"}, "invalid_phone_number"},
		}
		for _, tc := range cases {
			tc.p.OrganizationID = "a"
			_, err := c.Members.Create(ctx, tc.p)
			wantType(t, err, tc.want)
		}
		_, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "missing-org", EmailAddress: "v@c.com"})
		wantType(t, err, "organization_not_found")
		// Pretty-printed metadata counts in compact form: 20 keys and spaces are fine.
		if _, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "a", EmailAddress: "w@c.com",
			ExternalID: strings.Repeat("x", 128), TrustedMetadata: json.RawMessage(manyKeys(20))}); err != nil {
			t.Errorf("boundary: %v", err)
		}
	})
	t.Run("lookups", func(t *testing.T) {
		for _, p := range []stytch.GetMemberParams{
			{OrganizationID: "a", MemberID: m.MemberID},
			{OrganizationID: "org-a", MemberID: "u|1"},
			{OrganizationID: orgA.Organization.OrganizationID, EmailAddress: "ADA+work@example.com"},
		} {
			got, err := c.Members.Get(ctx, p)
			if err != nil || got.MemberID != m.MemberID || got.Organization.OrganizationSlug != "org-a" {
				t.Errorf("get %+v: %v", p, err)
			}
		}
		_, err := c.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "a", EmailAddress: "ada@example.com"})
		wantType(t, err, "member_not_found")
		if !stytch.IsNotFound(err) {
			t.Error("IsNotFound")
		}
	})
	t.Run("update and delete", func(t *testing.T) {
		up, err := c.Members.Update(ctx, stytch.UpdateMemberParams{OrganizationID: "a", MemberID: "u|1", Name: "Ada King", ExternalID: "u-2"})
		if err != nil || up.Member.Name != "Ada King" || up.Member.ExternalID != "u-2" {
			t.Fatalf("update: %v %+v", err, up)
		}
		if _, err := c.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "a", MemberID: "u|1"}); !stytch.IsNotFound(err) {
			t.Errorf("old external id still resolves: %v", err)
		}
		tmp, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "a", EmailAddress: "tmp@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Members.Update(ctx, stytch.UpdateMemberParams{OrganizationID: "a", MemberID: tmp.MemberID, EmailAddress: "ada+work@example.com"})
		wantType(t, err, "duplicate_member_email")
		del, err := c.Members.Delete(ctx, "a", tmp.MemberID)
		if err != nil || del.MemberID != tmp.MemberID {
			t.Fatalf("delete: %v", err)
		}
		if _, err := c.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "a", MemberID: tmp.MemberID}); !stytch.IsNotFound(err) {
			t.Errorf("deleted member still there: %v", err)
		}
	})
	t.Run("search", func(t *testing.T) {
		for i := range 30 {
			if _, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "b", EmailAddress: fmt.Sprintf("bulk%d@example.com", i)}); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		pages := 0
		err := c.Members.SearchAll(ctx, stytch.SearchMembersParams{OrganizationIDs: []string{"org-a", "org-b"}, Limit: 7},
			func(p *stytch.SearchMembersResponse) error {
				pages++
				for _, mem := range p.Members {
					if seen[mem.MemberID] {
						t.Errorf("member %s twice", mem.MemberID)
					}
					seen[mem.MemberID] = true
					if _, ok := p.Organizations[mem.OrganizationID]; !ok {
						t.Errorf("organizations map lacks %s", mem.OrganizationID)
					}
				}
				return nil
			})
		want := srv.Snapshot().MemberCount()
		if err != nil || len(seen) != want || pages != (want+6)/7 {
			t.Fatalf("pages %d, members %d of %d, err %v", pages, len(seen), want, err)
		}
		p, err := c.Members.Search(ctx, stytch.SearchMembersParams{OrganizationIDs: []string{orgA.Organization.OrganizationID},
			Query: stytch.And(stytch.Filter("member_emails", []string{"ADA+WORK@example.com"}))})
		if err != nil || len(p.Members) != 1 || p.Members[0].MemberID != m.MemberID {
			t.Fatalf("member_emails: %v %+v", err, p)
		}
		_, err = c.Members.Search(ctx, stytch.SearchMembersParams{})
		wantType(t, err, "member_search_organization_ids_empty")
	})
	t.Run("admin hooks", func(t *testing.T) {
		if err := srv.UpdateMember("a", m.MemberID, func(mem *stytch.Member) { mem.Name = "Changed" }); err != nil {
			t.Fatal(err)
		}
		got, err := c.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "a", MemberID: m.MemberID})
		if err != nil || got.Member.Name != "Changed" {
			t.Fatalf("after UpdateMember: %v %+v", err, got)
		}
		if err := srv.DeleteMember("org-a", m.MemberID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "a", MemberID: m.MemberID}); !stytch.IsNotFound(err) {
			t.Fatalf("after DeleteMember: %v", err)
		}
	})
}

func TestPasswordsMigrate(t *testing.T) {
	ctx := context.Background()
	srv := start(t)
	c := newB2B(t, srv.B2BConfig(), fast()...)
	if _, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "A", OrganizationSlug: "org-a", OrganizationExternalID: "a"}); err != nil {
		t.Fatal(err)
	}
	const hash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	params := stytch.MigratePasswordParams{EmailAddress: "New@Example.com", Hash: stytch.NewSecret(hash), HashType: stytch.HashTypeBcrypt,
		OrganizationID: "a", Name: "New Person", ExternalID: "new-1", TrustedMetadata: json.RawMessage(`{"k":"v"}`)}
	r, err := c.Passwords.Migrate(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if !r.MemberCreated || !r.Member.EmailAddressVerified || r.Member.MemberPasswordID == "" || r.Member.ExternalID != "new-1" ||
		r.Member.Name != "New Person" || r.MemberID != r.Member.MemberID || r.Organization.OrganizationSlug != "org-a" {
		t.Errorf("migrate = %+v", r)
	}
	_, err = c.Passwords.Migrate(ctx, params)
	wantType(t, err, "password_already_exists")

	// An existing member without a password gets one; external_id applies only on creation.
	existing, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "a", EmailAddress: "old@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = c.Passwords.Migrate(ctx, stytch.MigratePasswordParams{EmailAddress: "OLD@example.com", Hash: stytch.NewSecret("c2NyeXB0aGFzaA=="),
		HashType: stytch.HashTypeScrypt, OrganizationID: "org-a", ExternalID: "ignored",
		ScryptConfig: &stytch.ScryptConfig{Salt: "c2FsdA==", NParameter: 16384, RParameter: 8, PParameter: 1, KeyLength: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if r.MemberCreated || r.MemberID != existing.MemberID || !r.Member.EmailAddressVerified || r.Member.ExternalID != "" {
		t.Errorf("migrate existing = %+v", r)
	}
	for _, bad := range []struct {
		p    stytch.MigratePasswordParams
		want string
	}{
		{stytch.MigratePasswordParams{EmailAddress: "x@example.com", Hash: stytch.NewSecret("plain"), HashType: "rot13", OrganizationID: "a"}, "invalid_hash_type"},
		{stytch.MigratePasswordParams{EmailAddress: "x@example.com", Hash: stytch.NewSecret("plain"), HashType: stytch.HashTypeBcrypt, OrganizationID: "a"}, "invalid_bcrypt_hash"},
		{stytch.MigratePasswordParams{EmailAddress: "x@example.com", HashType: stytch.HashTypeBcrypt, OrganizationID: "a"}, "invalid_hash"},
		{stytch.MigratePasswordParams{EmailAddress: "x@example.com", Hash: stytch.NewSecret("aGFzaA=="), HashType: stytch.HashTypePBKDF2, OrganizationID: "a"}, "invalid_pbkdf_2_salt"},
		{stytch.MigratePasswordParams{EmailAddress: "bad", Hash: stytch.NewSecret(hash), HashType: stytch.HashTypeBcrypt, OrganizationID: "a"}, "invalid_email"},
		{stytch.MigratePasswordParams{EmailAddress: "x@example.com", Hash: stytch.NewSecret(hash), HashType: stytch.HashTypeBcrypt, OrganizationID: "zz"}, "organization_not_found"},
	} {
		_, err := c.Passwords.Migrate(ctx, bad.p)
		wantType(t, err, bad.want)
	}
	// The emulator keeps only a fingerprint: the hash appears nowhere in its state.
	st := srv.Snapshot()
	org, _ := st.Organization("a")
	found := false
	for _, ms := range org.Members {
		if ms.Member.EmailAddress == "New@Example.com" {
			found = true
			if ms.PasswordHashType != "bcrypt" || ms.PasswordFingerprint != stytchtest.Fingerprint(hash) {
				t.Errorf("password state = %+v", ms)
			}
		}
	}
	dump, _ := json.Marshal(st)
	if !found || strings.Contains(string(dump), hash) || strings.Contains(fmt.Sprintf("%+v", st), hash) {
		t.Error("hash stored or member missing")
	}
}

func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	srv := start(t)
	good := srv.B2BConfig()

	wrong := good
	wrong.Secret = stytch.NewSecret("secret-test-WRONG-SECRET-123")
	_, err := newB2B(t, wrong, fast()...).Organizations.Get(ctx, "x")
	e := wantType(t, err, "unauthorized_credentials")
	if e.StatusCode != 401 || !stytch.IsCredentials(err) || stytch.IsRetryable(err) {
		t.Errorf("wrong secret: %+v", e)
	}
	if strings.Contains(err.Error(), "WRONG-SECRET") || strings.Contains(fmt.Sprintf("%+v", err), "WRONG-SECRET") {
		t.Error("secret leaked into the error")
	}
	wrongID := good
	wrongID.ProjectID = "project-test-unknown"
	_, err = newB2B(t, wrongID, fast()...).Organizations.Get(ctx, "x")
	wantType(t, err, "unauthorized_credentials")

	// Consumer credentials on a B2B route, and the reverse.
	consumerCfg := srv.ConsumerConfig()
	consumerCfg.Kind = stytch.KindB2B
	_, err = newB2B(t, consumerCfg, fast()...).Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "X", OrganizationSlug: "xx"})
	wantType(t, err, "invalid_b2b_endpoint")
	if !stytch.IsCredentials(err) {
		t.Error("Consumer credentials on B2B should be IsCredentials")
	}
	b2bCfg := srv.B2BConfig()
	b2bCfg.Kind = stytch.KindConsumer
	_, err = newConsumer(t, b2bCfg, fast()...).Users.Search(ctx, stytch.SearchUsersParams{})
	wantType(t, err, "invalid_consumer_endpoint")
	if len(srv.Snapshot().Organizations) != 0 {
		t.Error("refused request changed state")
	}
}
