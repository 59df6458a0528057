package stytchtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Stytch's implicit role every member holds.
const defaultRoleID = "stytch_member"

var errMemberNotFound = &apiErr{status: http.StatusNotFound, typ: stytch.ErrorTypeMemberNotFound,
	message: "Member could not be found."}

// memberInput is what create and migrate may set on a new member.
type memberInput struct {
	EmailAddress      string          `json:"email_address"`
	Name              string          `json:"name"`
	TrustedMetadata   json.RawMessage `json:"trusted_metadata"`
	UntrustedMetadata json.RawMessage `json:"untrusted_metadata"`
	IsBreakglass      bool            `json:"is_breakglass"`
	MFAPhoneNumber    string          `json:"mfa_phone_number"`
	MFAEnrolled       bool            `json:"mfa_enrolled"`
	Roles             []string        `json:"roles"`
	ExternalID        string          `json:"external_id"`
}

// validate checks syntax and compacts metadata.
func (in *memberInput) validate() *apiErr {
	if !validEmail(in.EmailAddress) {
		return badRequest(stytch.ErrorTypeInvalidEmail, "Email format is invalid.")
	}
	if in.ExternalID != "" && !validExternalID(in.ExternalID) {
		return badRequest(ErrorTypeInvalidExternalID, "external_id may only contain alphanumerics, '.', '_', '-' "+
			"and '|', and be at most 128 characters.")
	}
	if in.MFAPhoneNumber != "" && !validE164(in.MFAPhoneNumber) {
		return badRequest("invalid_phone_number", "Phone number format is invalid.")
	}
	var e *apiErr
	if in.TrustedMetadata, e = checkMetadata("trusted_metadata", in.TrustedMetadata); e != nil {
		return e
	}
	if in.UntrustedMetadata, e = checkMetadata("untrusted_metadata", in.UntrustedMetadata); e != nil {
		return e
	}
	return nil
}

// newMember builds a member with Stytch's defaults.
func newMember(id, orgID string, in *memberInput, at time.Time) stytch.Member {
	return stytch.Member{
		OrganizationID:        orgID,
		MemberID:              id,
		EmailAddress:          in.EmailAddress,
		Status:                stytch.MemberStatusActive,
		Name:                  in.Name,
		SSORegistrations:      []stytch.SSORegistration{},
		IsBreakglass:          in.IsBreakglass,
		OAuthRegistrations:    []stytch.OAuthRegistration{},
		RetiredEmailAddresses: []stytch.RetiredEmail{},
		MFAEnrolled:           in.MFAEnrolled,
		MFAPhoneNumber:        in.MFAPhoneNumber,
		Roles:                 memberRoles(in.Roles),
		TrustedMetadata:       in.TrustedMetadata,
		UntrustedMetadata:     in.UntrustedMetadata,
		CreatedAt:             at,
		UpdatedAt:             at,
		ExternalID:            in.ExternalID,
	}
}

// memberRoles lists the implicit default role and the explicit ones.
func memberRoles(explicit []string) []stytch.MemberRole {
	roles := []stytch.MemberRole{{RoleID: defaultRoleID, Sources: []stytch.RoleSource{{Type: "direct_assignment",
		Details: json.RawMessage("{}")}}}}
	for _, r := range explicit {
		if r == defaultRoleID || slices.ContainsFunc(roles, func(x stytch.MemberRole) bool { return x.RoleID == r }) {
			continue
		}
		roles = append(roles, stytch.MemberRole{RoleID: r, Sources: []stytch.RoleSource{{Type: "direct_assignment",
			Details: json.RawMessage("{}")}}})
	}
	return roles
}

// checkMemberUnique enforces email (case-insensitive) and external id uniqueness in the org.
func (o *orgRec) checkMemberUnique(m *stytch.Member, self *memberRec) *apiErr {
	if other := o.byEmail[normalizeEmail(m.EmailAddress)]; other != nil && other != self {
		return badRequest(stytch.ErrorTypeDuplicateMemberEmail,
			"A member with the provided email already exists in this organization.")
	}
	if m.ExternalID != "" {
		if other := o.byExt[m.ExternalID]; other != nil && other != self {
			return badRequest(stytch.ErrorTypeDuplicateMemberExternalID,
				"A member with the provided external_id already exists in this organization.")
		}
	}
	return nil
}

func (o *orgRec) indexMember(r *memberRec) {
	o.members[r.m.MemberID] = r
	o.byEmail[normalizeEmail(r.m.EmailAddress)] = r
	if r.m.ExternalID != "" {
		o.byExt[r.m.ExternalID] = r
	}
}

func (o *orgRec) unindexMember(r *memberRec) {
	delete(o.members, r.m.MemberID)
	if k := normalizeEmail(r.m.EmailAddress); o.byEmail[k] == r {
		delete(o.byEmail, k)
	}
	if r.m.ExternalID != "" && o.byExt[r.m.ExternalID] == r {
		delete(o.byExt, r.m.ExternalID)
	}
}

// lookupMember resolves a member id or external id. Callers hold the lock.
// pathMember finds the organization and member a request's path names. The caller holds b.mu.
func (b *b2bStore) pathMember(rc *reqCtx) (*orgRec, *memberRec, *apiErr) {
	org := b.lookupOrg(rc.r.PathValue("organization_id"))
	if org == nil {
		return nil, nil, errOrgNotFound
	}
	rec := org.lookupMember(rc.r.PathValue("member_id"))
	if rec == nil {
		return nil, nil, errMemberNotFound
	}
	return org, rec, nil
}

func (o *orgRec) lookupMember(ref string) *memberRec {
	if r := o.members[ref]; r != nil {
		return r
	}
	return o.byExt[ref]
}

func memberResponse(id string, r *memberRec, org *orgRec) *stytch.MemberResponse {
	return &stytch.MemberResponse{RequestID: id, StatusCode: http.StatusOK, MemberID: r.m.MemberID, Member: r.m,
		Organization: org.org}
}

func (s *Server) createMember(rc *reqCtx) (int, any) {
	var body struct {
		memberInput
		CreateMemberAsPending bool `json:"create_member_as_pending"`
	}
	if e := decodeBody(rc, &body); e != nil {
		return e.status, e
	}
	in := &body.memberInput
	if e := in.validate(); e != nil {
		return e.status, e
	}
	id := "member-test-" + s.faults.uuid()
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	org := b.lookupOrg(rc.r.PathValue("organization_id"))
	if org == nil {
		return errOrgNotFound.status, errOrgNotFound
	}
	m := newMember(id, org.org.OrganizationID, in, now())
	if body.CreateMemberAsPending {
		m.Status = stytch.MemberStatusPending
	}
	if e := org.checkMemberUnique(&m, nil); e != nil {
		return e.status, e
	}
	rec := &memberRec{m: m}
	org.indexMember(rec)
	return http.StatusOK, memberResponse(rc.id, rec, org)
}

func (s *Server) getMember(rc *reqCtx) (int, any) {
	q := rc.r.URL.Query()
	memberID, email := q.Get("member_id"), q.Get("email_address")
	if memberID == "" && email == "" {
		e := badRequest("invalid_member_get_fields", "Either member_id or email_address is required.")
		return e.status, e
	}
	b := s.b2b
	b.mu.RLock()
	defer b.mu.RUnlock()
	org := b.lookupOrg(rc.r.PathValue("organization_id"))
	if org == nil {
		return errOrgNotFound.status, errOrgNotFound
	}
	var rec *memberRec
	if memberID != "" {
		rec = org.lookupMember(memberID)
	} else {
		rec = org.byEmail[normalizeEmail(email)]
	}
	if rec == nil {
		return errMemberNotFound.status, errMemberNotFound
	}
	return http.StatusOK, memberResponse(rc.id, rec, org)
}

func (s *Server) updateMember(rc *reqCtx) (int, any) {
	var body struct {
		Name                     *string         `json:"name"`
		TrustedMetadata          json.RawMessage `json:"trusted_metadata"`
		UntrustedMetadata        json.RawMessage `json:"untrusted_metadata"`
		IsBreakglass             *bool           `json:"is_breakglass"`
		MFAPhoneNumber           *string         `json:"mfa_phone_number"`
		MFAEnrolled              *bool           `json:"mfa_enrolled"`
		Roles                    *[]string       `json:"roles"`
		PreserveExistingSessions bool            `json:"preserve_existing_sessions"`
		DefaultMFAMethod         *string         `json:"default_mfa_method"`
		EmailAddress             *string         `json:"email_address"`
		ExternalID               *string         `json:"external_id"`
		UnlinkEmail              bool            `json:"unlink_email"`
	}
	if e := decodeBody(rc, &body); e != nil {
		return e.status, e
	}
	if body.EmailAddress != nil && !validEmail(*body.EmailAddress) {
		e := badRequest(stytch.ErrorTypeInvalidEmail, "Email format is invalid.")
		return e.status, e
	}
	if body.ExternalID != nil && *body.ExternalID != "" && !validExternalID(*body.ExternalID) {
		e := badRequest(ErrorTypeInvalidExternalID, "external_id may only contain alphanumerics, '.', '_', '-' "+
			"and '|', and be at most 128 characters.")
		return e.status, e
	}
	if body.MFAPhoneNumber != nil && *body.MFAPhoneNumber != "" && !validE164(*body.MFAPhoneNumber) {
		e := badRequest("invalid_phone_number", "Phone number format is invalid.")
		return e.status, e
	}
	var e *apiErr
	if body.TrustedMetadata != nil {
		if body.TrustedMetadata, e = checkMetadata("trusted_metadata", body.TrustedMetadata); e != nil {
			return e.status, e
		}
	}
	if body.UntrustedMetadata != nil {
		if body.UntrustedMetadata, e = checkMetadata("untrusted_metadata", body.UntrustedMetadata); e != nil {
			return e.status, e
		}
	}
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	org, rec, e := b.pathMember(rc)
	if e != nil {
		return e.status, e
	}
	m := cloneMember(rec.m)
	if body.Name != nil {
		m.Name = *body.Name
	}
	if body.TrustedMetadata != nil {
		m.TrustedMetadata = body.TrustedMetadata
	}
	if body.UntrustedMetadata != nil {
		m.UntrustedMetadata = body.UntrustedMetadata
	}
	if body.IsBreakglass != nil {
		m.IsBreakglass = *body.IsBreakglass
	}
	if body.MFAPhoneNumber != nil {
		if m.MFAPhoneNumber != "" && *body.MFAPhoneNumber != m.MFAPhoneNumber {
			e := badRequest("member_phone_number_already_exists", "The member already has an MFA phone number; delete it first.")
			return e.status, e
		}
		m.MFAPhoneNumber = *body.MFAPhoneNumber
	}
	if body.MFAEnrolled != nil {
		m.MFAEnrolled = *body.MFAEnrolled
	}
	if body.Roles != nil {
		m.Roles = memberRoles(*body.Roles)
	}
	if body.DefaultMFAMethod != nil {
		m.DefaultMFAMethod = *body.DefaultMFAMethod
	}
	if body.ExternalID != nil {
		m.ExternalID = *body.ExternalID
	}
	clearPassword := false
	if body.EmailAddress != nil && !strings.EqualFold(*body.EmailAddress, m.EmailAddress) {
		if !body.UnlinkEmail {
			m.RetiredEmailAddresses = append(m.RetiredEmailAddresses, stytch.RetiredEmail{
				EmailID: "email-test-" + s.faults.uuid(), EmailAddress: m.EmailAddress})
		}
		m.EmailAddress = *body.EmailAddress
		m.EmailAddressVerified = false
		m.MemberPasswordID = ""
		clearPassword = true
	}
	m.UpdatedAt = now()
	if e := org.checkMemberUnique(&m, rec); e != nil {
		return e.status, e
	}
	org.unindexMember(rec)
	next := &memberRec{m: m, hashType: rec.hashType, fingerprint: rec.fingerprint}
	if clearPassword {
		next.hashType, next.fingerprint = "", ""
	}
	org.indexMember(next)
	return http.StatusOK, memberResponse(rc.id, next, org)
}

func (s *Server) deleteMember(rc *reqCtx) (int, any) {
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	org, rec, e := b.pathMember(rc)
	if e != nil {
		return e.status, e
	}
	org.unindexMember(rec)
	return http.StatusOK, &stytch.DeleteMemberResponse{RequestID: rc.id, StatusCode: http.StatusOK, MemberID: rec.m.MemberID}
}

func memberKey(r *memberRec) sortKey { return sortKey{at: r.m.CreatedAt, id: r.m.MemberID} }

func (s *Server) searchMembers(rc *reqCtx) (int, any) {
	var req searchRequest
	if e := decodeBody(rc, &req); e != nil {
		return e.status, e
	}
	if len(req.OrganizationIDs) == 0 {
		e := badRequest("member_search_organization_ids_empty", "organization_ids must contain at least one organization.")
		return e.status, e
	}
	p, e := parsePage(&req)
	if e != nil {
		return e.status, e
	}
	var preds []func(*memberRec) bool
	statusFiltered := false
	if req.Query != nil {
		for _, op := range req.Query.Operands {
			pred, e := memberFilter(op)
			if e != nil {
				return e.status, e
			}
			statusFiltered = statusFiltered || op.FilterName == "statuses"
			preds = append(preds, pred)
		}
	}
	match := combine(preds, p.matchAll)
	if !statusFiltered {
		inner := match
		match = func(r *memberRec) bool { return r.m.Status != stytch.MemberStatusDeleted && inner(r) }
	}
	b := s.b2b
	b.mu.RLock()
	var all []*memberRec
	orgByID := map[string]*orgRec{}
	for _, ref := range req.OrganizationIDs {
		org := b.lookupOrg(ref)
		if org == nil {
			b.mu.RUnlock()
			return errOrgNotFound.status, errOrgNotFound
		}
		if orgByID[org.org.OrganizationID] != nil {
			continue
		}
		orgByID[org.org.OrganizationID] = org
		for _, r := range org.members {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, c *memberRec) int { return compareKeys(memberKey(a), memberKey(c)) })
	page, next, total := paginate(all, memberKey, match, p)
	members := make([]stytch.Member, len(page))
	orgs := map[string]stytch.Organization{}
	for i, r := range page {
		members[i] = r.m
		orgs[r.m.OrganizationID] = orgByID[r.m.OrganizationID].org
	}
	b.mu.RUnlock()
	if s.cfg.totalsDisabled {
		total = -1
	}
	return http.StatusOK, &stytch.SearchMembersResponse{RequestID: rc.id, StatusCode: http.StatusOK, Members: members,
		ResultsMetadata: stytch.ResultsMetadata{NextCursor: next, Total: total}, Organizations: orgs}
}

// memberFilter compiles one Search Members operand.
func memberFilter(op searchOperand) (func(*memberRec) bool, *apiErr) {
	switch op.FilterName {
	case "member_ids", "member_emails", "statuses", "member_phone_numbers":
		vs, e := filterStrings(op)
		if e != nil {
			return nil, e
		}
		switch op.FilterName {
		case "member_ids":
			set := stringSet(vs, false)
			return func(r *memberRec) bool { return set[r.m.MemberID] || r.m.ExternalID != "" && set[r.m.ExternalID] }, nil
		case "member_emails":
			set := stringSet(vs, true)
			return func(r *memberRec) bool { return set[normalizeEmail(r.m.EmailAddress)] }, nil
		case "statuses":
			set := stringSet(vs, false)
			return func(r *memberRec) bool { return set[r.m.Status] }, nil
		default:
			set := stringSet(vs, false)
			return func(r *memberRec) bool { return set[r.m.MFAPhoneNumber] }, nil
		}
	case "member_email_fuzzy", "member_phone_number_fuzzy":
		v, e := filterFuzzy(op)
		if e != nil {
			return nil, e
		}
		if op.FilterName == "member_email_fuzzy" {
			return func(r *memberRec) bool { return strings.Contains(normalizeEmail(r.m.EmailAddress), v) }, nil
		}
		return func(r *memberRec) bool { return strings.Contains(r.m.MFAPhoneNumber, v) }, nil
	case "member_is_breakglass":
		v, e := filterBool(op)
		if e != nil {
			return nil, e
		}
		return func(r *memberRec) bool { return r.m.IsBreakglass == v }, nil
	case "member_password_exists":
		v, e := filterBool(op)
		if e != nil {
			return nil, e
		}
		return func(r *memberRec) bool { return (r.m.MemberPasswordID != "") == v }, nil
	}
	return nil, badRequest("member_search_filter_name_not_recognized", "Filter name not recognized: "+op.FilterName+".")
}
