package load

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

func TestLoadEndToEnd(t *testing.T) {
	nOrgs, nMembers := 500, 20000
	if testing.Short() {
		nOrgs, nMembers = 50, 2000
	}
	p := genPlan(nOrgs, nMembers)
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t)
	var logs bytes.Buffer
	mem, copts := checkedOpts()
	cfg := fastConfig()
	st := New(cfg, newClient(t, srv, cfg), copts...)
	res, err := st.Run(context.Background(), testEnv(dir, &logs))
	if err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	checkStateMatchesPlan(t, srv, p, 0)

	if res.Partial {
		t.Errorf("clean run is partial: %v", res.Counts)
	}
	unverifiedPw := 0
	for _, m := range p.members {
		if m.HasPassword && !m.EmailVerified {
			unverifiedPw++
		}
	}
	if got := res.Counts["members_"+OutcomePasswordSkippedUnverified]; got != int64(unverifiedPw) {
		t.Errorf("password_skipped_unverified = %d, want %d", got, unverifiedPw)
	}
	if got := res.Counts["members_"+OutcomeCreated]; got != int64(nMembers-unverifiedPw) {
		t.Errorf("created = %d, want %d", got, nMembers-unverifiedPw)
	}
	if got := res.Counts["organizations_"+OutcomeCreated]; got != int64(nOrgs) {
		t.Errorf("organizations created = %d, want %d", got, nOrgs)
	}
	es := srv.Stats()
	memberReqs := es.Requests[routeCreateMember] + es.Requests[routeMigrate]
	perMember := float64(memberReqs) / float64(nMembers)
	t.Logf("requests: member routes %d (%.4f/member), total %d (%.4f/member incl. 2 per organization); counts %v",
		memberReqs, perMember, es.TotalRequests, float64(es.TotalRequests)/float64(nMembers), res.Counts)
	if perMember > 1.02 {
		t.Errorf("requests per member %.4f > 1.02", perMember)
	}
	if got := res.Counts["requests_members"]; float64(got)/float64(nMembers) > 1.02 {
		t.Errorf("client-side member-phase requests per member %.4f > 1.02", float64(got)/float64(nMembers))
	}

	results := readResults(t, dir, schemas.MemberResults.Path())
	if len(results) != nMembers {
		t.Errorf("results hold %d members, want %d", len(results), nMembers)
	}
	orgRes, err := schemas.ReadAll(dir.Path(schemas.OrganizationResults.Path()), schemas.OrganizationResults)
	if err != nil || len(orgRes) != nOrgs {
		t.Fatalf("organization results: %d rows, %v", len(orgRes), err)
	}

	// Hashes never leave member_passwords.parquet.
	checkNoHashes(t, dir.Root(), p, logs.String())

	// A rerun finds everything in the ledger and sends nothing.
	before := srv.Stats().TotalRequests
	res2, err := runLoad(t, dir, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := srv.Stats().TotalRequests - before; d != 0 {
		t.Errorf("rerun sent %d requests, want 0", d)
	}
	if res2.Counts["members_resumed"] != int64(nMembers) {
		t.Errorf("rerun resumed %d members, want %d", res2.Counts["members_resumed"], nMembers)
	}
}

// checkNoHashes fails if any file under root other than member_passwords.parquet, or the logs,
// hold a hash.
func checkNoHashes(t *testing.T, root string, p plan, logs string) {
	t.Helper()
	needles := make([]string, 0, len(p.passwords))
	for _, x := range p.passwords {
		needles = append(needles, x.Hash)
	}
	err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(path) == "member_passwords.parquet" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("SECRETHASH")) {
			t.Errorf("%s holds a password hash", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range needles[:min(len(needles), 50)] {
		if strings.Contains(logs, n) {
			t.Errorf("logs hold a password hash")
			break
		}
	}
	if strings.Contains(logs, "SECRETHASH") {
		t.Errorf("logs hold a password hash")
	}
}

func TestLoadWithFaults(t *testing.T) {
	nOrgs, nMembers := 60, 3000
	p := genPlan(nOrgs, nMembers)
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t, stytchtest.WithSeed(7), stytchtest.WithRateLimit(500), stytchtest.WithRetryAfter(true),
		stytchtest.WithFaults(stytchtest.Faults{ErrorRate: 0.05, GhostRate: 0.02, DropRate: 0.01}))
	cfg := fastConfig()
	cfg.Rate, cfg.Burst = 3000, 300
	cfg.FlushInterval = 500e6
	res, err := runLoad(t, dir, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkStateMatchesPlan(t, srv, p, 0)
	es := srv.Stats()
	t.Logf("emulator: %d requests, %d 429s, %d errors, %d ghosts, %d drops before, %d drops after; counts %v",
		es.TotalRequests, es.RateLimited, es.Errors, es.Ghosts, es.DropsBefore, es.DropsAfter, res.Counts)
	if es.Ghosts == 0 || es.DropsAfter == 0 || es.Errors == 0 || es.RateLimited == 0 {
		t.Errorf("faults not all injected: %+v", es)
	}
	if res.Counts["retries"] == 0 || res.Counts["rate_limited"] == 0 {
		t.Errorf("retries or 429s not counted: %v", res.Counts)
	}
	results := readResults(t, dir, schemas.MemberResults.Path())
	if len(results) != nMembers {
		t.Errorf("results hold %d members, want %d", len(results), nMembers)
	}
	for k, r := range results {
		if !createdByRun(r.Outcome) {
			t.Errorf("member %v: outcome %s %s %s", k, r.Outcome, r.ErrorType, r.ErrorMessage)
		}
	}
	if res.Partial {
		t.Errorf("faulty run is partial: %v", res.Counts)
	}
}
