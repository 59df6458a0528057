package stytchtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// State is a deep copy of the emulator's B2B state, for tests.
type State struct {
	// Organizations are ordered by (created_at, organization_id).
	Organizations []OrganizationState
}

// OrganizationState is one organization and its members.
type OrganizationState struct {
	Organization stytch.Organization
	// Members are ordered by (created_at, member_id).
	Members []MemberState
}

// MemberState is one member and what the emulator knows of its migrated password: never the
// hash, only its type and [Fingerprint].
type MemberState struct {
	Member              stytch.Member
	PasswordHashType    string
	PasswordFingerprint string
}

// MemberCount returns the number of members across all organizations.
func (st State) MemberCount() int {
	n := 0
	for _, o := range st.Organizations {
		n += len(o.Members)
	}
	return n
}

// Organization returns the organization with the given id, slug or external id.
func (st State) Organization(ref string) (OrganizationState, bool) {
	for _, o := range st.Organizations {
		if o.Organization.OrganizationID == ref || o.Organization.OrganizationSlug == ref ||
			o.Organization.OrganizationExternalID != "" && o.Organization.OrganizationExternalID == ref {
			return o, true
		}
	}
	return OrganizationState{}, false
}

// Snapshot returns a deep copy of all organizations and members.
func (s *Server) Snapshot() State {
	b := s.b2b
	b.mu.RLock()
	defer b.mu.RUnlock()
	var st State
	for _, o := range b.sortedOrgs() {
		os := OrganizationState{Organization: cloneOrganization(o.org)}
		recs := make([]*memberRec, 0, len(o.members))
		for _, r := range o.members {
			recs = append(recs, r)
		}
		slices.SortFunc(recs, func(a, c *memberRec) int { return compareKeys(memberKey(a), memberKey(c)) })
		for _, r := range recs {
			os.Members = append(os.Members, MemberState{Member: cloneMember(r.m), PasswordHashType: r.hashType,
				PasswordFingerprint: r.fingerprint})
		}
		st.Organizations = append(st.Organizations, os)
	}
	return st
}

// ErrNotFound is returned by the admin hooks for an unknown organization or member.
var ErrNotFound = errors.New("stytchtest: not found")

// DeleteMember removes a member behind the client's back (for drift tests). organizationID may
// be an id, slug or external id; memberID an id or external id.
func (s *Server) DeleteMember(organizationID, memberID string) error {
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	org := b.lookupOrg(organizationID)
	if org == nil {
		return fmt.Errorf("organization %q: %w", organizationID, ErrNotFound)
	}
	rec := org.lookupMember(memberID)
	if rec == nil {
		return fmt.Errorf("member %q: %w", memberID, ErrNotFound)
	}
	org.unindexMember(rec)
	return nil
}

// UpdateMember changes a member behind the client's back (for drift tests): fn edits a copy,
// which replaces the member if its email and external id stay unique in the organization. The
// member id and organization id cannot change.
func (s *Server) UpdateMember(organizationID, memberID string, fn func(*stytch.Member)) error {
	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	org := b.lookupOrg(organizationID)
	if org == nil {
		return fmt.Errorf("organization %q: %w", organizationID, ErrNotFound)
	}
	rec := org.lookupMember(memberID)
	if rec == nil {
		return fmt.Errorf("member %q: %w", memberID, ErrNotFound)
	}
	m := cloneMember(rec.m)
	fn(&m)
	m.MemberID, m.OrganizationID = rec.m.MemberID, rec.m.OrganizationID
	if e := org.checkMemberUnique(&m, rec); e != nil {
		return fmt.Errorf("update member: %s", e.typ)
	}
	org.unindexMember(rec)
	org.indexMember(&memberRec{m: m, hashType: rec.hashType, fingerprint: rec.fingerprint})
	return nil
}

// cloneMember deep-copies a member.
func cloneMember(m stytch.Member) stytch.Member {
	m.SSORegistrations = slices.Clone(m.SSORegistrations)
	m.OAuthRegistrations = slices.Clone(m.OAuthRegistrations)
	m.RetiredEmailAddresses = slices.Clone(m.RetiredEmailAddresses)
	roles := make([]stytch.MemberRole, len(m.Roles))
	for i, r := range m.Roles {
		r.Sources = slices.Clone(r.Sources)
		roles[i] = r
	}
	if m.Roles != nil {
		m.Roles = roles
	}
	m.TrustedMetadata = bytes.Clone(m.TrustedMetadata)
	m.UntrustedMetadata = bytes.Clone(m.UntrustedMetadata)
	m.SCIMRegistration = bytes.Clone(m.SCIMRegistration)
	return m
}

// cloneOrganization deep-copies an organization.
func cloneOrganization(o stytch.Organization) stytch.Organization {
	o.SSOJITProvisioningAllowedConnections = slices.Clone(o.SSOJITProvisioningAllowedConnections)
	o.SSOActiveConnections = slices.Clone(o.SSOActiveConnections)
	o.EmailAllowedDomains = slices.Clone(o.EmailAllowedDomains)
	o.AllowedAuthMethods = slices.Clone(o.AllowedAuthMethods)
	o.RBACEmailImplicitRoleAssignments = slices.Clone(o.RBACEmailImplicitRoleAssignments)
	o.AllowedMFAMethods = slices.Clone(o.AllowedMFAMethods)
	o.ClaimedEmailDomains = slices.Clone(o.ClaimedEmailDomains)
	o.AllowedFirstPartyConnectedApps = slices.Clone(o.AllowedFirstPartyConnectedApps)
	o.AllowedThirdPartyConnectedApps = slices.Clone(o.AllowedThirdPartyConnectedApps)
	o.TrustedMetadata = bytes.Clone(o.TrustedMetadata)
	o.AllowedOAuthTenants = bytes.Clone(o.AllowedOAuthTenants)
	if o.SSODefaultConnectionID != nil {
		v := *o.SSODefaultConnectionID
		o.SSODefaultConnectionID = &v
	}
	if o.SCIMActiveConnection != nil {
		c := *o.SCIMActiveConnection
		o.SCIMActiveConnection = &c
	}
	return o
}
