package stytch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	_, err := stytch.ConfigFromEnv(env(nil), stytch.KindB2B)
	var missing *stytch.MissingEnvError
	if !errors.As(err, &missing) || strings.Join(missing.Names, ",") != "STYTCH_B2B_PROJECT_ID,STYTCH_B2B_SECRET" {
		t.Fatalf("err = %v", err)
	}
	_, err = stytch.ConfigFromEnv(env(map[string]string{"STYTCH_CONSUMER_PROJECT_ID": "project-test-x", "STYTCH_B2B_SECRET": "s3cr3t-value"}), stytch.KindConsumer)
	if !errors.As(err, &missing) || strings.Join(missing.Names, ",") != "STYTCH_CONSUMER_SECRET" || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v", err)
	}

	cfg, err := stytch.ConfigFromEnv(env(map[string]string{"STYTCH_B2B_PROJECT_ID": "project-live-abc", "STYTCH_B2B_SECRET": "secret-live-abc"}), stytch.KindB2B)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := cfg.ResolveBaseURL(); u != stytch.BaseURLLive {
		t.Errorf("live project → %s", u)
	}
	cfg.ProjectID = "project-test-abc"
	if u, _ := cfg.ResolveBaseURL(); u != stytch.BaseURLTest {
		t.Errorf("test project → %s", u)
	}

	for _, tc := range []struct {
		base, want string
		err        error
	}{
		{"https://auth.example.com/", "https://auth.example.com", nil},
		{"https://auth.example.com/stytch/", "https://auth.example.com/stytch", nil},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", nil},
		{"http://127.9.9.9:1", "http://127.9.9.9:1", nil},
		{"http://localhost:8080/", "http://localhost:8080", nil},
		{"http://[::1]:8080", "http://[::1]:8080", nil},
		{"http://example.com", "", stytch.ErrInsecureBaseURL},
		{"http://10.0.0.1:8080", "", stytch.ErrInsecureBaseURL},
		{"https://user:hunter2@example.com", "", stytch.ErrInvalidBaseURL},
		{"ftp://example.com", "", stytch.ErrInvalidBaseURL},
		{"example.com", "", stytch.ErrInvalidBaseURL},
		{"https://example.com/?x=1", "", stytch.ErrInvalidBaseURL},
	} {
		got, err := stytch.Config{ProjectID: "p", Secret: stytch.NewSecret("s"), BaseURL: tc.base}.ResolveBaseURL()
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: %q %v", tc.base, got, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("base URL password leaked: %v", err)
		}
	}
	// STYTCH_API_BASE_URL applies and is validated.
	_, err = stytch.ConfigFromEnv(env(map[string]string{"STYTCH_B2B_PROJECT_ID": "p", "STYTCH_B2B_SECRET": "s", "STYTCH_API_BASE_URL": "http://evil.example.com"}), stytch.KindB2B)
	if !errors.Is(err, stytch.ErrInsecureBaseURL) {
		t.Errorf("err = %v", err)
	}
	// A Consumer config cannot build a B2B client.
	if _, err := stytch.NewB2BClient(stytch.Config{Kind: stytch.KindConsumer, ProjectID: "p", Secret: stytch.NewSecret("s")}); err == nil {
		t.Error("kind mismatch accepted")
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	const secret = "secret-test-SUPER-SECRET-VALUE-123"
	const hash = "$2a$10$HASHHASHHASHHASHHASHHAyNnm8tQ3lL5lZ2U6gqV1zPq4f0cQx2"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status_code":401,"request_id":"request-id-test-1","error_type":"unauthorized_credentials","error_message":"Unauthorized credentials."}`))
	}))
	defer srv.Close()

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := stytch.Config{Kind: stytch.KindB2B, ProjectID: "project-test-p", Secret: stytch.NewSecret(secret), BaseURL: srv.URL}
	c, err := stytch.NewB2BClient(cfg, stytch.WithLogger(logger), noRetry())
	if err != nil {
		t.Fatal(err)
	}
	params := stytch.MigratePasswordParams{EmailAddress: "a@b.com", Hash: stytch.NewSecret(hash), HashType: "bcrypt", OrganizationID: "o"}
	_, callErr := c.Passwords.Migrate(context.Background(), params)
	if !stytch.IsCredentials(callErr) {
		t.Fatalf("err = %v", callErr)
	}

	var dump strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		for _, v := range []any{cfg, &cfg, cfg.Secret, c, *c, c.Client, params, &params, callErr} {
			fmt.Fprintf(&dump, verb+"\n", v)
		}
	}
	text := slog.New(slog.NewTextHandler(&logs, nil))
	text.Info("config", "cfg", cfg, "client", c.Client, "params", params, "secret", cfg.Secret, "err", callErr)
	logger.Info("config", "cfg", cfg, "client", c.Client, "params", params)
	js, _ := json.Marshal(struct {
		Cfg    stytch.Config
		Secret stytch.Secret
	}{cfg, cfg.Secret})
	dump.Write(js)
	dump.WriteString(callErr.Error())
	dump.WriteString(logs.String())

	for _, leak := range []string{secret, hash, "SUPER-SECRET", "HASHHASH", fmt.Sprintf("%x", secret)} {
		if strings.Contains(dump.String(), leak) {
			t.Fatalf("leaked %q in:\n%s", leak, dump.String())
		}
	}
	if !strings.Contains(dump.String(), "[REDACTED]") || !strings.Contains(dump.String(), "project-test-p") {
		t.Errorf("redacted dump lost its useful parts:\n%s", dump.String())
	}
	if !strings.Contains(logs.String(), "unauthorized_credentials") {
		t.Errorf("debug log missing the call: %s", logs.String())
	}
	// Marshalling the params outside the client redacts the hash too (the wire test shows the
	// hash itself is sent).
	body, _ := json.Marshal(params)
	if strings.Contains(string(body), "HASHHASH") || !strings.Contains(string(body), `"hash":"[REDACTED]"`) {
		t.Errorf("marshalled params = %s", body)
	}
}

func TestRetriesResendBodyAndCount(t *testing.T) {
	var attempts atomic.Int32
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		switch attempts.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status_code":503,"error_type":"server_unavailable"}`))
		case 2:
			w.Header().Set("Retry-After", "0.2")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"status_code":429,"error_type":"too_many_requests"}`))
		default:
			_, _ = w.Write([]byte(`{"status_code":200,"request_id":"r","member_id":"member-test-1","member":{"member_id":"member-test-1"}}`))
		}
	}))
	defer srv.Close()
	var events []stytch.EventKind
	var emu sync.Mutex
	c := b2bClient(t, srv.URL, stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		stytch.WithObserver(func(e stytch.Event) { emu.Lock(); events = append(events, e.Kind); emu.Unlock() }))
	began := time.Now()
	r, err := c.Members.Create(context.Background(), stytch.CreateMemberParams{OrganizationID: "o", EmailAddress: "a@b.com"})
	if err != nil || r.MemberID != "member-test-1" {
		t.Fatalf("err = %v", err)
	}
	if time.Since(began) < 150*time.Millisecond {
		t.Errorf("Retry-After not waited")
	}
	if len(bodies) != 3 || bodies[0] != bodies[1] || bodies[1] != bodies[2] || bodies[0] == "" {
		t.Errorf("bodies = %q", bodies)
	}
	st := c.Stats()
	if st.Requests != 3 || st.Retries != 2 || st.RateLimited != 1 || st.ServerErrors != 1 {
		t.Errorf("stats = %+v", st)
	}
	want := []stytch.EventKind{stytch.EventAttempt, stytch.EventRetry, stytch.EventAttempt, stytch.EventRateLimited, stytch.EventRetry, stytch.EventAttempt}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", events, want)
	}
}

func TestTransportErrorsAndMaybeApplied(t *testing.T) {
	slow := make(chan struct{})
	defer close(slow)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "slow") {
			select {
			case <-slow:
			case <-r.Context().Done():
			}
			return
		}
		conn, _, _ := http.NewResponseController(w).Hijack()
		_ = conn.Close()
	}))
	defer srv.Close()
	ctx := context.Background()
	c := b2bClient(t, srv.URL, stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}),
		stytch.WithTimeout(50*time.Millisecond))

	_, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "o", EmailAddress: "a@b.com"})
	var te *stytch.TransportError
	if !errors.As(err, &te) || te.Attempts != 2 || !stytch.MayHaveApplied(err) || !stytch.IsRetryable(err) {
		t.Fatalf("dropped write: %v (%+v)", err, te)
	}
	if !strings.HasPrefix(err.Error(), "create member: ") {
		t.Errorf("not wrapped with the operation: %v", err)
	}
	_, err = c.Organizations.Get(ctx, "o")
	if stytch.MayHaveApplied(err) || !stytch.IsRetryable(err) {
		t.Errorf("dropped read: maybe applied %v retryable %v", stytch.MayHaveApplied(err), stytch.IsRetryable(err))
	}
	_, err = c.Organizations.Delete(ctx, "slow")
	if !errors.Is(err, stytch.ErrAttemptTimeout) || !stytch.IsRetryable(err) || !stytch.MayHaveApplied(err) {
		t.Errorf("timed-out write: %v", err)
	}
	if st := c.Stats(); st.TransportErrors != 6 || st.Retries != 3 {
		t.Errorf("stats = %+v", st)
	}
}
