package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Drift kinds (schemas.DriftRow.Kind).
const (
	KindOrganizationMissing = "organization_missing"
	KindMemberMissing       = "member_missing"
	KindMemberUnexpected    = "member_unexpected"
	KindFieldDrift          = "field_drift"
)

// Compared fields (schemas.DriftRow.Field).
const (
	FieldOrganizationName  = "organization_name"
	FieldOrganizationSlug  = "organization_slug"
	FieldEmail             = "email_address"
	FieldName              = "name"
	FieldExternalID        = "external_id"
	FieldStatus            = "status"
	FieldTrustedMetadata   = "trusted_metadata"
	FieldUntrustedMetadata = "untrusted_metadata"
	FieldMemberID          = "member_id"
)

// Load outcomes (stages/load's names; stages never import each other).
const (
	outcomeConflict = "conflict"
)

// unsuccessfulOutcomes are the load outcomes after which the planned member is not expected to be
// ours in the target; see doc.go for how verify treats them.
var unsuccessfulOutcomes = map[string]bool{"failed": true, outcomeConflict: true, "skipped_org_failed": true}

// PlannedMember is one planned member with its load result, when load recorded one.
type PlannedMember struct {
	Member schemas.Member
	// Result is the member's row of load/members.parquet, or nil.
	Result *schemas.MemberResult
}

// CompareOrganization compares a planned organization with what Get Organization returned for
// its external id (nil: not found). slug is the slug expected in the target: the load result's
// when load recorded one, else the plan's. It returns the drift rows and whether the organization
// is usable for the member comparison.
func CompareOrganization(plan *schemas.Organization, slug string, found *stytch.Organization) ([]schemas.DriftRow, bool) {
	if found == nil {
		return []schemas.DriftRow{{Kind: KindOrganizationMissing, OrgKey: plan.OrgKey, Field: FieldExternalID,
			Expected: plan.ExternalID}}, false
	}
	if found.OrganizationExternalID != plan.ExternalID {
		// Get resolves slugs and ids too: this is another organization that happens to answer to
		// our key, not ours.
		return []schemas.DriftRow{{Kind: KindOrganizationMissing, OrgKey: plan.OrgKey, OrganizationID: found.OrganizationID,
			Field: FieldExternalID, Expected: plan.ExternalID,
			Actual: fmt.Sprintf("key resolves to %s whose external id is %q", found.OrganizationID, found.OrganizationExternalID)}}, false
	}
	var out []schemas.DriftRow
	field := func(name, want, got string) {
		if want != got {
			out = append(out, schemas.DriftRow{Kind: KindFieldDrift, OrgKey: plan.OrgKey, OrganizationID: found.OrganizationID,
				Field: name, Expected: want, Actual: got})
		}
	}
	field(FieldOrganizationName, plan.Name, found.OrganizationName)
	if slug == "" {
		slug = plan.Slug
	}
	field(FieldOrganizationSlug, slug, found.OrganizationSlug)
	return out, true
}

// MissingOrganizationMembers returns a member_missing row for every planned member of an
// organization that is not in the target, so that every planned member not found is counted.
func MissingOrganizationMembers(planned []PlannedMember) []schemas.DriftRow {
	out := make([]schemas.DriftRow, 0, len(planned))
	for i := range planned {
		p := &planned[i]
		out = append(out, schemas.DriftRow{Kind: KindMemberMissing, OrgKey: p.Member.OrgKey, SourceUserID: p.Member.SourceUserID,
			EmailAddress: p.Member.EmailAddress, Field: FieldExternalID, Expected: p.Member.ExternalID,
			Actual: "organization missing" + loadNote(p.Result)})
	}
	return out
}

// CompareMembers compares the planned members of one organization with the members Search
// Members returned for it (non-deleted members only). Planned members are matched by external id,
// then by email; found members matched by neither are unexpected. See doc.go for the rules.
// Rows come out in planned order, then unexpected members in found order.
func CompareMembers(orgKey, orgID string, planned []PlannedMember, found []stytch.Member) []schemas.DriftRow {
	byExt := make(map[string]int, len(found))
	byEmail := make(map[string]int, len(found))
	for i := range found {
		if ext := found[i].ExternalID; ext != "" {
			byExt[ext] = i
		}
		byEmail[strings.ToLower(found[i].EmailAddress)] = i
	}
	used := make([]bool, len(found))
	var out []schemas.DriftRow
	for i := range planned {
		p := &planned[i]
		idx, ok := byExt[p.Member.ExternalID]
		if ok && used[idx] {
			ok = false
		}
		viaEmail := false
		if !ok {
			idx, ok = byEmail[p.Member.EmailAddress]
			viaEmail = ok && !used[idx]
			ok = viaEmail
		}
		base := schemas.DriftRow{OrgKey: orgKey, OrganizationID: orgID, SourceUserID: p.Member.SourceUserID,
			EmailAddress: p.Member.EmailAddress}
		if !ok {
			r := base
			r.Kind, r.Field, r.Expected = KindMemberMissing, FieldExternalID, p.Member.ExternalID
			r.Actual = "not found" + loadNote(p.Result)
			if p.Result != nil {
				r.MemberID = p.Result.MemberID
			}
			out = append(out, r)
			continue
		}
		used[idx] = true
		f := &found[idx]
		base.MemberID = f.MemberID
		if viaEmail && p.Result != nil && p.Result.Outcome == outcomeConflict {
			// The email belongs to a member that is not ours (load found it and did not touch
			// it): ours is missing, and that member is explained by this row.
			r := base
			r.Kind, r.Field, r.Expected = KindMemberMissing, FieldExternalID, p.Member.ExternalID
			r.Actual = fmt.Sprintf("email held by %s with external id %q%s", f.MemberID, f.ExternalID, loadNote(p.Result))
			out = append(out, r)
			continue
		}
		out = append(out, compareFields(base, &p.Member, p.Result, f)...)
	}
	for i := range found {
		if used[i] {
			continue
		}
		f := &found[i]
		out = append(out, schemas.DriftRow{Kind: KindMemberUnexpected, OrgKey: orgKey, OrganizationID: orgID,
			MemberID: f.MemberID, EmailAddress: f.EmailAddress, Field: FieldExternalID, Actual: f.ExternalID})
	}
	return out
}

// compareFields returns a field_drift row for every compared field that differs.
func compareFields(base schemas.DriftRow, want *schemas.Member, res *schemas.MemberResult, got *stytch.Member) []schemas.DriftRow {
	var out []schemas.DriftRow
	field := func(name, w, g string) {
		if w != g {
			r := base
			r.Kind, r.Field, r.Expected, r.Actual = KindFieldDrift, name, w, g
			out = append(out, r)
		}
	}
	field(FieldEmail, want.EmailAddress, strings.ToLower(got.EmailAddress))
	field(FieldName, want.Name, got.Name)
	field(FieldExternalID, want.ExternalID, got.ExternalID)
	field(FieldStatus, want.Status, got.Status)
	field(FieldTrustedMetadata, CanonicalJSON(want.TrustedMetadata), CanonicalJSON(string(got.TrustedMetadata)))
	field(FieldUntrustedMetadata, CanonicalJSON(want.UntrustedMetadata), CanonicalJSON(string(got.UntrustedMetadata)))
	if res != nil && res.MemberID != "" {
		// Another id than load recorded: the member was deleted and made again.
		field(FieldMemberID, res.MemberID, got.MemberID)
	}
	return out
}

// loadNote describes an unsuccessful load outcome for a drift row's Actual, or "".
func loadNote(res *schemas.MemberResult) string {
	if res == nil || !unsuccessfulOutcomes[res.Outcome] {
		return ""
	}
	if res.ErrorType != "" {
		return fmt.Sprintf(" (load outcome %s: %s)", res.Outcome, res.ErrorType)
	}
	return fmt.Sprintf(" (load outcome %s)", res.Outcome)
}

// CanonicalJSON returns metadata JSON text in a canonical form: compact, object keys sorted at
// every level, numbers as written. Absent, null and empty objects are all "{}" (Stytch returns
// an empty object for a member created without metadata). Text that is not JSON is returned
// unchanged, so that it differs from anything valid.
func CanonicalJSON(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return "{}"
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	if v == nil {
		return "{}"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return s
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
