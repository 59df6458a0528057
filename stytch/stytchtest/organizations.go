package stytchtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// b2bStore holds the B2B project's organizations and their members. Stored values are never
// mutated in place: an update builds a new value (copy on write), so a shallow copy taken under
// the read lock stays valid after it is released.
type b2bStore struct {
	mu     sync.RWMutex
	orgs   map[string]*orgRec // by organization_id
	bySlug map[string]*orgRec
	byExt  map[string]*orgRec
}

// orgRec is one organization and its members.
type orgRec struct {
	org     stytch.Organization
	members map[string]*memberRec // by member_id
	byEmail map[string]*memberRec // by lower-cased email
	byExt   map[string]*memberRec // by external_id
}

// memberRec is one member. A migrated password is kept only as its hash type and a short
// fingerprint (see [Fingerprint]); the hash itself is never stored.
type memberRec struct {
	m           stytch.Member
	hashType    string
	fingerprint string
}

func newB2BStore() *b2bStore {
	return &b2bStore{orgs: map[string]*orgRec{}, bySlug: map[string]*orgRec{}, byExt: map[string]*orgRec{}}
}

// lookupOrg resolves an organization id, slug or external id. Callers hold the lock.
func (b *b2bStore) lookupOrg(ref string) *orgRec {
	if o := b.orgs[ref]; o != nil {
		return o
	}
	if o := b.bySlug[ref]; o != nil {
		return o
	}
	return b.byExt[ref]
}

var errOrgNotFound = &apiErr{status: http.StatusNotFound, typ: stytch.ErrorTypeOrganizationNotFound,
	message: "Organization could not be found."}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// orgFields are the settable fields shared by create and update.
type orgFields struct {
	OrganizationName                     *string                              `json:"organization_name"`
	OrganizationSlug                     *string                              `json:"organization_slug"`
	OrganizationLogoURL                  *string                              `json:"organization_logo_url"`
	TrustedMetadata                      json.RawMessage                      `json:"trusted_metadata"`
	OrganizationExternalID               *string                              `json:"organization_external_id"`
	SSODefaultConnectionID               *string                              `json:"sso_default_connection_id"`
	SSOJITProvisioning                   *string                              `json:"sso_jit_provisioning"`
	SSOJITProvisioningAllowedConnections []string                             `json:"sso_jit_provisioning_allowed_connections"`
	EmailAllowedDomains                  []string                             `json:"email_allowed_domains"`
	EmailJITProvisioning                 *string                              `json:"email_jit_provisioning"`
	EmailInvites                         *string                              `json:"email_invites"`
	AuthMethods                          *string                              `json:"auth_methods"`
	AllowedAuthMethods                   []string                             `json:"allowed_auth_methods"`
	MFAPolicy                            *string                              `json:"mfa_policy"`
	RBACEmailImplicitRoleAssignments     []stytch.EmailImplicitRoleAssignment `json:"rbac_email_implicit_role_assignments"`
	MFAMethods                           *string                              `json:"mfa_methods"`
	AllowedMFAMethods                    []string                             `json:"allowed_mfa_methods"`
	OAuthTenantJITProvisioning           *string                              `json:"oauth_tenant_jit_provisioning"`
	AllowedOAuthTenants                  json.RawMessage                      `json:"allowed_oauth_tenants"`
	ClaimedEmailDomains                  []string                             `json:"claimed_email_domains"`
	FirstPartyConnectedAppsAllowedType   *string                              `json:"first_party_connected_apps_allowed_type"`
	AllowedFirstPartyConnectedApps       []string                             `json:"allowed_first_party_connected_apps"`
	ThirdPartyConnectedAppsAllowedType   *string                              `json:"third_party_connected_apps_allowed_type"`
	AllowedThirdPartyConnectedApps       []string                             `json:"allowed_third_party_connected_apps"`
}

// validate checks the fields' syntax; create says whether name and slug are required.
func (f *orgFields) validate(create bool) *apiErr {
	if f.OrganizationName != nil || create {
		name := ""
		if f.OrganizationName != nil {
			name = strings.TrimSpace(*f.OrganizationName)
		}
		switch n := utf8.RuneCountInString(name); {
		case n == 0:
			return badRequest("organization_name_missing", "organization_name is required.")
		case n > MaxOrganizationNameLength:
			return badRequest("invalid_organization_name", "organization_name must be at most 128 characters.")
		}
	}
	if f.OrganizationSlug != nil || create {
		if f.OrganizationSlug == nil || !validSlug(*f.OrganizationSlug) {
			return badRequest("invalid_organization_slug", "organization_slug must be at least 2 characters long "+
				"and may only contain alphanumerics and the reserved characters '-', '.', '_', or '~'. "+
				"At least one character must be alphanumeric.")
		}
	}
	if f.OrganizationExternalID != nil && *f.OrganizationExternalID != "" && !validExternalID(*f.OrganizationExternalID) {
		return badRequest(ErrorTypeInvalidExternalID, "organization_external_id may only contain alphanumerics, "+
			"'.', '_', '-' and '|', and be at most 128 characters.")
	}
	if f.TrustedMetadata != nil {
		md, e := checkMetadata("trusted_metadata", f.TrustedMetadata)
		if e != nil {
			return e
		}
		f.TrustedMetadata = md
	}
	return nil
}

// apply sets the given fields on o.
func (f *orgFields) apply(o *stytch.Organization) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&o.OrganizationName, f.OrganizationName)
	set(&o.OrganizationSlug, f.OrganizationSlug)
	set(&o.OrganizationLogoURL, f.OrganizationLogoURL)
	set(&o.OrganizationExternalID, f.OrganizationExternalID)
	set(&o.SSOJITProvisioning, f.SSOJITProvisioning)
	set(&o.EmailJITProvisioning, f.EmailJITProvisioning)
	set(&o.EmailInvites, f.EmailInvites)
	set(&o.AuthMethods, f.AuthMethods)
	set(&o.MFAPolicy, f.MFAPolicy)
	set(&o.MFAMethods, f.MFAMethods)
	set(&o.OAuthTenantJITProvisioning, f.OAuthTenantJITProvisioning)
	set(&o.FirstPartyConnectedAppsAllowedType, f.FirstPartyConnectedAppsAllowedType)
	set(&o.ThirdPartyConnectedAppsAllowedType, f.ThirdPartyConnectedAppsAllowedType)
	if f.OrganizationName != nil {
		o.OrganizationName = strings.TrimSpace(*f.OrganizationName)
	}
	if f.SSODefaultConnectionID != nil {
		v := *f.SSODefaultConnectionID
		o.SSODefaultConnectionID = &v
	}
	if f.TrustedMetadata != nil {
		o.TrustedMetadata = f.TrustedMetadata
	}
	if f.AllowedOAuthTenants != nil {
		o.AllowedOAuthTenants = f.AllowedOAuthTenants
	}
	lists := []struct {
		dst *[]string
		src []string
	}{
		{&o.SSOJITProvisioningAllowedConnections, f.SSOJITProvisioningAllowedConnections},
		{&o.EmailAllowedDomains, f.EmailAllowedDomains},
		{&o.AllowedAuthMethods, f.AllowedAuthMethods},
		{&o.AllowedMFAMethods, f.AllowedMFAMethods},
		{&o.ClaimedEmailDomains, f.ClaimedEmailDomains},
		{&o.AllowedFirstPartyConnectedApps, f.AllowedFirstPartyConnectedApps},
		{&o.AllowedThirdPartyConnectedApps, f.AllowedThirdPartyConnectedApps},
	}
	for _, l := range lists {
		if l.src != nil {
			*l.dst = slices.Clone(l.src)
		}
	}
	if f.RBACEmailImplicitRoleAssignments != nil {
		o.RBACEmailImplicitRoleAssignments = slices.Clone(f.RBACEmailImplicitRoleAssignments)
	}
}

// newOrganization returns an organization with Stytch's defaults.
func newOrganization(id string, at time.Time) stytch.Organization {
	return stytch.Organization{
		OrganizationID:                       id,
		SSOJITProvisioning:                   "ALL_ALLOWED",
		SSOJITProvisioningAllowedConnections: []string{},
		SSOActiveConnections:                 []stytch.SSOActiveConnection{},
		EmailAllowedDomains:                  []string{},
		EmailJITProvisioning:                 "NOT_ALLOWED",
		EmailInvites:                         "ALL_ALLOWED",
		AuthMethods:                          "ALL_ALLOWED",
		AllowedAuthMethods:                   []string{},
		MFAPolicy:                            "OPTIONAL",
		RBACEmailImplicitRoleAssignments:     []stytch.EmailImplicitRoleAssignment{},
		MFAMethods:                           "ALL_ALLOWED",
		AllowedMFAMethods:                    []string{},
		OAuthTenantJITProvisioning:           "NOT_ALLOWED",
		ClaimedEmailDomains:                  []string{},
		FirstPartyConnectedAppsAllowedType:   "ALL_ALLOWED",
		AllowedFirstPartyConnectedApps:       []string{},
		ThirdPartyConnectedAppsAllowedType:   "ALL_ALLOWED",
		AllowedThirdPartyConnectedApps:       []string{},
		TrustedMetadata:                      json.RawMessage("{}"),
		AllowedOAuthTenants:                  json.RawMessage("{}"),
		CreatedAt:                            at,
		UpdatedAt:                            at,
	}
}

func (s *Server) createOrganization(rc *reqCtx) (int, any) {
	var f orgFields
	if e := decodeBody(rc, &f); e != nil {
		return e.status, e
	}
	if e := f.validate(true); e != nil {
		return e.status, e
	}
	at := now()
	org := newOrganization("organization-test-"+s.faults.uuid(), at)
	f.apply(&org)
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.checkOrgUnique(&org, nil); e != nil {
		return e.status, e
	}
	rec := &orgRec{org: org, members: map[string]*memberRec{}, byEmail: map[string]*memberRec{}, byExt: map[string]*memberRec{}}
	b.indexOrg(rec)
	return http.StatusOK, &stytch.OrganizationResponse{RequestID: rc.id, StatusCode: http.StatusOK, Organization: org}
}

// checkOrgUnique enforces slug and external id uniqueness in the project (self excluded).
func (b *b2bStore) checkOrgUnique(o *stytch.Organization, self *orgRec) *apiErr {
	if other := b.bySlug[o.OrganizationSlug]; other != nil && other != self {
		return badRequest(stytch.ErrorTypeOrganizationSlugUsed,
			"The provided organization_slug is already used in another organization.")
	}
	if o.OrganizationExternalID != "" {
		if other := b.byExt[o.OrganizationExternalID]; other != nil && other != self {
			// UNCONFIRMED error type: Stytch documents none for this clash.
			return badRequest(stytch.ErrorTypeOrganizationExternalIDUsed,
				"The provided organization_external_id is already used in another organization.")
		}
	}
	return nil
}

func (b *b2bStore) indexOrg(rec *orgRec) {
	b.orgs[rec.org.OrganizationID] = rec
	b.bySlug[rec.org.OrganizationSlug] = rec
	if rec.org.OrganizationExternalID != "" {
		b.byExt[rec.org.OrganizationExternalID] = rec
	}
}

func (b *b2bStore) unindexOrg(rec *orgRec) {
	delete(b.orgs, rec.org.OrganizationID)
	if b.bySlug[rec.org.OrganizationSlug] == rec {
		delete(b.bySlug, rec.org.OrganizationSlug)
	}
	if ext := rec.org.OrganizationExternalID; ext != "" && b.byExt[ext] == rec {
		delete(b.byExt, ext)
	}
}

func (s *Server) getOrganization(rc *reqCtx) (int, any) {
	b := s.b2b
	b.mu.RLock()
	rec := b.lookupOrg(rc.r.PathValue("organization_id"))
	var org stytch.Organization
	if rec != nil {
		org = rec.org
	}
	b.mu.RUnlock()
	if rec == nil {
		return errOrgNotFound.status, errOrgNotFound
	}
	return http.StatusOK, &stytch.OrganizationResponse{RequestID: rc.id, StatusCode: http.StatusOK, Organization: org}
}

func (s *Server) updateOrganization(rc *reqCtx) (int, any) {
	var f orgFields
	if e := decodeBody(rc, &f); e != nil {
		return e.status, e
	}
	if e := f.validate(false); e != nil {
		return e.status, e
	}
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.lookupOrg(rc.r.PathValue("organization_id"))
	if rec == nil {
		return errOrgNotFound.status, errOrgNotFound
	}
	org := rec.org
	f.apply(&org)
	org.UpdatedAt = now()
	if e := b.checkOrgUnique(&org, rec); e != nil {
		return e.status, e
	}
	b.unindexOrg(rec)
	rec.org = org
	b.indexOrg(rec)
	return http.StatusOK, &stytch.OrganizationResponse{RequestID: rc.id, StatusCode: http.StatusOK, Organization: org}
}

func (s *Server) deleteOrganization(rc *reqCtx) (int, any) {
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.lookupOrg(rc.r.PathValue("organization_id"))
	if rec == nil {
		return errOrgNotFound.status, errOrgNotFound
	}
	b.unindexOrg(rec)
	return http.StatusOK, &stytch.DeleteOrganizationResponse{RequestID: rc.id, StatusCode: http.StatusOK,
		OrganizationID: rec.org.OrganizationID}
}

func orgKey(o *orgRec) sortKey { return sortKey{at: o.org.CreatedAt, id: o.org.OrganizationID} }

// sortedOrgs returns all organizations by (created_at, id). Callers hold the lock.
func (b *b2bStore) sortedOrgs() []*orgRec {
	out := make([]*orgRec, 0, len(b.orgs))
	for _, o := range b.orgs {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, c *orgRec) int { return compareKeys(orgKey(a), orgKey(c)) })
	return out
}

func compareKeys(a, b sortKey) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

func (s *Server) searchOrganizations(rc *reqCtx) (int, any) {
	var req searchRequest
	if e := decodeBody(rc, &req); e != nil {
		return e.status, e
	}
	p, e := parsePage(&req)
	if e != nil {
		return e.status, e
	}
	var preds []func(*orgRec) bool
	if req.Query != nil {
		for _, op := range req.Query.Operands {
			pred, e := orgFilter(op)
			if e != nil {
				return e.status, e
			}
			preds = append(preds, pred)
		}
	}
	b := s.b2b
	b.mu.RLock()
	page, next, total := paginate(b.sortedOrgs(), orgKey, combine(preds, p.matchAll), p)
	orgs := make([]stytch.Organization, len(page))
	for i, o := range page {
		orgs[i] = o.org
	}
	b.mu.RUnlock()
	if s.cfg.totalsDisabled {
		total = -1
	}
	return http.StatusOK, &stytch.SearchOrganizationsResponse{RequestID: rc.id, StatusCode: http.StatusOK,
		Organizations: orgs, ResultsMetadata: stytch.ResultsMetadata{NextCursor: next, Total: total}}
}

// orgFilter compiles one Search Organizations operand. The predicate runs under the read lock.
func orgFilter(op searchOperand) (func(*orgRec) bool, *apiErr) {
	switch op.FilterName {
	case "organization_ids", "organization_slugs", "allowed_domains", "claimed_email_domains", "member_emails":
		vs, e := filterStrings(op)
		if e != nil {
			return nil, e
		}
		fold := op.FilterName == "member_emails"
		set := stringSet(vs, fold)
		switch op.FilterName {
		case "organization_ids":
			return func(o *orgRec) bool { return set[o.org.OrganizationID] }, nil
		case "organization_slugs":
			return func(o *orgRec) bool { return set[o.org.OrganizationSlug] }, nil
		case "allowed_domains":
			return func(o *orgRec) bool { return anyIn(o.org.EmailAllowedDomains, set) }, nil
		case "claimed_email_domains":
			return func(o *orgRec) bool { return anyIn(o.org.ClaimedEmailDomains, set) }, nil
		default:
			return func(o *orgRec) bool {
				for email := range set {
					if o.byEmail[email] != nil {
						return true
					}
				}
				return false
			}, nil
		}
	case "organization_slug_fuzzy", "organization_name_fuzzy", "member_email_fuzzy", "allowed_domain_fuzzy":
		v, e := filterFuzzy(op)
		if e != nil {
			return nil, e
		}
		switch op.FilterName {
		case "organization_slug_fuzzy":
			return func(o *orgRec) bool { return strings.Contains(strings.ToLower(o.org.OrganizationSlug), v) }, nil
		case "organization_name_fuzzy":
			return func(o *orgRec) bool { return strings.Contains(strings.ToLower(o.org.OrganizationName), v) }, nil
		case "allowed_domain_fuzzy":
			return func(o *orgRec) bool {
				for _, d := range o.org.EmailAllowedDomains {
					if strings.Contains(strings.ToLower(d), v) {
						return true
					}
				}
				return false
			}, nil
		default:
			return func(o *orgRec) bool {
				for email := range o.byEmail {
					if strings.Contains(email, v) {
						return true
					}
				}
				return false
			}, nil
		}
	}
	return nil, badRequest("organization_search_filter_name_not_recognized", "Filter name not recognized: "+op.FilterName+".")
}

func anyIn(vs []string, set map[string]bool) bool {
	for _, v := range vs {
		if set[v] {
			return true
		}
	}
	return false
}
