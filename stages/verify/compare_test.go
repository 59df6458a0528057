package verify

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

func planned(user, email, ext string) PlannedMember {
	return PlannedMember{Member: schemas.Member{OrgKey: "acme", SourceUserID: user, EmailAddress: email, ExternalID: ext,
		Name: "N " + user, Status: "active", TrustedMetadata: `{"b":1,"a":[1,2]}`}}
}

func found(id, email, ext string) stytch.Member {
	return stytch.Member{OrganizationID: "org-1", MemberID: id, EmailAddress: email, ExternalID: ext, Status: "active",
		TrustedMetadata: json.RawMessage(`{"a": [1, 2], "b": 1}`)}
}

func kinds(rows []schemas.DriftRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Kind+":"+r.Field)
	}
	return out
}

func TestCompareMembers(t *testing.T) {
	p := []PlannedMember{planned("u1", "a@x.com", "u1"), planned("u2", "b@x.com", "u2"), planned("u3", "c@x.com", "u3"),
		planned("u4", "d@x.com", "u4")}
	f := []stytch.Member{found("m1", "a@x.com", "u1"), found("m3", "C@X.com", "other"), found("m9", "z@x.com", "zz"),
		found("m4", "d@x.com", "u4")}
	f[0].Name = "N u1"
	f[1].Name = "N u3"
	f[3].Name = "changed"
	f[3].Status = "pending"
	f[3].UntrustedMetadata = json.RawMessage(`{"x":true}`)
	got := kinds(CompareMembers("acme", "org-1", p, f))
	want := []string{
		"member_missing:external_id",     // u2 nowhere
		"field_drift:external_id",        // u3 found by email with another external id
		"field_drift:name",               // u4
		"field_drift:status",             // u4
		"field_drift:untrusted_metadata", // u4
		"member_unexpected:external_id",  // m9
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestCompareMembersCleanIsEmpty(t *testing.T) {
	p := []PlannedMember{planned("u1", "a@x.com", "u1")}
	f := []stytch.Member{found("m1", "a@x.com", "u1")}
	f[0].Name = "N u1"
	p[0].Result = &schemas.MemberResult{MemberID: "m1", Outcome: "created"}
	if rows := CompareMembers("acme", "org-1", p, f); len(rows) != 0 {
		t.Errorf("clean comparison gave %+v", rows)
	}
	p[0].Result.MemberID = "m0"
	if got := kinds(CompareMembers("acme", "org-1", p, f)); !slices.Equal(got, []string{"field_drift:member_id"}) {
		t.Errorf("recreated member: %q", got)
	}
}

func TestCompareMembersLoadOutcomes(t *testing.T) {
	conflict := planned("u1", "a@x.com", "u1")
	conflict.Result = &schemas.MemberResult{Outcome: "conflict", ErrorType: "external_id_mismatch"}
	failed := planned("u2", "b@x.com", "u2")
	failed.Result = &schemas.MemberResult{Outcome: "failed", ErrorType: "internal_server_error"}
	fixed := planned("u3", "c@x.com", "u3")
	fixed.Result = &schemas.MemberResult{Outcome: "failed"}
	f := []stytch.Member{found("m1", "a@x.com", "someone-else"), found("m3", "c@x.com", "u3")}
	f[1].Name = "N u3"
	rows := CompareMembers("acme", "org-1", []PlannedMember{conflict, failed, fixed}, f)
	if got := kinds(rows); !slices.Equal(got, []string{"member_missing:external_id", "member_missing:external_id"}) {
		t.Fatalf("got %q", got)
	}
	if rows[0].MemberID != "m1" || rows[0].Actual != `email held by m1 with external id "someone-else" (load outcome conflict: external_id_mismatch)` {
		t.Errorf("conflict row = %+v", rows[0])
	}
	if rows[1].Actual != "not found (load outcome failed: internal_server_error)" {
		t.Errorf("failed row = %+v", rows[1])
	}
}

func TestCompareOrganization(t *testing.T) {
	plan := &schemas.Organization{OrgKey: "acme", ExternalID: "acme", Name: "Acme", Slug: "acme"}
	if rows, ok := CompareOrganization(plan, "", nil); ok || kinds(rows)[0] != "organization_missing:external_id" {
		t.Errorf("missing: %v %v", rows, ok)
	}
	other := &stytch.Organization{OrganizationID: "o", OrganizationSlug: "acme", OrganizationExternalID: "not-acme"}
	if rows, ok := CompareOrganization(plan, "", other); ok || rows[0].Kind != KindOrganizationMissing {
		t.Errorf("slug match taken for ours: %v %v", rows, ok)
	}
	ours := &stytch.Organization{OrganizationID: "o", OrganizationName: "ACME", OrganizationSlug: "acme-2", OrganizationExternalID: "acme"}
	rows, ok := CompareOrganization(plan, "acme-2", ours)
	if !ok || !slices.Equal(kinds(rows), []string{"field_drift:organization_name"}) {
		t.Errorf("drift: %v %v", kinds(rows), ok)
	}
}

func TestCanonicalJSON(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "{}",
		"null":                          "{}",
		" {} ":                          "{}",
		`{"b":1, "a":{"d":2,"c":1.50}}`: `{"a":{"c":1.50,"d":2},"b":1}`,
		`{"x":"<&>"}`:                   `{"x":"<&>"}`,
		`not json`:                      `not json`,
		`{"a":1}{"b":2}`:                `{"a":1}{"b":2}`,
	} {
		if got := CanonicalJSON(in); got != want {
			t.Errorf("CanonicalJSON(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{PageSize: 5000}).WithDefaults().Validate(); err == nil {
		t.Fatal("page_size 5000 accepted")
	}
}

func BenchmarkCompareMembers(b *testing.B) {
	const n = 1000
	p := make([]PlannedMember, n)
	f := make([]stytch.Member, n)
	for i := range n {
		u := "u" + string(rune('a'+i%26)) + strconv.Itoa(i)
		p[i] = planned(u, u+"@x.com", u)
		f[i] = found("m"+u, u+"@x.com", u)
		f[i].Name = "N " + u
	}
	for b.Loop() {
		if rows := CompareMembers("acme", "org-1", p, f); len(rows) != 0 {
			b.Fatal(len(rows))
		}
	}
}
