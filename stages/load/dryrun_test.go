package load

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// seeder writes pre-existing objects into the emulator through the real client.
type seeder struct {
	t   *testing.T
	b2b *stytch.B2BClient
}

func newSeeder(t *testing.T, srv *stytchtest.Server) *seeder {
	c, err := stytch.NewB2BClient(srv.B2BConfig(), stytch.WithRateLimit(10000, 100))
	if err != nil {
		t.Fatal(err)
	}
	return &seeder{t: t, b2b: c}
}

func (s *seeder) org(name, slug, externalID string) string {
	s.t.Helper()
	r, err := s.b2b.Organizations.Create(context.Background(), stytch.CreateOrganizationParams{
		OrganizationName: name, OrganizationSlug: slug, OrganizationExternalID: externalID})
	if err != nil {
		s.t.Fatal(err)
	}
	return r.Organization.OrganizationID
}

func (s *seeder) member(orgID, email, externalID string) string {
	s.t.Helper()
	r, err := s.b2b.Members.Create(context.Background(), stytch.CreateMemberParams{OrganizationID: orgID,
		EmailAddress: email, ExternalID: externalID, Name: "Seeded"})
	if err != nil {
		s.t.Fatal(err)
	}
	return r.MemberID
}

// dryOutcome maps a load outcome to the dry-run outcome that predicts it.
func dryOutcome(load string) string {
	switch load {
	case OutcomeCreated, OutcomePasswordSkippedUnverified:
		return OutcomeWouldCreate
	case OutcomeExisting:
		return OutcomeExists
	case OutcomeExternalIDAssigned:
		return OutcomeWouldAssignExternalID
	case OutcomeExternalIDReassigned:
		return OutcomeWouldReassignExternalID
	}
	return load
}

func TestDryRunMatchesLoad(t *testing.T) {
	p := genPlan(10, 400)
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t)
	sd := newSeeder(t, srv)
	org0 := sd.org("Org 0", "org-0000", "org-0000")               // ours: exists
	sd.org("Org 1 old", "org-0001", "")                           // same slug, no external id: assign
	sd.org("Org 2 other", "org-0002", "someone-else")             // same slug, other external id: conflict
	sd.member(org0, p.members[0].EmailAddress, "ext-0000000")     // exists
	sd.member(org0, p.members[10].EmailAddress, "")               // assign
	sd.member(org0, p.members[20].EmailAddress, "someone-else-1") // conflict
	sd.member(org0, "other@org0.example.com", "ext-0000030")      // external id taken
	sd.member(sd.org("Unrelated", "unrelated", "unrelated"), "x@unrelated.example.com", "x")
	extra := 5

	before := srv.Stats()
	mem, copts := checkedOpts()
	cfg := fastConfig()
	dry := New(cfg, newClient(t, srv, cfg), append(copts, WithDryRun(true))...)
	if dry.Name() != StageDryRun {
		t.Errorf("dry run named %q", dry.Name())
	}
	dres, err := dry.Run(context.Background(), testEnv(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	after := srv.Stats()
	if w := writeRoutes(after) - writeRoutes(before); w != 0 || after.WritesApplied != before.WritesApplied {
		t.Fatalf("dry run sent %d writes, applied %d", w, after.WritesApplied-before.WritesApplied)
	}
	t.Logf("dry run: %v (%d requests)", dres.Counts, after.TotalRequests-before.TotalRequests)
	if !dres.Partial {
		t.Errorf("dry run with conflicts is not partial")
	}
	dryMembers := readResults(t, dir, DryRunMembersPath)
	dryOrgs, err := schemas.ReadAll(dir.Path(DryRunOrganizationsPath), schemas.OrganizationResults)
	if err != nil {
		t.Fatal(err)
	}

	res, err := runLoad(t, dir, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %v", res.Counts)
	if !res.Partial {
		t.Errorf("load with conflicts is not partial")
	}
	loadMembers := readResults(t, dir, schemas.MemberResults.Path())
	loadOrgs, err := schemas.ReadAll(dir.Path(schemas.OrganizationResults.Path()), schemas.OrganizationResults)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range loadOrgs {
		if got, want := dryOrgs[i].Outcome, dryOutcome(o.Outcome); got != want {
			t.Errorf("organization %s: dry run said %s, load did %s", o.OrgKey, got, o.Outcome)
		}
	}
	if len(dryMembers) != len(loadMembers) {
		t.Errorf("dry run planned %d members, load recorded %d", len(dryMembers), len(loadMembers))
	}
	for k, lr := range loadMembers {
		if got, want := dryMembers[k].Outcome, dryOutcome(lr.Outcome); got != want {
			t.Errorf("member %v: dry run said %s, load did %s (%s)", k, got, lr.Outcome, lr.ErrorType)
		}
	}
	want := map[string]string{
		"org-0000": OutcomeExisting, "org-0001": OutcomeExternalIDAssigned, "org-0002": OutcomeConflict,
		"org-0003": OutcomeCreated,
	}
	for _, o := range loadOrgs {
		if w, ok := want[o.OrgKey]; ok && o.Outcome != w {
			t.Errorf("organization %s: %s, want %s", o.OrgKey, o.Outcome, w)
		}
	}
	wantM := map[string]string{
		p.members[0].SourceUserID: OutcomeExisting, p.members[10].SourceUserID: OutcomeExternalIDAssigned,
		p.members[20].SourceUserID: OutcomeConflict, p.members[30].SourceUserID: OutcomeConflict,
		p.members[2].SourceUserID: OutcomeSkippedOrgFailed, p.members[3].SourceUserID: OutcomeCreated,
	}
	for k, lr := range loadMembers {
		if w, ok := wantM[k[1]]; ok && lr.Outcome != w {
			t.Errorf("member %v: %s (%s), want %s", k, lr.Outcome, lr.ErrorType, w)
		}
	}
	// Everything but the conflicting organization's members and the two conflicting members is
	// there; the seeded objects are untouched apart from the assigned external ids.
	st := srv.Snapshot()
	n := 0
	for _, m := range p.members {
		if m.OrgKey != "org-0002" {
			n++
		}
	}
	// Every planned email outside org-0002 is there (three of them seeded) but member 30's,
	// whose external id is taken; plus the two unplanned seeded members.
	if got := st.MemberCount(); got != n-1+extra-3 {
		t.Errorf("emulator holds %d members, want %d", got, n-1+extra-3)
	}
}

// stateKey describes the emulator's state for before/after comparisons.
func stateKey(st stytchtest.State) string {
	type m struct{ ID, Email, Ext, Status string }
	type o struct {
		ID, Ext, Slug string
		Members       []m
	}
	var out []o
	for _, org := range st.Organizations {
		x := o{ID: org.Organization.OrganizationID, Ext: org.Organization.OrganizationExternalID,
			Slug: org.Organization.OrganizationSlug}
		for _, mm := range org.Members {
			x.Members = append(x.Members, m{mm.Member.MemberID, mm.Member.EmailAddress, mm.Member.ExternalID, mm.Member.Status})
		}
		out = append(out, x)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func TestRollbackRestoresTarget(t *testing.T) {
	p := genPlan(8, 400)
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t)
	sd := newSeeder(t, srv)
	org0 := sd.org("Org 0", "org-0000", "org-0000")
	sd.member(org0, p.members[0].EmailAddress, p.members[0].ExternalID) // planned, exists: must survive
	sd.member(org0, "keep@org0.example.com", "keep")                    // unplanned: must survive
	sd.member(sd.org("Unrelated", "unrelated", "unrelated"), "x@unrelated.example.com", "x")
	before := stateKey(srv.Snapshot())

	cfg := fastConfig()
	res, err := runLoad(t, dir, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts["members_"+OutcomeExisting] != 1 || res.Counts["organizations_"+OutcomeExisting] != 1 {
		t.Fatalf("load counts %v", res.Counts)
	}
	if n := srv.Snapshot().MemberCount(); n != len(p.members)+2 {
		t.Fatalf("after load: %d members, want %d", n, len(p.members)+2)
	}

	mem, copts := checkedOpts()
	rb := NewRollback(cfg, newClient(t, srv, cfg), copts...)
	rres, err := rb.Run(context.Background(), testEnv(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	t.Logf("rollback: %v", rres.Counts)
	if rres.Partial {
		t.Errorf("rollback partial")
	}
	if after := stateKey(srv.Snapshot()); after != before {
		t.Errorf("rollback did not restore the target:\nbefore %s\nafter  %s", before, after)
	}
	// The ledgers are archived: a new load starts over and recreates everything.
	res, err = runLoad(t, dir, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Snapshot().MemberCount(); n != len(p.members)+2 || res.Counts["members_resumed"] != 0 {
		t.Errorf("reload after rollback: %d members (want %d), counts %v", n, len(p.members)+2, res.Counts)
	}
}

func TestRetryFailed(t *testing.T) {
	p := genPlan(3, 60)
	p.members[5].MFAPhoneNumber = "not-a-phone"
	p.members[5].HasPassword = false
	root := t.TempDir()
	dir := writePlan(t, root, p)
	srv := startEmulator(t)
	cfg := fastConfig()
	res, err := runLoad(t, dir, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Partial || res.Counts["members_"+OutcomeFailed] != 1 {
		t.Fatalf("want one failed member and a partial result, got %v", res.Counts)
	}
	r := readResults(t, dir, schemas.MemberResults.Path())[[2]string{p.members[5].OrgKey, p.members[5].SourceUserID}]
	if r.Outcome != OutcomeFailed || r.ErrorType != "invalid_phone_number" {
		t.Errorf("failed member recorded as %+v", r)
	}
	// A plain rerun keeps the failure; --retry-failed after fixing the plan loads it.
	before := srv.Stats().TotalRequests
	if res, err = runLoad(t, dir, srv, cfg); err != nil || res.Counts["members_"+OutcomeFailed] != 1 {
		t.Fatalf("rerun: %v %v", res, err)
	}
	if srv.Stats().TotalRequests != before {
		t.Errorf("plain rerun sent requests")
	}
	p.members[5].MFAPhoneNumber = "+15550000005"
	writeFile(t, dir, schemas.Members, p.members)
	res, err = runLoad(t, dir, srv, cfg, WithRetryFailed(true))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partial || res.Counts["members_attempted"] != 1 {
		t.Errorf("retry-failed: %v", res.Counts)
	}
	checkStateMatchesPlan(t, srv, p, 0)
}

func TestPasswordJoinOutOfOrder(t *testing.T) {
	p := genPlan(4, 400)
	for i, j := 0, len(p.passwords)-1; i < j; i, j = i+1, j-1 {
		p.passwords[i], p.passwords[j] = p.passwords[j], p.passwords[i]
	}
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t)
	res, err := runLoad(t, dir, srv, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	checkStateMatchesPlan(t, srv, p, 0)
	if peak := res.Details["password_join_peak_pending"].(int); peak < len(p.passwords)/2 {
		t.Errorf("peak pending %d for a reversed password file of %d", peak, len(p.passwords))
	}
}

func TestBadPlan(t *testing.T) {
	p := genPlan(2, 10)
	p.members[3].EmailAddress = ""
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t)
	_, err := runLoad(t, dir, srv, fastConfig())
	if err == nil || !containsAll(err.Error(), "members.parquet", "row 4", "email_address") {
		t.Errorf("bad plan error %v", err)
	}
	// A wrong schema version names the file.
	dir2 := writePlan(t, t.TempDir(), p)
	writeFile(t, dir2, schemas.Organizations, nil)
	if err := copyFile(dir2.Path(schemas.Members.Path()), dir2.Path(schemas.Organizations.Path())); err != nil {
		t.Fatal(err)
	}
	_, err = runLoad(t, dir2, srv, fastConfig())
	if err == nil || !containsAll(err.Error(), "organizations.parquet") {
		t.Errorf("wrong schema error %v", err)
	}
	_ = pipeline.ExitOK
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
