package stytch

import (
	"context"
	"encoding/json"
	"net/http"
)

// Hash types accepted by Passwords Migrate.
const (
	HashTypeBcrypt   = "bcrypt"
	HashTypeMD5      = "md_5"
	HashTypeArgon2I  = "argon_2i"
	HashTypeArgon2ID = "argon_2id"
	HashTypeSHA1     = "sha_1"
	HashTypeSHA512   = "sha_512"
	HashTypeScrypt   = "scrypt"
	HashTypePHPass   = "phpass"
	HashTypePBKDF2   = "pbkdf_2"
)

// MD5Config salts an md_5 hash.
type MD5Config struct {
	PrependSalt string `json:"prepend_salt,omitempty"`
	AppendSalt  string `json:"append_salt,omitempty"`
}

// SHA1Config salts a sha_1 hash.
type SHA1Config struct {
	PrependSalt string `json:"prepend_salt,omitempty"`
	AppendSalt  string `json:"append_salt,omitempty"`
}

// SHA512Config salts a sha_512 hash.
type SHA512Config struct {
	PrependSalt string `json:"prepend_salt,omitempty"`
	AppendSalt  string `json:"append_salt,omitempty"`
}

// Argon2Config describes an argon_2i / argon_2id hash in hex form.
type Argon2Config struct {
	Salt            string `json:"salt"`
	IterationAmount int32  `json:"iteration_amount"`
	// Memory is in KiB.
	Memory    int32 `json:"memory"`
	Threads   int32 `json:"threads"`
	KeyLength int32 `json:"key_length"`
}

// ScryptConfig describes a base64 scrypt hash.
type ScryptConfig struct {
	// Salt is base64.
	Salt       string `json:"salt"`
	NParameter int32  `json:"n_parameter"`
	RParameter int32  `json:"r_parameter"`
	PParameter int32  `json:"p_parameter"`
	KeyLength  int32  `json:"key_length"`
}

// PBKDF2Config describes a base64 pbkdf_2 hash.
type PBKDF2Config struct {
	// Salt is base64.
	Salt            string `json:"salt"`
	IterationAmount int32  `json:"iteration_amount"`
	KeyLength       int32  `json:"key_length"`
	// Algorithm is "sha256" (default) or "sha512".
	Algorithm string `json:"algorithm,omitempty"`
}

// MigratePasswordParams is the body of B2B Passwords Migrate. EmailAddress, Hash, HashType and
// OrganizationID are required. The hash is a [Secret]: printing or logging the params never shows
// it. ExternalID applies only when the call creates the member.
type MigratePasswordParams struct {
	EmailAddress             string          `json:"email_address"`
	Hash                     Secret          `json:"hash"`
	HashType                 string          `json:"hash_type"`
	OrganizationID           string          `json:"organization_id"`
	MD5Config                *MD5Config      `json:"md_5_config,omitempty"`
	Argon2Config             *Argon2Config   `json:"argon_2_config,omitempty"`
	SHA1Config               *SHA1Config     `json:"sha_1_config,omitempty"`
	SHA512Config             *SHA512Config   `json:"sha_512_config,omitempty"`
	ScryptConfig             *ScryptConfig   `json:"scrypt_config,omitempty"`
	PBKDF2Config             *PBKDF2Config   `json:"pbkdf_2_config,omitempty"`
	Name                     string          `json:"name,omitempty"`
	TrustedMetadata          json.RawMessage `json:"trusted_metadata,omitempty"`
	UntrustedMetadata        json.RawMessage `json:"untrusted_metadata,omitempty"`
	Roles                    []string        `json:"roles,omitempty"`
	PreserveExistingSessions bool            `json:"preserve_existing_sessions,omitempty"`
	MFAPhoneNumber           string          `json:"mfa_phone_number,omitempty"`
	SetPhoneNumberVerified   bool            `json:"set_phone_number_verified,omitempty"`
	ExternalID               string          `json:"external_id,omitempty"`
}

// migrateWire is the wire body of Passwords Migrate: the params with the hash revealed. It exists
// only inside [Passwords.Migrate], so marshalling or logging MigratePasswordParams anywhere else
// writes "[REDACTED]" for the hash.
type migrateWire MigratePasswordParams

// MarshalJSON writes the params with the hash itself.
func (w migrateWire) MarshalJSON() ([]byte, error) {
	type plain MigratePasswordParams // without methods, so no recursion
	return json.Marshal(struct {
		plain
		Hash string `json:"hash"`
	}{plain: plain(w), Hash: w.Hash.Reveal()})
}

// MigratePasswordResponse is the answer of Passwords Migrate.
type MigratePasswordResponse struct {
	RequestID  string `json:"request_id"`
	StatusCode int    `json:"status_code"`
	MemberID   string `json:"member_id"`
	// MemberCreated is true when the call created the member.
	MemberCreated bool         `json:"member_created"`
	Member        Member       `json:"member"`
	Organization  Organization `json:"organization"`
}

// Passwords is the B2B Passwords API.
type Passwords struct{ c *Client }

// Migrate adds an existing password hash to a member's email (POST /v1/b2b/passwords/migrate),
// creating the member when missing and marking its email verified. Stytch allows 100 requests per
// second on this endpoint.
func (p *Passwords) Migrate(ctx context.Context, params MigratePasswordParams) (*MigratePasswordResponse, error) {
	return decode[MigratePasswordResponse](ctx, p.c, call{op: "migrate password", method: http.MethodPost, path: "/v1/b2b/passwords/migrate",
		body: migrateWire(params), write: true})
}
