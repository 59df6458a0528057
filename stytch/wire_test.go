package stytch_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

const fixtureDir = "../testdata/stytch"

// requestFixture is a request the client must send (testdata/stytch/requests/*.json).
type requestFixture struct {
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	RawQuery string          `json:"raw_query"`
	Body     json.RawMessage `json:"body"`
}

// recorded is what the test server saw.
type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// wireServer answers every request with one fixture body and records the request.
func wireServer(t *testing.T, status int, responseFile string) (*httptest.Server, *recorded) {
	t.Helper()
	var body []byte
	if responseFile != "" {
		var err error
		body, err = os.ReadFile(filepath.Join(fixtureDir, "responses", responseFile))
		if err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*rec = recorded{method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: b}
		if strings.HasSuffix(responseFile, ".json") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/html")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

const (
	testB2BProject      = "project-test-11111111-2222-4333-8444-555555555555"
	testB2BSecret       = "secret-test-WIRE-B2B-SECRET-VALUE"
	testConsumerProject = "project-test-66666666-7777-4888-9999-000000000000"
	testConsumerSecret  = "secret-test-WIRE-CONSUMER-SECRET-VALUE"
)

func noRetry() stytch.Option { return stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 1}) }

func b2bClient(t *testing.T, url string, opts ...stytch.Option) *stytch.B2BClient {
	t.Helper()
	cfg := stytch.Config{ProjectID: testB2BProject, Secret: stytch.NewSecret(testB2BSecret), BaseURL: url}
	c, err := stytch.NewB2BClient(cfg, append([]stytch.Option{stytch.WithVersion("1.2.3"), stytch.WithRateLimit(1000, 100)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func consumerClient(t *testing.T, url string, opts ...stytch.Option) *stytch.ConsumerClient {
	t.Helper()
	cfg := stytch.Config{ProjectID: testConsumerProject, Secret: stytch.NewSecret(testConsumerSecret), BaseURL: url}
	c, err := stytch.NewConsumerClient(cfg, append([]stytch.Option{stytch.WithVersion("1.2.3"), stytch.WithRateLimit(1000, 100)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkRequest compares the recorded request with its fixture, headers included.
func checkRequest(t *testing.T, rec *recorded, fixture, project, secret string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, "requests", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var want requestFixture
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: %v", fixture, err)
	}
	if rec.method != want.Method || rec.path != want.Path || rec.rawQuery != want.RawQuery {
		t.Errorf("%s: sent %s %s?%s, want %s %s?%s", fixture, rec.method, rec.path, rec.rawQuery, want.Method, want.Path, want.RawQuery)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(project+":"+secret))
	if got := rec.header.Get("Authorization"); got != wantAuth {
		t.Errorf("%s: Authorization = %q", fixture, got)
	}
	if got := rec.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("%s: Content-Type = %q", fixture, got)
	}
	if got := rec.header.Get("User-Agent"); got != "stytch-migrate/1.2.3" {
		t.Errorf("%s: User-Agent = %q", fixture, got)
	}
	if string(want.Body) == "null" || len(want.Body) == 0 {
		if len(rec.body) != 0 {
			t.Errorf("%s: sent a body %s, want none", fixture, rec.body)
		}
		return
	}
	var gotV, wantV any
	if err := json.Unmarshal(rec.body, &gotV); err != nil {
		t.Fatalf("%s: body is not JSON: %v: %s", fixture, err, rec.body)
	}
	_ = json.Unmarshal(want.Body, &wantV)
	if !reflect.DeepEqual(gotV, wantV) {
		g, _ := json.MarshalIndent(gotV, "", "  ")
		w, _ := json.MarshalIndent(wantV, "", "  ")
		t.Errorf("%s: body\n%s\nwant\n%s", fixture, g, w)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWireConsumer(t *testing.T) {
	ctx := context.Background()
	t.Run("search users", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "search_users_page.json")
		c := consumerClient(t, srv.URL)
		resp, err := c.Users.Search(ctx, stytch.SearchUsersParams{
			Cursor: "cursor-page-2",
			Limit:  stytch.MaxSearchLimit,
			Query: stytch.And(
				stytch.Filter("created_at_greater_than", stytch.FormatTime(mustTime(t, "2026-01-01T00:00:00Z"))),
				stytch.Filter("created_at_between", stytch.CreatedAtBetween{GreaterThan: "2025-01-01T00:00:00Z", LessThan: "2026-06-30T00:00:00Z"}),
				stytch.Filter("status", "active"),
				stytch.Filter("user_id", []string{"user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6", "my-cool-user"}),
				stytch.Filter("email_address", []string{"sandbox@stytch.com"}),
			),
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "search_users.json", testConsumerProject, testConsumerSecret)
		if resp.RequestID != "request-id-test-b05c992f-ebdc-489d-a754-c7e70ba13141" || resp.StatusCode != 200 {
			t.Errorf("request id/status: %q %d", resp.RequestID, resp.StatusCode)
		}
		if resp.ResultsMetadata.NextCursor != "c2Vjb25kLXBhZ2U" || resp.ResultsMetadata.Total != 2500 {
			t.Errorf("metadata = %+v", resp.ResultsMetadata)
		}
		if len(resp.Results) != 2 {
			t.Fatalf("results = %d", len(resp.Results))
		}
		u := resp.Results[0]
		if u.Name == nil || u.Name.FirstName != "Jane" || u.Name.LastName != "Doe" {
			t.Errorf("name = %+v", u.Name)
		}
		if u.ExternalID != "my-cool-user" || u.Password == nil || u.Password.PasswordID == "" || len(u.Emails) != 1 ||
			!u.Emails[0].Verified || u.Emails[0].Email != "sandbox@stytch.com" || u.PhoneNumbers[0].PhoneNumber != "+12025550162" ||
			u.Providers[0].ProviderType != "Google" || u.TOTPs[0].TOTPID == "" || u.Roles[0] != "stytch_user" {
			t.Errorf("user = %+v", u)
		}
		if !u.CreatedAt.Equal(mustTime(t, "2021-12-29T12:33:09Z")) || u.LockCreatedAt != nil {
			t.Errorf("times = %v %v", u.CreatedAt, u.LockCreatedAt)
		}
		if string(u.TrustedMetadata) != `{"org_ids": ["acme", "globex"]}` {
			t.Errorf("trusted_metadata = %s", u.TrustedMetadata)
		}
		u2 := resp.Results[1]
		if u2.Name != nil || u2.WebAuthnRegistrations != nil || !u2.IsLocked || u2.LockExpiresAt == nil || u2.Status != "pending" {
			t.Errorf("tolerant decode = %+v", u2)
		}
	})
	t.Run("search users last page", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "search_users_last_page.json")
		c := consumerClient(t, srv.URL)
		resp, err := c.Users.Search(ctx, stytch.SearchUsersParams{Limit: stytch.MaxSearchLimit})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "search_users_first_page.json", testConsumerProject, testConsumerSecret)
		if resp.ResultsMetadata.NextCursor != "" || resp.ResultsMetadata.Total != -1 || len(resp.Results) != 0 {
			t.Errorf("metadata = %+v", resp.ResultsMetadata)
		}
	})
	t.Run("get user flat body", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "get_user.json")
		c := consumerClient(t, srv.URL)
		resp, err := c.Users.Get(ctx, "my|cool user")
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "get_user.json", testConsumerProject, testConsumerSecret)
		if resp.RequestID == "" || resp.StatusCode != 200 || resp.UserID != "user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6" ||
			resp.Name == nil || resp.Name.MiddleName != "Q" || resp.ExternalID != "my|cool user" || len(resp.Emails) != 1 {
			t.Errorf("user = %+v", resp)
		}
	})
}

// checkOrganization checks the decoded organization fixture.
func checkOrganization(t *testing.T, o stytch.Organization) {
	t.Helper()
	if o.OrganizationID != "organization-test-07971b06-ac8b-4cdb-9c15-63b17e653931" || o.OrganizationSlug != "acme-co" ||
		o.OrganizationName != "Acme Co" || o.OrganizationExternalID != "acme" || o.SSODefaultConnectionID != nil ||
		o.EmailAllowedDomains[0] != "acme.com" || o.MFAPolicy != "OPTIONAL" || o.SCIMActiveConnection != nil ||
		!o.CreatedAt.Equal(time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("organization = %+v", o)
	}
	var md map[string]any
	if err := json.Unmarshal(o.TrustedMetadata, &md); err != nil || md["plan"] != "enterprise" {
		t.Errorf("trusted_metadata = %s", o.TrustedMetadata)
	}
}

// checkMember checks the decoded member fixture.
func checkMember(t *testing.T, m stytch.Member) {
	t.Helper()
	if m.MemberID != "member-test-32fc5024-9c09-4da3-bd2e-c9ce4da9375f" || m.Name != "Ada Lovelace" ||
		m.EmailAddress != "ada.lovelace+work@acme.com" || m.Status != stytch.MemberStatusPending || m.MFAPhoneNumber != "" ||
		m.ExternalID != "user-42" || len(m.Roles) != 2 || m.Roles[1].RoleID != "editor" ||
		m.Roles[0].Sources[0].Type != "direct_assignment" || m.OrganizationID == "" {
		t.Errorf("member = %+v", m)
	}
}

func TestWireOrganizations(t *testing.T) {
	ctx := context.Background()
	const orgID = "organization-test-07971b06-ac8b-4cdb-9c15-63b17e653931"
	t.Run("create", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "organization.json")
		resp, err := b2bClient(t, srv.URL).Organizations.Create(ctx, stytch.CreateOrganizationParams{
			OrganizationName:       "Acme Co",
			OrganizationSlug:       "acme-co",
			OrganizationExternalID: "acme",
			TrustedMetadata:        json.RawMessage(`{"plan":"enterprise","seats":40}`),
			EmailAllowedDomains:    []string{"acme.com"},
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "create_organization.json", testB2BProject, testB2BSecret)
		if resp.RequestID == "" || resp.StatusCode != 200 {
			t.Errorf("response = %+v", resp)
		}
		checkOrganization(t, resp.Organization)
	})
	t.Run("get by external id with pipe and slash", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "organization.json")
		resp, err := b2bClient(t, srv.URL).Organizations.Get(ctx, "acme|emea/west")
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "get_organization.json", testB2BProject, testB2BSecret)
		checkOrganization(t, resp.Organization)
	})
	t.Run("update", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "organization.json")
		_, err := b2bClient(t, srv.URL).Organizations.Update(ctx, stytch.UpdateOrganizationParams{
			OrganizationID: orgID, OrganizationName: "Acme Corporation", OrganizationExternalID: "acme-corp",
			TrustedMetadata: json.RawMessage(`{"plan":"pro"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "update_organization.json", testB2BProject, testB2BSecret)
	})
	t.Run("delete", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "delete_organization.json")
		resp, err := b2bClient(t, srv.URL).Organizations.Delete(ctx, "acme-co")
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "delete_organization.json", testB2BProject, testB2BSecret)
		if resp.OrganizationID != orgID || resp.RequestID == "" || resp.StatusCode != 200 {
			t.Errorf("response = %+v", resp)
		}
	})
	t.Run("search", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "search_organizations.json")
		resp, err := b2bClient(t, srv.URL).Organizations.Search(ctx, stytch.SearchOrganizationsParams{
			Limit: 200, Query: stytch.And(stytch.Filter("organization_slugs", []string{"acme-co", "globex"})),
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "search_organizations.json", testB2BProject, testB2BSecret)
		if len(resp.Organizations) != 1 || resp.ResultsMetadata.NextCursor != "" || resp.ResultsMetadata.Total != 1 {
			t.Fatalf("response = %+v", resp)
		}
		checkOrganization(t, resp.Organizations[0])
	})
}

func TestWireMembers(t *testing.T) {
	ctx := context.Background()
	const orgID = "organization-test-07971b06-ac8b-4cdb-9c15-63b17e653931"
	t.Run("create", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "member.json")
		resp, err := b2bClient(t, srv.URL).Members.Create(ctx, stytch.CreateMemberParams{
			OrganizationID:        "acme",
			EmailAddress:          "Ada.Lovelace+work@acme.com",
			Name:                  "Ada Lovelace",
			TrustedMetadata:       json.RawMessage(`{"source_user_id":"user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6"}`),
			UntrustedMetadata:     json.RawMessage(`{"theme":"dark"}`),
			CreateMemberAsPending: true,
			MFAPhoneNumber:        "+12025550123",
			Roles:                 []string{"editor"},
			ExternalID:            "user-42",
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "create_member.json", testB2BProject, testB2BSecret)
		if resp.MemberID != "member-test-32fc5024-9c09-4da3-bd2e-c9ce4da9375f" || resp.RequestID == "" || resp.StatusCode != 200 {
			t.Errorf("response = %+v", resp)
		}
		checkMember(t, resp.Member)
		checkOrganization(t, resp.Organization)
	})
	t.Run("get by email", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "member.json")
		resp, err := b2bClient(t, srv.URL).Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "acme", EmailAddress: "ada+work@acme.com"})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "get_member_by_email.json", testB2BProject, testB2BSecret)
		checkMember(t, resp.Member)
	})
	t.Run("get by external id", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "member.json")
		_, err := b2bClient(t, srv.URL).Members.Get(ctx, stytch.GetMemberParams{OrganizationID: orgID, MemberID: "ext|42"})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "get_member_by_external_id.json", testB2BProject, testB2BSecret)
	})
	t.Run("get needs a key", func(t *testing.T) {
		_, err := b2bClient(t, "http://127.0.0.1:1").Members.Get(ctx, stytch.GetMemberParams{OrganizationID: orgID})
		if err != stytch.ErrMemberLookup {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("update", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "member.json")
		no := false
		roles := []string{}
		_, err := b2bClient(t, srv.URL).Members.Update(ctx, stytch.UpdateMemberParams{
			OrganizationID: "acme", MemberID: "ext|42", Name: "Ada King", IsBreakglass: &no, Roles: &roles, ExternalID: "user-43",
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "update_member.json", testB2BProject, testB2BSecret)
	})
	t.Run("delete", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "delete_member.json")
		resp, err := b2bClient(t, srv.URL).Members.Delete(ctx, "acme", "member-test-32fc5024-9c09-4da3-bd2e-c9ce4da9375f")
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "delete_member.json", testB2BProject, testB2BSecret)
		if resp.MemberID != "member-test-32fc5024-9c09-4da3-bd2e-c9ce4da9375f" {
			t.Errorf("response = %+v", resp)
		}
	})
	t.Run("search", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "search_members.json")
		resp, err := b2bClient(t, srv.URL).Members.Search(ctx, stytch.SearchMembersParams{
			OrganizationIDs: []string{orgID}, Cursor: "cursor-2", Limit: 1000,
			Query: stytch.And(stytch.Filter("member_ids", []string{"user-42"}),
				stytch.Filter("statuses", []string{"active", "pending", "invited", "deleted"})),
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "search_members.json", testB2BProject, testB2BSecret)
		if len(resp.Members) != 1 || resp.ResultsMetadata.NextCursor != "bWVtYmVycy1wYWdlLTI" || resp.ResultsMetadata.Total != 1001 {
			t.Fatalf("response = %+v", resp)
		}
		checkMember(t, resp.Members[0])
		org, ok := resp.Organizations[orgID]
		if !ok {
			t.Fatalf("organizations map = %v", resp.Organizations)
		}
		checkOrganization(t, org)
	})
}

func TestWirePasswordsMigrate(t *testing.T) {
	ctx := context.Background()
	t.Run("pbkdf2", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "migrate_password.json")
		resp, err := b2bClient(t, srv.URL).Passwords.Migrate(ctx, stytch.MigratePasswordParams{
			EmailAddress:           "ada@acme.com",
			Hash:                   stytch.NewSecret("bWlncmF0ZWQtaGFzaC1ieXRlcw=="),
			HashType:               stytch.HashTypePBKDF2,
			OrganizationID:         "acme",
			PBKDF2Config:           &stytch.PBKDF2Config{Salt: "c2FsdHNhbHQ=", IterationAmount: 100000, KeyLength: 32, Algorithm: "sha256"},
			Name:                   "Ada Lovelace",
			TrustedMetadata:        json.RawMessage(`{"source_user_id":"user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6"}`),
			Roles:                  []string{"editor"},
			MFAPhoneNumber:         "+12025550123",
			SetPhoneNumberVerified: true,
			ExternalID:             "user-42",
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "migrate_password.json", testB2BProject, testB2BSecret)
		if !resp.MemberCreated || resp.MemberID == "" || resp.RequestID == "" {
			t.Errorf("response = %+v", resp)
		}
		checkMember(t, resp.Member)
		checkOrganization(t, resp.Organization)
	})
	t.Run("all hash configs", func(t *testing.T) {
		srv, rec := wireServer(t, 200, "migrate_password.json")
		_, err := b2bClient(t, srv.URL).Passwords.Migrate(ctx, stytch.MigratePasswordParams{
			EmailAddress:   "grace@acme.com",
			Hash:           stytch.NewSecret("$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"),
			HashType:       stytch.HashTypeArgon2ID,
			OrganizationID: "organization-test-07971b06-ac8b-4cdb-9c15-63b17e653931",
			MD5Config:      &stytch.MD5Config{PrependSalt: "pre", AppendSalt: "post"},
			Argon2Config:   &stytch.Argon2Config{Salt: "73616c74", IterationAmount: 3, Memory: 65536, Threads: 2, KeyLength: 32},
			SHA1Config:     &stytch.SHA1Config{PrependSalt: "p1", AppendSalt: "a1"},
			SHA512Config:   &stytch.SHA512Config{PrependSalt: "p5", AppendSalt: "a5"},
			ScryptConfig:   &stytch.ScryptConfig{Salt: "c2FsdA==", NParameter: 16384, RParameter: 8, PParameter: 1, KeyLength: 32},
		})
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, rec, "migrate_password_configs.json", testB2BProject, testB2BSecret)
	})
}

func TestWireErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		file        string
		status      int
		errorType   string
		message     string
		alreadyExis bool
		notFound    bool
		credentials bool
		retryable   bool
		permanent   bool
	}{
		{"error_400_duplicate_member_email.json", 400, "duplicate_member_email", "A member with the provided email already exists in this organization.", true, false, false, false, true},
		{"error_401_unauthorized_credentials.json", 401, "unauthorized_credentials", "Unauthorized credentials.", false, false, true, false, true},
		{"error_404_organization_not_found.json", 404, "organization_not_found", "Organization could not be found.", false, true, false, false, true},
		{"error_429_too_many_requests.json", 429, "too_many_requests", "Too many requests have been made.", false, false, false, true, false},
		{"error_500_internal_server_error.json", 500, "internal_server_error", "", false, false, false, true, false},
		{"error_503_server_unavailable.json", 503, "server_unavailable", "", false, false, false, true, false},
		{"error_502_html.txt", 502, "http_502", "<html> <head><title>502 Bad Gateway</title></head>", false, false, false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			srv, _ := wireServer(t, tc.status, tc.file)
			_, err := b2bClient(t, srv.URL, noRetry()).Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "acme", EmailAddress: "a@acme.com"})
			e, ok := stytch.AsError(err)
			if !ok {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if !strings.HasPrefix(err.Error(), "create member: stytch: "+tc.errorType) {
				t.Errorf("error text = %q", err.Error())
			}
			if e.StatusCode != tc.status || e.ErrorType != tc.errorType || (tc.message != "" && !strings.HasPrefix(e.ErrorMessage, tc.message)) {
				t.Errorf("error = %+v", e)
			}
			if tc.status != 502 && (e.RequestID != "request-id-test-b05c992f-ebdc-489d-a754-c7e70ba13141" || e.ErrorURL == "") {
				t.Errorf("request id / url = %q %q", e.RequestID, e.ErrorURL)
			}
			if stytch.IsAlreadyExists(err) != tc.alreadyExis || stytch.IsNotFound(err) != tc.notFound ||
				stytch.IsCredentials(err) != tc.credentials || stytch.IsRetryable(err) != tc.retryable ||
				stytch.IsPermanent(err) != tc.permanent || stytch.IsRateLimited(err) != (tc.status == 429) {
				t.Errorf("classification wrong for %s", tc.errorType)
			}
			// A 5xx answer to a write does not say whether it was applied.
			if e.Attempts != 1 || stytch.MayHaveApplied(err) != (tc.status >= 500) {
				t.Errorf("attempts %d, maybe applied %v", e.Attempts, stytch.MayHaveApplied(err))
			}
		})
	}
	t.Run("error details", func(t *testing.T) {
		srv, _ := wireServer(t, 404, "error_404_organization_not_found.json")
		_, err := b2bClient(t, srv.URL).Organizations.Get(ctx, "acme")
		e, _ := stytch.AsError(err)
		if e == nil || string(e.ErrorDetails) != `{"organization_id": "acme"}` {
			t.Errorf("details = %v", e)
		}
	})
}
