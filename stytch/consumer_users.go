package stytch

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// User is a Stytch Consumer User, as returned by Search Users and Get User and as written by the
// export utility. Optional fields are omitted when marshalling; slices decode null as nil.
type User struct {
	UserID                 string                  `json:"user_id"`
	Emails                 []UserEmail             `json:"emails"`
	Status                 string                  `json:"status"`
	PhoneNumbers           []UserPhoneNumber       `json:"phone_numbers"`
	WebAuthnRegistrations  []WebAuthnRegistration  `json:"webauthn_registrations"`
	Providers              []OAuthProvider         `json:"providers"`
	TOTPs                  []TOTP                  `json:"totps"`
	CryptoWallets          []CryptoWallet          `json:"crypto_wallets"`
	BiometricRegistrations []BiometricRegistration `json:"biometric_registrations"`
	IsLocked               bool                    `json:"is_locked"`
	Roles                  []string                `json:"roles"`
	// Name is an object for Consumer users (a B2B Member's name is a plain string).
	Name              *UserName       `json:"name,omitempty"`
	CreatedAt         time.Time       `json:"created_at,omitzero"`
	Password          *UserPassword   `json:"password,omitempty"`
	TrustedMetadata   json.RawMessage `json:"trusted_metadata,omitempty"`
	UntrustedMetadata json.RawMessage `json:"untrusted_metadata,omitempty"`
	ExternalID        string          `json:"external_id,omitempty"`
	LockCreatedAt     *time.Time      `json:"lock_created_at,omitempty"`
	LockExpiresAt     *time.Time      `json:"lock_expires_at,omitempty"`
}

// UserName is a Consumer user's name.
type UserName struct {
	FirstName  string `json:"first_name"`
	MiddleName string `json:"middle_name"`
	LastName   string `json:"last_name"`
}

// UserEmail is one email of a user.
type UserEmail struct {
	EmailID  string `json:"email_id"`
	Email    string `json:"email"`
	Verified bool   `json:"verified"`
}

// UserPhoneNumber is one phone number of a user.
type UserPhoneNumber struct {
	PhoneID     string `json:"phone_id"`
	PhoneNumber string `json:"phone_number"`
	Verified    bool   `json:"verified"`
}

// WebAuthnRegistration is a user's passkey or security key.
type WebAuthnRegistration struct {
	WebAuthnRegistrationID string `json:"webauthn_registration_id"`
	Domain                 string `json:"domain"`
	UserAgent              string `json:"user_agent"`
	Verified               bool   `json:"verified"`
	AuthenticatorType      string `json:"authenticator_type"`
	Name                   string `json:"name"`
}

// OAuthProvider is an OAuth identity linked to a user.
type OAuthProvider struct {
	ProviderType            string `json:"provider_type"`
	ProviderSubject         string `json:"provider_subject"`
	ProfilePictureURL       string `json:"profile_picture_url"`
	Locale                  string `json:"locale"`
	OAuthUserRegistrationID string `json:"oauth_user_registration_id"`
}

// TOTP is a user's TOTP registration.
type TOTP struct {
	TOTPID   string `json:"totp_id"`
	Verified bool   `json:"verified"`
}

// CryptoWallet is a user's crypto wallet.
type CryptoWallet struct {
	CryptoWalletID      string `json:"crypto_wallet_id"`
	CryptoWalletAddress string `json:"crypto_wallet_address"`
	CryptoWalletType    string `json:"crypto_wallet_type"`
	Verified            bool   `json:"verified"`
}

// BiometricRegistration is a user's biometric registration.
type BiometricRegistration struct {
	BiometricRegistrationID string `json:"biometric_registration_id"`
	Verified                bool   `json:"verified"`
}

// UserPassword tells that a user has a password; Stytch never returns hashes.
type UserPassword struct {
	PasswordID    string `json:"password_id"`
	RequiresReset bool   `json:"requires_reset"`
}

// SearchUsersParams is the body of Search Users. All fields are optional; pass
// ResultsMetadata.NextCursor of the previous page as Cursor.
type SearchUsersParams struct {
	Cursor string       `json:"cursor,omitempty"`
	Limit  uint32       `json:"limit,omitempty"`
	Query  *SearchQuery `json:"query,omitempty"`
}

// SearchUsersResponse is one page of Search Users (array key "results").
type SearchUsersResponse struct {
	RequestID       string          `json:"request_id"`
	StatusCode      int             `json:"status_code"`
	Results         []User          `json:"results"`
	ResultsMetadata ResultsMetadata `json:"results_metadata"`
}

// GetUserResponse is the answer of Get User. Its body is flat: the User's fields sit at the top
// level beside request_id and status_code, which the embedded User reproduces.
type GetUserResponse struct {
	RequestID  string `json:"request_id"`
	StatusCode int    `json:"status_code"`
	User
}

// Users is the Consumer Users API.
type Users struct{ c *Client }

// Search returns one page of users (POST /v1/users/search). Stytch limits this endpoint to 150
// requests per minute.
func (u *Users) Search(ctx context.Context, params SearchUsersParams) (*SearchUsersResponse, error) {
	return decode[SearchUsersResponse](ctx, u.c, call{op: "search users", method: http.MethodPost, path: "/v1/users/search", body: params})
}

// SearchAll walks every page of a search from params.Cursor on, calling fn for each page until
// next_cursor is null or fn returns an error.
func (u *Users) SearchAll(ctx context.Context, params SearchUsersParams, fn func(*SearchUsersResponse) error) error {
	return searchAll(ctx, params, u.Search, fn)
}

// Get returns one user (GET /v1/users/{user_id}); userID may also be the user's external id.
func (u *Users) Get(ctx context.Context, userID string) (*GetUserResponse, error) {
	return decode[GetUserResponse](ctx, u.c, call{op: "get user", method: http.MethodGet, path: "/v1/users/" + pathEscape(userID)})
}
