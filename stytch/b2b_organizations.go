package stytch

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Organization is a Stytch B2B Organization.
type Organization struct {
	OrganizationID                       string                        `json:"organization_id"`
	OrganizationName                     string                        `json:"organization_name"`
	OrganizationLogoURL                  string                        `json:"organization_logo_url"`
	OrganizationSlug                     string                        `json:"organization_slug"`
	SSOJITProvisioning                   string                        `json:"sso_jit_provisioning"`
	SSOJITProvisioningAllowedConnections []string                      `json:"sso_jit_provisioning_allowed_connections"`
	SSOActiveConnections                 []SSOActiveConnection         `json:"sso_active_connections"`
	EmailAllowedDomains                  []string                      `json:"email_allowed_domains"`
	EmailJITProvisioning                 string                        `json:"email_jit_provisioning"`
	EmailInvites                         string                        `json:"email_invites"`
	AuthMethods                          string                        `json:"auth_methods"`
	AllowedAuthMethods                   []string                      `json:"allowed_auth_methods"`
	MFAPolicy                            string                        `json:"mfa_policy"`
	RBACEmailImplicitRoleAssignments     []EmailImplicitRoleAssignment `json:"rbac_email_implicit_role_assignments"`
	MFAMethods                           string                        `json:"mfa_methods"`
	AllowedMFAMethods                    []string                      `json:"allowed_mfa_methods"`
	OAuthTenantJITProvisioning           string                        `json:"oauth_tenant_jit_provisioning"`
	ClaimedEmailDomains                  []string                      `json:"claimed_email_domains"`
	FirstPartyConnectedAppsAllowedType   string                        `json:"first_party_connected_apps_allowed_type"`
	AllowedFirstPartyConnectedApps       []string                      `json:"allowed_first_party_connected_apps"`
	ThirdPartyConnectedAppsAllowedType   string                        `json:"third_party_connected_apps_allowed_type"`
	AllowedThirdPartyConnectedApps       []string                      `json:"allowed_third_party_connected_apps"`
	TrustedMetadata                      json.RawMessage               `json:"trusted_metadata,omitempty"`
	CreatedAt                            time.Time                     `json:"created_at,omitzero"`
	UpdatedAt                            time.Time                     `json:"updated_at,omitzero"`
	OrganizationExternalID               string                        `json:"organization_external_id"`
	SSODefaultConnectionID               *string                       `json:"sso_default_connection_id"`
	SCIMActiveConnection                 *SCIMActiveConnection         `json:"scim_active_connection,omitempty"`
	AllowedOAuthTenants                  json.RawMessage               `json:"allowed_oauth_tenants,omitempty"`
}

// SSOActiveConnection is an organization's active SSO connection.
type SSOActiveConnection struct {
	ConnectionID     string `json:"connection_id"`
	DisplayName      string `json:"display_name"`
	IdentityProvider string `json:"identity_provider"`
}

// SCIMActiveConnection is an organization's active SCIM connection.
type SCIMActiveConnection struct {
	ConnectionID         string     `json:"connection_id"`
	DisplayName          string     `json:"display_name"`
	BearerTokenLastFour  string     `json:"bearer_token_last_four"`
	BearerTokenExpiresAt *time.Time `json:"bearer_token_expires_at,omitempty"`
}

// EmailImplicitRoleAssignment grants a role to members whose email is in a domain.
type EmailImplicitRoleAssignment struct {
	Domain string `json:"domain"`
	RoleID string `json:"role_id"`
}

// CreateOrganizationParams is the body of Create Organization. OrganizationName and
// OrganizationSlug are required; empty fields are not sent.
type CreateOrganizationParams struct {
	OrganizationName                   string                        `json:"organization_name"`
	OrganizationSlug                   string                        `json:"organization_slug,omitempty"`
	OrganizationLogoURL                string                        `json:"organization_logo_url,omitempty"`
	TrustedMetadata                    json.RawMessage               `json:"trusted_metadata,omitempty"`
	OrganizationExternalID             string                        `json:"organization_external_id,omitempty"`
	SSOJITProvisioning                 string                        `json:"sso_jit_provisioning,omitempty"`
	EmailAllowedDomains                []string                      `json:"email_allowed_domains,omitempty"`
	EmailJITProvisioning               string                        `json:"email_jit_provisioning,omitempty"`
	EmailInvites                       string                        `json:"email_invites,omitempty"`
	AuthMethods                        string                        `json:"auth_methods,omitempty"`
	AllowedAuthMethods                 []string                      `json:"allowed_auth_methods,omitempty"`
	MFAPolicy                          string                        `json:"mfa_policy,omitempty"`
	RBACEmailImplicitRoleAssignments   []EmailImplicitRoleAssignment `json:"rbac_email_implicit_role_assignments,omitempty"`
	MFAMethods                         string                        `json:"mfa_methods,omitempty"`
	AllowedMFAMethods                  []string                      `json:"allowed_mfa_methods,omitempty"`
	OAuthTenantJITProvisioning         string                        `json:"oauth_tenant_jit_provisioning,omitempty"`
	AllowedOAuthTenants                json.RawMessage               `json:"allowed_oauth_tenants,omitempty"`
	ClaimedEmailDomains                []string                      `json:"claimed_email_domains,omitempty"`
	FirstPartyConnectedAppsAllowedType string                        `json:"first_party_connected_apps_allowed_type,omitempty"`
	AllowedFirstPartyConnectedApps     []string                      `json:"allowed_first_party_connected_apps,omitempty"`
	ThirdPartyConnectedAppsAllowedType string                        `json:"third_party_connected_apps_allowed_type,omitempty"`
	AllowedThirdPartyConnectedApps     []string                      `json:"allowed_third_party_connected_apps,omitempty"`
}

// UpdateOrganizationParams is the body of Update Organization; empty fields are left unchanged.
type UpdateOrganizationParams struct {
	// OrganizationID goes in the path: the id, slug or external id.
	OrganizationID                       string                        `json:"-"`
	OrganizationName                     string                        `json:"organization_name,omitempty"`
	OrganizationSlug                     string                        `json:"organization_slug,omitempty"`
	OrganizationLogoURL                  string                        `json:"organization_logo_url,omitempty"`
	TrustedMetadata                      json.RawMessage               `json:"trusted_metadata,omitempty"`
	OrganizationExternalID               string                        `json:"organization_external_id,omitempty"`
	SSODefaultConnectionID               string                        `json:"sso_default_connection_id,omitempty"`
	SSOJITProvisioning                   string                        `json:"sso_jit_provisioning,omitempty"`
	SSOJITProvisioningAllowedConnections []string                      `json:"sso_jit_provisioning_allowed_connections,omitempty"`
	EmailAllowedDomains                  []string                      `json:"email_allowed_domains,omitempty"`
	EmailJITProvisioning                 string                        `json:"email_jit_provisioning,omitempty"`
	EmailInvites                         string                        `json:"email_invites,omitempty"`
	AuthMethods                          string                        `json:"auth_methods,omitempty"`
	AllowedAuthMethods                   []string                      `json:"allowed_auth_methods,omitempty"`
	MFAPolicy                            string                        `json:"mfa_policy,omitempty"`
	RBACEmailImplicitRoleAssignments     []EmailImplicitRoleAssignment `json:"rbac_email_implicit_role_assignments,omitempty"`
	MFAMethods                           string                        `json:"mfa_methods,omitempty"`
	AllowedMFAMethods                    []string                      `json:"allowed_mfa_methods,omitempty"`
	OAuthTenantJITProvisioning           string                        `json:"oauth_tenant_jit_provisioning,omitempty"`
	AllowedOAuthTenants                  json.RawMessage               `json:"allowed_oauth_tenants,omitempty"`
	ClaimedEmailDomains                  []string                      `json:"claimed_email_domains,omitempty"`
	FirstPartyConnectedAppsAllowedType   string                        `json:"first_party_connected_apps_allowed_type,omitempty"`
	AllowedFirstPartyConnectedApps       []string                      `json:"allowed_first_party_connected_apps,omitempty"`
	ThirdPartyConnectedAppsAllowedType   string                        `json:"third_party_connected_apps_allowed_type,omitempty"`
	AllowedThirdPartyConnectedApps       []string                      `json:"allowed_third_party_connected_apps,omitempty"`
}

// OrganizationResponse is the answer of Create, Get and Update Organization.
type OrganizationResponse struct {
	RequestID    string       `json:"request_id"`
	StatusCode   int          `json:"status_code"`
	Organization Organization `json:"organization"`
}

// DeleteOrganizationResponse is the answer of Delete Organization.
type DeleteOrganizationResponse struct {
	RequestID      string `json:"request_id"`
	StatusCode     int    `json:"status_code"`
	OrganizationID string `json:"organization_id"`
}

// SearchOrganizationsParams is the body of Search Organizations. There is no external-id filter:
// look an organization up by external id with [Organizations.Get].
type SearchOrganizationsParams struct {
	Cursor string       `json:"cursor,omitempty"`
	Limit  uint32       `json:"limit,omitempty"`
	Query  *SearchQuery `json:"query,omitempty"`
}

// SearchOrganizationsResponse is one page of Search Organizations (array key "organizations").
type SearchOrganizationsResponse struct {
	RequestID       string          `json:"request_id"`
	StatusCode      int             `json:"status_code"`
	Organizations   []Organization  `json:"organizations"`
	ResultsMetadata ResultsMetadata `json:"results_metadata"`
}

// Organizations is the B2B Organizations API. Every organizationID argument may be the
// organization id, its slug or its external id.
type Organizations struct{ c *Client }

// Create creates an organization (POST /v1/b2b/organizations).
func (o *Organizations) Create(ctx context.Context, params CreateOrganizationParams) (*OrganizationResponse, error) {
	return decode[OrganizationResponse](ctx, o.c, call{op: "create organization", method: http.MethodPost, path: "/v1/b2b/organizations",
		body: params, write: true})
}

// Get returns an organization (GET /v1/b2b/organizations/{organization_id}). A missing one is an
// error for which [IsNotFound] holds.
func (o *Organizations) Get(ctx context.Context, organizationID string) (*OrganizationResponse, error) {
	return decode[OrganizationResponse](ctx, o.c, call{op: "get organization", method: http.MethodGet,
		path: "/v1/b2b/organizations/" + pathEscape(organizationID)})
}

// Update changes an organization (PUT /v1/b2b/organizations/{organization_id}).
func (o *Organizations) Update(ctx context.Context, params UpdateOrganizationParams) (*OrganizationResponse, error) {
	return decode[OrganizationResponse](ctx, o.c, call{op: "update organization", method: http.MethodPut,
		path: "/v1/b2b/organizations/" + pathEscape(params.OrganizationID), body: params, write: true})
}

// Delete deletes an organization and all its members (DELETE /v1/b2b/organizations/{organization_id}).
func (o *Organizations) Delete(ctx context.Context, organizationID string) (*DeleteOrganizationResponse, error) {
	return decode[DeleteOrganizationResponse](ctx, o.c, call{op: "delete organization", method: http.MethodDelete,
		path: "/v1/b2b/organizations/" + pathEscape(organizationID), write: true})
}

// Search returns one page of organizations (POST /v1/b2b/organizations/search).
func (o *Organizations) Search(ctx context.Context, params SearchOrganizationsParams) (*SearchOrganizationsResponse, error) {
	return decode[SearchOrganizationsResponse](ctx, o.c, call{op: "search organizations", method: http.MethodPost,
		path: "/v1/b2b/organizations/search", body: params})
}

// SearchAll walks every page from params.Cursor on, calling fn per page until next_cursor is null
// or fn returns an error.
func (o *Organizations) SearchAll(ctx context.Context, params SearchOrganizationsParams, fn func(*SearchOrganizationsResponse) error) error {
	return searchAll(ctx, params, o.Search, fn)
}
