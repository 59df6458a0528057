package schemas

import "time"

// User is one Consumer user as extracted: every field of Stytch's User object, plus where it came
// from. It is the row of extract/users.parquet ([Users]).
type User struct {
	UserID     string
	ExternalID string
	// Status is "active" or "pending".
	Status    string
	CreatedAt time.Time
	// FirstName, MiddleName and LastName are the parts of the Consumer name object.
	FirstName  string
	MiddleName string
	LastName   string

	Emails                 []Email
	PhoneNumbers           []PhoneNumber
	Providers              []Provider
	WebAuthnRegistrations  []WebAuthnRegistration
	BiometricRegistrations []BiometricRegistration
	TOTPs                  []TOTP
	CryptoWallets          []CryptoWallet

	// PasswordID is set when the user has a password; hashes are never exported by Stytch.
	PasswordID            string
	PasswordRequiresReset *bool
	Roles                 []string
	IsLocked              bool
	LockCreatedAt         time.Time
	LockExpiresAt         time.Time

	// TrustedMetadata and UntrustedMetadata are the metadata objects as JSON text, exactly as the
	// source had them; "" when absent or null.
	TrustedMetadata   string
	UntrustedMetadata string

	// SourceFile and SourcePosition locate the user in its source: a file and its line or row
	// number, or the API and the record's ordinal.
	SourceFile     string
	SourcePosition int64
}

// Email is one email address of a Consumer user.
type Email struct {
	EmailID  string
	Email    string
	Verified bool
}

// PhoneNumber is one phone number of a Consumer user.
type PhoneNumber struct {
	PhoneID     string
	PhoneNumber string
	Verified    bool
}

// Provider is one OAuth link of a Consumer user.
type Provider struct {
	ProviderType            string
	ProviderSubject         string
	ProfilePictureURL       string
	Locale                  string
	OAuthUserRegistrationID string
}

// WebAuthnRegistration is one WebAuthn (passkey) registration of a Consumer user.
type WebAuthnRegistration struct {
	WebAuthnRegistrationID string
	Domain                 string
	UserAgent              string
	Verified               bool
	AuthenticatorType      string
	Name                   string
}

// BiometricRegistration is one biometric registration of a Consumer user.
type BiometricRegistration struct {
	BiometricRegistrationID string
	Verified                bool
}

// TOTP is one TOTP registration of a Consumer user.
type TOTP struct {
	TOTPID   string
	Verified bool
}

// CryptoWallet is one crypto wallet of a Consumer user.
type CryptoWallet struct {
	CryptoWalletID      string
	CryptoWalletAddress string
	CryptoWalletType    string
	Verified            bool
}

// Users is the schema of extract/users.parquet: one row per Consumer user.
var Users = newSpec("users", 1, "extract/users.parquet",
	stringCol("user_id", false, func(u *User) *string { return &u.UserID }),
	stringCol("external_id", true, func(u *User) *string { return &u.ExternalID }),
	enumCol("status", false, func(u *User) *string { return &u.Status }),
	timeCol("created_at", func(u *User) *time.Time { return &u.CreatedAt }),
	stringCol("first_name", true, func(u *User) *string { return &u.FirstName }),
	stringCol("middle_name", true, func(u *User) *string { return &u.MiddleName }),
	stringCol("last_name", true, func(u *User) *string { return &u.LastName }),
	structListCol("emails", func(u *User) *[]Email { return &u.Emails },
		stringCol("email_id", false, func(e *Email) *string { return &e.EmailID }),
		stringCol("email", false, func(e *Email) *string { return &e.Email }),
		boolCol("verified", func(e *Email) *bool { return &e.Verified }),
	),
	structListCol("phone_numbers", func(u *User) *[]PhoneNumber { return &u.PhoneNumbers },
		stringCol("phone_id", false, func(p *PhoneNumber) *string { return &p.PhoneID }),
		stringCol("phone_number", false, func(p *PhoneNumber) *string { return &p.PhoneNumber }),
		boolCol("verified", func(p *PhoneNumber) *bool { return &p.Verified }),
	),
	structListCol("providers", func(u *User) *[]Provider { return &u.Providers },
		stringCol("provider_type", false, func(p *Provider) *string { return &p.ProviderType }),
		stringCol("provider_subject", false, func(p *Provider) *string { return &p.ProviderSubject }),
		stringCol("profile_picture_url", false, func(p *Provider) *string { return &p.ProfilePictureURL }),
		stringCol("locale", false, func(p *Provider) *string { return &p.Locale }),
		stringCol("oauth_user_registration_id", false, func(p *Provider) *string { return &p.OAuthUserRegistrationID }),
	),
	structListCol("webauthn_registrations", func(u *User) *[]WebAuthnRegistration { return &u.WebAuthnRegistrations },
		stringCol("webauthn_registration_id", false, func(w *WebAuthnRegistration) *string { return &w.WebAuthnRegistrationID }),
		stringCol("domain", false, func(w *WebAuthnRegistration) *string { return &w.Domain }),
		stringCol("user_agent", false, func(w *WebAuthnRegistration) *string { return &w.UserAgent }),
		boolCol("verified", func(w *WebAuthnRegistration) *bool { return &w.Verified }),
		stringCol("authenticator_type", false, func(w *WebAuthnRegistration) *string { return &w.AuthenticatorType }),
		stringCol("name", false, func(w *WebAuthnRegistration) *string { return &w.Name }),
	),
	structListCol("biometric_registrations", func(u *User) *[]BiometricRegistration { return &u.BiometricRegistrations },
		stringCol("biometric_registration_id", false, func(b *BiometricRegistration) *string { return &b.BiometricRegistrationID }),
		boolCol("verified", func(b *BiometricRegistration) *bool { return &b.Verified }),
	),
	structListCol("totps", func(u *User) *[]TOTP { return &u.TOTPs },
		stringCol("totp_id", false, func(t *TOTP) *string { return &t.TOTPID }),
		boolCol("verified", func(t *TOTP) *bool { return &t.Verified }),
	),
	structListCol("crypto_wallets", func(u *User) *[]CryptoWallet { return &u.CryptoWallets },
		stringCol("crypto_wallet_id", false, func(c *CryptoWallet) *string { return &c.CryptoWalletID }),
		stringCol("crypto_wallet_address", false, func(c *CryptoWallet) *string { return &c.CryptoWalletAddress }),
		stringCol("crypto_wallet_type", false, func(c *CryptoWallet) *string { return &c.CryptoWalletType }),
		boolCol("verified", func(c *CryptoWallet) *bool { return &c.Verified }),
	),
	stringCol("password_id", true, func(u *User) *string { return &u.PasswordID }),
	optBoolCol("password_requires_reset", func(u *User) **bool { return &u.PasswordRequiresReset }),
	stringListCol("roles", func(u *User) *[]string { return &u.Roles }),
	boolCol("is_locked", func(u *User) *bool { return &u.IsLocked }),
	timeCol("lock_created_at", func(u *User) *time.Time { return &u.LockCreatedAt }),
	timeCol("lock_expires_at", func(u *User) *time.Time { return &u.LockExpiresAt }),
	stringCol("trusted_metadata", true, func(u *User) *string { return &u.TrustedMetadata }),
	stringCol("untrusted_metadata", true, func(u *User) *string { return &u.UntrustedMetadata }),
	enumCol("source_file", false, func(u *User) *string { return &u.SourceFile }),
	int64Col("source_position", false, func(u *User) *int64 { return &u.SourcePosition }),
)

// BadRecord is a source record the extract stage could not read, kept raw with the error when the
// stage quarantines bad records. It is the row of extract/bad_records.parquet ([BadRecords]).
type BadRecord struct {
	SourceFile     string
	SourcePosition int64
	// Field names the offending field, when one is known.
	Field string
	Error string
	// Raw is the record's source text.
	Raw string
}

// BadRecords is the schema of extract/bad_records.parquet.
var BadRecords = newSpec("bad_records", 1, "extract/bad_records.parquet",
	enumCol("source_file", false, func(b *BadRecord) *string { return &b.SourceFile }),
	int64Col("source_position", false, func(b *BadRecord) *int64 { return &b.SourcePosition }),
	enumCol("field", true, func(b *BadRecord) *string { return &b.Field }),
	stringCol("error", false, func(b *BadRecord) *string { return &b.Error }),
	stringCol("raw", false, func(b *BadRecord) *string { return &b.Raw }),
)
