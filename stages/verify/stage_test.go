package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/schemas/schemastest"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// testConfig makes windows, search chunks and pages small so that a small plan crosses all of
// their boundaries, and lifts the search rate so the test does not wait.
var testConfig = Config{SearchRatePerMinute: 60_000, PageSize: 2, OrgsPerSearch: 2, WindowMembers: 3, Rate: 1000}

func writeRows[T any](t *testing.T, mem memory.Allocator, dir, rel string, spec *schemas.Spec[T], rows []T) {
	t.Helper()
	schemastest.WriteFile(t, filepath.Join(dir, filepath.FromSlash(rel)), spec,
		schemas.FileMeta{ToolVersion: "test", RunID: "run"}, rows, schemas.WithWriterAllocator(mem))
}

// world is a run directory with a plan and an emulator loaded from it.
type world struct {
	dir    string
	srv    *stytchtest.Server
	client *stytch.B2BClient
	mem    *memory.CheckedAllocator
}

// newWorld plans orgs acme (4 members), globex (3) and tiny (1), plus ghost (2 members) that is
// never created, loads the rest into a fresh emulator through the client, and writes
// load/members.parquet with the member ids.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), mem: memory.NewCheckedAllocator(memory.DefaultAllocator)}
	t.Cleanup(func() { w.mem.AssertSize(t, 0) })
	w.srv = stytchtest.NewServer()
	if err := w.srv.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.srv.Close)
	var err error
	w.client, err = stytch.NewB2BClient(w.srv.B2BConfig(), stytch.WithRateLimit(1000, 100))
	if err != nil {
		t.Fatal(err)
	}
	sizes := []struct {
		key string
		n   int
	}{{"acme", 4}, {"globex", 3}, {"tiny", 1}, {"ghost", 2}}
	var orgs []schemas.Organization
	var members []schemas.Member
	for _, s := range sizes {
		orgs = append(orgs, schemas.Organization{OrgKey: s.key, Name: "Org " + s.key, Slug: s.key + "-inc", ExternalID: s.key,
			SlugSource: "derived", MemberCount: int64(s.n)})
		for i := range s.n {
			u := fmt.Sprintf("user-%s-%d", s.key, i)
			m := schemas.Member{OrgKey: s.key, SourceUserID: u, EmailAddress: fmt.Sprintf("%s.%d@%s.com", "p", i, s.key),
				Name: "Person " + u, ExternalID: u, ExternalIDSource: "user_id", Status: "active", SurvivorRule: "unique"}
			if i == 1 {
				m.TrustedMetadata = `{"role":"admin","teams":["a","b"]}`
				m.Status = "pending"
			}
			members = append(members, m)
		}
	}
	writeRows(t, w.mem, w.dir, schemas.Organizations.Path(), schemas.Organizations, orgs)
	writeRows(t, w.mem, w.dir, schemas.Members.Path(), schemas.Members, members)

	ctx := context.Background()
	var results []schemas.MemberResult
	for _, o := range orgs {
		if o.OrgKey == "ghost" {
			continue
		}
		if _, err := w.client.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: o.Name,
			OrganizationSlug: o.Slug, OrganizationExternalID: o.ExternalID}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members {
		if m.OrgKey == "ghost" {
			results = append(results, schemas.MemberResult{SourceUserID: m.SourceUserID, OrgKey: m.OrgKey,
				EmailAddress: m.EmailAddress, Outcome: "skipped_org_failed", ErrorType: "organization_failed"})
			continue
		}
		resp, err := w.client.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: m.OrgKey, EmailAddress: m.EmailAddress,
			Name: m.Name, ExternalID: m.ExternalID, TrustedMetadata: rawOrNil(m.TrustedMetadata),
			CreateMemberAsPending: m.Status == "pending"})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, schemas.MemberResult{SourceUserID: m.SourceUserID, OrgKey: m.OrgKey, EmailAddress: m.EmailAddress,
			ExternalID: m.ExternalID, OrganizationID: resp.Member.OrganizationID, MemberID: resp.MemberID, Outcome: "created"})
	}
	writeRows(t, w.mem, w.dir, schemas.MemberResults.Path(), schemas.MemberResults, results)
	return w
}

func rawOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// verify runs the stage through pipeline.RunStage and returns its result and the drift rows.
func (w *world) verify(t *testing.T) (*pipeline.Result, []schemas.DriftRow) {
	t.Helper()
	d, err := pipeline.OpenRunDir(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(w.srv.B2BConfig(), testConfig)
	if err != nil {
		t.Fatal(err)
	}
	target := NewClientTarget(client, testConfig.SearchRatePerMinute)
	st := New(testConfig, target, WithReaderOptions(schemas.WithReaderAllocator(w.mem)),
		WithWriterOptions(schemas.WithWriterAllocator(w.mem)))
	res, err := pipeline.RunStage(context.Background(), &pipeline.Env{Dir: d, ToolVersion: "test"}, st)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := schemas.ReadAll(d.Path(schemas.Drift.Path()), schemas.Drift, schemas.WithReaderAllocator(w.mem))
	if err != nil {
		t.Fatal(err)
	}
	return res, rows
}

func summary(rows []schemas.DriftRow) []string {
	var out []string
	for _, r := range rows {
		s := r.Kind + " " + r.OrgKey + " " + r.SourceUserID + " " + r.Field
		if r.Kind == KindMemberUnexpected {
			s = r.Kind + " " + r.OrgKey + " " + r.EmailAddress
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// ghostDrift is the drift of the organization the plan names and the emulator never got.
var ghostDrift = []string{
	"member_missing ghost user-ghost-0 external_id",
	"member_missing ghost user-ghost-1 external_id",
	"organization_missing ghost  external_id",
}

func TestCleanLoadHasNoDrift(t *testing.T) {
	w := newWorld(t)
	if err := os.Remove(filepath.Join(w.dir, schemas.Members.Path())); err != nil {
		t.Fatal(err)
	}
	// Re-plan without ghost: a plan the target fully holds.
	var orgs []schemas.Organization
	all, err := schemas.ReadAll(filepath.Join(w.dir, schemas.Organizations.Path()), schemas.Organizations)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range all {
		if o.OrgKey != "ghost" {
			orgs = append(orgs, o)
		}
	}
	var members []schemas.Member
	for _, o := range orgs {
		for i := range int(o.MemberCount) {
			u := fmt.Sprintf("user-%s-%d", o.OrgKey, i)
			m := schemas.Member{OrgKey: o.OrgKey, SourceUserID: u, EmailAddress: fmt.Sprintf("p.%d@%s.com", i, o.OrgKey),
				Name: "Person " + u, ExternalID: u, ExternalIDSource: "user_id", Status: "active", SurvivorRule: "unique"}
			if i == 1 {
				m.TrustedMetadata = `{"teams":["a","b"], "role":"admin"}` // same object, other key order
				m.Status = "pending"
			}
			members = append(members, m)
		}
	}
	writeRows(t, w.mem, w.dir, schemas.Organizations.Path(), schemas.Organizations, orgs)
	writeRows(t, w.mem, w.dir, schemas.Members.Path(), schemas.Members, members)
	res, rows := w.verify(t)
	if len(rows) != 0 || res.Partial {
		t.Fatalf("clean load: partial=%v drift=%q", res.Partial, summary(rows))
	}
	if res.Counts["members_planned"] != 8 || res.Counts["members_found"] != 8 || res.Counts["organizations_found"] != 3 {
		t.Errorf("counts = %v", res.Counts)
	}
	// acme (4) and globex (3) need 2 and 2 pages of 2, tiny 1: windows of 3 members and chunks of
	// 2 organizations give 3 search chunks here.
	if res.Counts["search_requests"] < 3 || res.Counts["get_requests"] != 3 {
		t.Errorf("requests = %v", res.Counts)
	}
}

func TestDriftBehindOurBack(t *testing.T) {
	w := newWorld(t)
	res, rows := w.verify(t)
	if !slices.Equal(summary(rows), ghostDrift) || !res.Partial {
		t.Fatalf("before changes: %q", summary(rows))
	}
	// Behind our back: a member deleted, a name changed, a member added, an org renamed.
	if err := w.srv.DeleteMember("acme", "user-acme-2"); err != nil {
		t.Fatal(err)
	}
	if err := w.srv.UpdateMember("globex", "user-globex-0", func(m *stytch.Member) { m.Name = "Someone Else" }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.client.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "tiny", EmailAddress: "intruder@tiny.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.Organizations.Update(ctx, stytch.UpdateOrganizationParams{OrganizationID: "acme", OrganizationName: "Acme Renamed"}); err != nil {
		t.Fatal(err)
	}
	res, rows = w.verify(t)
	want := append([]string{
		"field_drift acme  organization_name",
		"field_drift globex user-globex-0 name",
		"member_missing acme user-acme-2 external_id",
		"member_unexpected tiny intruder@tiny.com",
	}, ghostDrift...)
	slices.Sort(want)
	if got := summary(rows); !slices.Equal(got, want) {
		t.Fatalf("drift:\n got %q\nwant %q", got, want)
	}
	for _, r := range rows {
		switch {
		case r.Field == FieldName && (r.Expected != "Person user-globex-0" || r.Actual != "Someone Else" || r.MemberID == ""):
			t.Errorf("name drift row = %+v", r)
		case r.Kind == KindMemberMissing && r.OrgKey == "acme" && r.MemberID == "":
			t.Errorf("missing member row lacks the member id load recorded: %+v", r)
		case r.Kind == KindMemberMissing && r.OrgKey == "ghost" && r.Actual != "organization missing (load outcome skipped_org_failed: organization_failed)":
			t.Errorf("ghost member row = %+v", r)
		}
	}
	if !res.Partial || res.Counts["drift"] != int64(len(want)) || res.Counts["drift_member_missing"] != 3 {
		t.Errorf("result partial=%v counts=%v", res.Partial, res.Counts)
	}
}

func TestMissingPlanIsAnError(t *testing.T) {
	d, err := pipeline.OpenRunDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := stytchtest.NewServer()
	if err := srv.Start(""); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := NewClient(srv.B2BConfig(), testConfig)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(testConfig, NewClientTarget(client, 6000)).Run(context.Background(), &pipeline.Env{Dir: d})
	if err == nil {
		t.Fatal("verify without a plan succeeded")
	}
	if _, serr := os.Stat(d.Path(schemas.Drift.Path())); !os.IsNotExist(serr) {
		t.Error("drift.parquet written after a failure")
	}
}
