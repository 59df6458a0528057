package stytch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Member statuses.
const (
	MemberStatusActive  = "active"
	MemberStatusPending = "pending"
	MemberStatusInvited = "invited"
	MemberStatusDeleted = "deleted"
)

// Member is a Stytch B2B Member of one organization.
type Member struct {
	OrganizationID string `json:"organization_id"`
	MemberID       string `json:"member_id"`
	EmailAddress   string `json:"email_address"`
	Status         string `json:"status"`
	// Name is a single string for members (a Consumer user's name is an object).
	Name                   string              `json:"name"`
	SSORegistrations       []SSORegistration   `json:"sso_registrations"`
	IsBreakglass           bool                `json:"is_breakglass"`
	MemberPasswordID       string              `json:"member_password_id"`
	OAuthRegistrations     []OAuthRegistration `json:"oauth_registrations"`
	EmailAddressVerified   bool                `json:"email_address_verified"`
	MFAPhoneNumberVerified bool                `json:"mfa_phone_number_verified"`
	IsAdmin                bool                `json:"is_admin"`
	TOTPRegistrationID     string              `json:"totp_registration_id"`
	RetiredEmailAddresses  []RetiredEmail      `json:"retired_email_addresses"`
	IsLocked               bool                `json:"is_locked"`
	MFAEnrolled            bool                `json:"mfa_enrolled"`
	MFAPhoneNumber         string              `json:"mfa_phone_number"`
	DefaultMFAMethod       string              `json:"default_mfa_method"`
	Roles                  []MemberRole        `json:"roles"`
	TrustedMetadata        json.RawMessage     `json:"trusted_metadata,omitempty"`
	UntrustedMetadata      json.RawMessage     `json:"untrusted_metadata,omitempty"`
	CreatedAt              time.Time           `json:"created_at,omitzero"`
	UpdatedAt              time.Time           `json:"updated_at,omitzero"`
	SCIMRegistration       json.RawMessage     `json:"scim_registration,omitempty"`
	ExternalID             string              `json:"external_id,omitempty"`
	LockCreatedAt          *time.Time          `json:"lock_created_at,omitempty"`
	LockExpiresAt          *time.Time          `json:"lock_expires_at,omitempty"`
}

// SSORegistration links a member to an SSO connection.
type SSORegistration struct {
	ConnectionID   string          `json:"connection_id"`
	ExternalID     string          `json:"external_id"`
	RegistrationID string          `json:"registration_id"`
	SSOAttributes  json.RawMessage `json:"sso_attributes,omitempty"`
}

// OAuthRegistration links a member to an OAuth identity.
type OAuthRegistration struct {
	ProviderType              string `json:"provider_type"`
	ProviderSubject           string `json:"provider_subject"`
	MemberOAuthRegistrationID string `json:"member_oauth_registration_id"`
	ProfilePictureURL         string `json:"profile_picture_url"`
	Locale                    string `json:"locale"`
}

// RetiredEmail is an email address a member used before.
type RetiredEmail struct {
	EmailID      string `json:"email_id"`
	EmailAddress string `json:"email_address"`
}

// MemberRole is a role a member holds and where it comes from.
type MemberRole struct {
	RoleID  string       `json:"role_id"`
	Sources []RoleSource `json:"sources"`
}

// RoleSource says why a member holds a role ("direct_assignment", "email_assignment", ...).
type RoleSource struct {
	Type    string          `json:"type"`
	Details json.RawMessage `json:"details,omitempty"`
}

// CreateMemberParams is the body of Create Member. OrganizationID goes in the path (id, slug or
// organization external id); EmailAddress is required.
type CreateMemberParams struct {
	OrganizationID        string          `json:"-"`
	EmailAddress          string          `json:"email_address"`
	Name                  string          `json:"name,omitempty"`
	TrustedMetadata       json.RawMessage `json:"trusted_metadata,omitempty"`
	UntrustedMetadata     json.RawMessage `json:"untrusted_metadata,omitempty"`
	CreateMemberAsPending bool            `json:"create_member_as_pending,omitempty"`
	IsBreakglass          bool            `json:"is_breakglass,omitempty"`
	MFAPhoneNumber        string          `json:"mfa_phone_number,omitempty"`
	MFAEnrolled           bool            `json:"mfa_enrolled,omitempty"`
	Roles                 []string        `json:"roles,omitempty"`
	ExternalID            string          `json:"external_id,omitempty"`
}

// GetMemberParams says which member to get: by MemberID (a member id or the member's external id)
// or by EmailAddress. At least one is required; only non-empty ones are sent.
type GetMemberParams struct {
	OrganizationID string
	MemberID       string
	EmailAddress   string
}

// UpdateMemberParams is the body of Update Member; zero fields are left unchanged. MemberID may be
// the member's external id.
type UpdateMemberParams struct {
	OrganizationID    string          `json:"-"`
	MemberID          string          `json:"-"`
	Name              string          `json:"name,omitempty"`
	TrustedMetadata   json.RawMessage `json:"trusted_metadata,omitempty"`
	UntrustedMetadata json.RawMessage `json:"untrusted_metadata,omitempty"`
	IsBreakglass      *bool           `json:"is_breakglass,omitempty"`
	MFAPhoneNumber    string          `json:"mfa_phone_number,omitempty"`
	MFAEnrolled       *bool           `json:"mfa_enrolled,omitempty"`
	// Roles replaces all explicit roles when non-nil; an empty slice clears them.
	Roles                    *[]string `json:"roles,omitempty"`
	PreserveExistingSessions bool      `json:"preserve_existing_sessions,omitempty"`
	DefaultMFAMethod         string    `json:"default_mfa_method,omitempty"`
	EmailAddress             string    `json:"email_address,omitempty"`
	ExternalID               string    `json:"external_id,omitempty"`
	UnlinkEmail              bool      `json:"unlink_email,omitempty"`
}

// MemberResponse is the answer of Create, Get and Update Member.
type MemberResponse struct {
	RequestID    string       `json:"request_id"`
	StatusCode   int          `json:"status_code"`
	MemberID     string       `json:"member_id"`
	Member       Member       `json:"member"`
	Organization Organization `json:"organization"`
}

// DeleteMemberResponse is the answer of Delete Member.
type DeleteMemberResponse struct {
	RequestID  string `json:"request_id"`
	StatusCode int    `json:"status_code"`
	MemberID   string `json:"member_id"`
}

// SearchMembersParams is the body of Search Members. OrganizationIDs is required (at least one).
// Without a statuses filter deleted members are not returned.
type SearchMembersParams struct {
	OrganizationIDs []string     `json:"organization_ids"`
	Cursor          string       `json:"cursor,omitempty"`
	Limit           uint32       `json:"limit,omitempty"`
	Query           *SearchQuery `json:"query,omitempty"`
}

// SearchMembersResponse is one page of Search Members (array key "members", plus the returned
// members' organizations keyed by organization id).
type SearchMembersResponse struct {
	RequestID       string                  `json:"request_id"`
	StatusCode      int                     `json:"status_code"`
	Members         []Member                `json:"members"`
	ResultsMetadata ResultsMetadata         `json:"results_metadata"`
	Organizations   map[string]Organization `json:"organizations"`
}

// Members is the B2B Organization Members API.
type Members struct{ c *Client }

func membersPath(organizationID string) string {
	return "/v1/b2b/organizations/" + pathEscape(organizationID) + "/members"
}

// Create creates a member (POST /v1/b2b/organizations/{organization_id}/members). An existing
// email or external id in the organization is an error for which [IsAlreadyExists] holds.
func (m *Members) Create(ctx context.Context, params CreateMemberParams) (*MemberResponse, error) {
	return decode[MemberResponse](ctx, m.c, call{op: "create member", method: http.MethodPost, path: membersPath(params.OrganizationID),
		body: params, write: true})
}

// ErrMemberLookup is returned by [Members.Get] when neither MemberID nor EmailAddress is given.
var ErrMemberLookup = errors.New("stytch: get member needs a member id or an email address")

// Get returns a member (GET /v1/b2b/organizations/{organization_id}/member?member_id=&email_address=).
// The email is query-escaped (a "+" is sent as %2B).
func (m *Members) Get(ctx context.Context, params GetMemberParams) (*MemberResponse, error) {
	if params.MemberID == "" && params.EmailAddress == "" {
		return nil, ErrMemberLookup
	}
	q := url.Values{}
	if params.MemberID != "" {
		q.Set("member_id", params.MemberID)
	}
	if params.EmailAddress != "" {
		q.Set("email_address", params.EmailAddress)
	}
	return decode[MemberResponse](ctx, m.c, call{op: "get member", method: http.MethodGet,
		path: "/v1/b2b/organizations/" + pathEscape(params.OrganizationID) + "/member", query: q})
}

// Update changes a member (PUT /v1/b2b/organizations/{organization_id}/members/{member_id}).
func (m *Members) Update(ctx context.Context, params UpdateMemberParams) (*MemberResponse, error) {
	return decode[MemberResponse](ctx, m.c, call{op: "update member", method: http.MethodPut,
		path: membersPath(params.OrganizationID) + "/" + pathEscape(params.MemberID), body: params, write: true})
}

// Delete deletes a member (DELETE /v1/b2b/organizations/{organization_id}/members/{member_id}).
func (m *Members) Delete(ctx context.Context, organizationID, memberID string) (*DeleteMemberResponse, error) {
	return decode[DeleteMemberResponse](ctx, m.c, call{op: "delete member", method: http.MethodDelete,
		path: membersPath(organizationID) + "/" + pathEscape(memberID), write: true})
}

// Search returns one page of members (POST /v1/b2b/organizations/members/search).
func (m *Members) Search(ctx context.Context, params SearchMembersParams) (*SearchMembersResponse, error) {
	return decode[SearchMembersResponse](ctx, m.c, call{op: "search members", method: http.MethodPost,
		path: "/v1/b2b/organizations/members/search", body: params})
}

// SearchAll walks every page from params.Cursor on, calling fn per page until next_cursor is null
// or fn returns an error.
func (m *Members) SearchAll(ctx context.Context, params SearchMembersParams, fn func(*SearchMembersResponse) error) error {
	return searchAll(ctx, params, m.Search, fn)
}
