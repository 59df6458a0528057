package stytchtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
	"golang.org/x/sync/errgroup"
)

// createOrResolve creates a member the way the load stage must: retried by the client, then
// "already exists" (a ghost or dropped write that was applied) resolved by looking the member up,
// and outer retries while the outcome is unknown. It returns the member id and whether the
// member was found rather than created.
func createOrResolve(ctx context.Context, c *stytch.B2BClient, p stytch.CreateMemberParams) (string, bool, error) {
	for {
		r, err := c.Members.Create(ctx, p)
		switch {
		case err == nil:
			return r.MemberID, false, nil
		case stytch.IsAlreadyExists(err):
			for {
				got, gerr := c.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: p.OrganizationID, EmailAddress: p.EmailAddress})
				if gerr == nil {
					return got.MemberID, true, nil
				}
				if !stytch.IsRetryable(gerr) {
					return "", false, gerr
				}
			}
		case stytch.IsRetryable(err) || stytch.MayHaveApplied(err):
			continue // outcome unknown: try again; a duplicate answer resolves it
		default:
			return "", false, err
		}
	}
}

func TestFaultsCreateMembersExactlyOnce(t *testing.T) {
	const members = 2000
	srv := start(t,
		stytchtest.WithSeed(42),
		stytchtest.WithWriteFaults(stytchtest.Faults{ErrorRate: 0.20, GhostRate: 0.05, DropRate: 0.05}),
		stytchtest.WithReadFaults(stytchtest.Faults{ErrorRate: 0.20}),
	)
	var observedRetries atomic.Int64
	c := newB2B(t, srv.B2BConfig(),
		stytch.WithRateLimit(math.Inf(1), 0),
		stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 40, BaseDelay: 100 * time.Microsecond, MaxDelay: 2 * time.Millisecond}),
		stytch.WithObserver(func(e stytch.Event) {
			if e.Kind == stytch.EventRetry {
				observedRetries.Add(1)
			}
		}),
	)
	ctx := context.Background()
	var orgID string
	for orgID == "" {
		r, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "Faulty", OrganizationSlug: "faulty", OrganizationExternalID: "faulty"})
		switch {
		case err == nil:
			orgID = r.Organization.OrganizationID
		case stytch.IsAlreadyExists(err):
			got, gerr := c.Organizations.Get(ctx, "faulty")
			if gerr == nil {
				orgID = got.Organization.OrganizationID
			}
		case !stytch.IsRetryable(err) && !stytch.MayHaveApplied(err):
			t.Fatal(err)
		}
	}

	var resolved atomic.Int64
	ids := make([]string, members)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range members {
		g.Go(func() error {
			id, found, err := createOrResolve(gctx, c, stytch.CreateMemberParams{OrganizationID: orgID,
				EmailAddress: fmt.Sprintf("member%04d@example.com", i), ExternalID: fmt.Sprintf("m-%d", i)})
			if err != nil {
				return fmt.Errorf("member %d: %w", i, err)
			}
			if found {
				resolved.Add(1)
			}
			ids[i] = id
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	st := srv.Snapshot()
	org, ok := st.Organization(orgID)
	if !ok || len(st.Organizations) != 1 {
		t.Fatalf("organizations = %d", len(st.Organizations))
	}
	if len(org.Members) != members {
		t.Fatalf("members in emulator = %d, want %d", len(org.Members), members)
	}
	emails := map[string]string{}
	for _, m := range org.Members {
		emails[m.Member.EmailAddress] = m.Member.MemberID
	}
	for i, id := range ids {
		if emails[fmt.Sprintf("member%04d@example.com", i)] != id {
			t.Fatalf("member %d: client id %s does not match the emulator", i, id)
		}
	}

	ss, cs := srv.Stats(), c.Stats()
	t.Logf("server: %d requests, %d faults (%d errors, %d ghosts, %d drops before, %d drops after), %d writes applied; "+
		"client: %d requests, %d retries, %d resolved as existing",
		ss.TotalRequests, ss.Faults(), ss.Errors, ss.Ghosts, ss.DropsBefore, ss.DropsAfter, ss.WritesApplied, cs.Requests, cs.Retries, resolved.Load())
	if ss.Ghosts == 0 || ss.DropsBefore == 0 || ss.DropsAfter == 0 || ss.Errors == 0 {
		t.Errorf("not every fault kind was injected: %+v", ss)
	}
	// The counters add up: every attempt the client sent reached the server, and every fault the
	// server injected made the client retry exactly once (no 429s here, no retries exhausted).
	if cs.Requests != ss.TotalRequests {
		t.Errorf("client sent %d attempts, server saw %d", cs.Requests, ss.TotalRequests)
	}
	if cs.Retries != ss.Faults() || observedRetries.Load() != cs.Retries {
		t.Errorf("client retries %d (observer %d) != server faults %d", cs.Retries, observedRetries.Load(), ss.Faults())
	}
	if cs.TransportErrors != ss.DropsBefore+ss.DropsAfter {
		t.Errorf("transport errors %d != drops %d", cs.TransportErrors, ss.DropsBefore+ss.DropsAfter)
	}
	// Every duplicate answer comes from a write applied by an attempt the client saw fail.
	if resolved.Load() > ss.Ghosts+ss.DropsAfter {
		t.Errorf("resolved %d > ghost+drop-after writes %d", resolved.Load(), ss.Ghosts+ss.DropsAfter)
	}
	if ss.WritesApplied != members+1 {
		t.Errorf("writes applied %d, want %d", ss.WritesApplied, members+1)
	}
}

func TestRateLimit429(t *testing.T) {
	srv := start(t, stytchtest.WithRateLimit(5), stytchtest.WithRetryAfter(true))
	cfg := srv.B2BConfig()
	// Plain requests, so that the client's adaptive limiter does not hold them back.
	began := time.Now()
	accepted, limited := 0, 0
	for range 20 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/b2b/organizations/nope", nil)
		req.SetBasicAuth(cfg.ProjectID, cfg.Secret.Reveal())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body stytch.Error
		_ = json.NewDecoder(resp.Body).Decode(&body)
		_ = resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			limited++
			if body.ErrorType != "too_many_requests" || body.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("429 = %+v, Retry-After %q", body, resp.Header.Get("Retry-After"))
			}
		case http.StatusNotFound:
			accepted++
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	windows := int(time.Since(began)/time.Second) + 2
	if limited == 0 || accepted > 5*windows || int64(limited) != srv.Stats().RateLimited {
		t.Errorf("accepted %d, limited %d over ≤ %d windows, server says %d", accepted, limited, windows, srv.Stats().RateLimited)
	}
	// Through the client, a 429 is classified and carries the Retry-After hint.
	c := newB2B(t, cfg, stytch.WithRateLimit(math.Inf(1), 0), stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 1}))
	for {
		_, err := c.Organizations.Get(context.Background(), "nope")
		if stytch.IsRateLimited(err) {
			e, _ := stytch.AsError(err)
			if e.RetryAfter != 1 || !stytch.IsRetryable(err) || stytch.IsPermanent(err) {
				t.Errorf("429 = %+v", e)
			}
			break
		}
		if !stytch.IsNotFound(err) {
			t.Fatal(err)
		}
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv := start(t, stytchtest.WithFaults(stytchtest.Faults{ErrorRate: 1}))
	c := newB2B(t, srv.B2BConfig(), stytch.WithRateLimit(math.Inf(1), 0),
		stytch.WithRetryPolicy(stytch.RetryPolicy{MaxAttempts: 1000, BaseDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := c.Organizations.Get(ctx, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(began) > 2*time.Second {
		t.Errorf("retries did not stop with the context")
	}
	if stytch.IsRetryable(err) {
		t.Error("a cancelled call is not retryable")
	}
}

func TestLatencyWithJitter(t *testing.T) {
	srv := start(t, stytchtest.WithReadFaults(stytchtest.Faults{Latency: 40 * time.Millisecond, LatencyJitter: 20 * time.Millisecond}))
	c := newB2B(t, srv.B2BConfig(), fast()...)
	var fastest time.Duration = time.Hour
	for range 5 {
		began := time.Now()
		if _, err := c.Organizations.Get(context.Background(), "x"); !stytch.IsNotFound(err) {
			t.Fatal(err)
		}
		fastest = min(fastest, time.Since(began))
	}
	if fastest < 20*time.Millisecond {
		t.Errorf("fastest read took %v, want ≥ 20ms (40ms ± 20ms)", fastest)
	}
	// Writes are not delayed: faults are per kind of route.
	began := time.Now()
	if _, err := c.Organizations.Create(context.Background(), stytch.CreateOrganizationParams{OrganizationName: "N", OrganizationSlug: "nn"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 15*time.Millisecond {
		t.Logf("write took %v (noisy machine?)", d)
	}
}
