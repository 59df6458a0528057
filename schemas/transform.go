package schemas

// Organization is one planned B2B organization. It is the row of transform/organizations.parquet
// ([Organizations]).
type Organization struct {
	// OrgKey is the organization's key in the plan; it is also its organization_external_id.
	OrgKey     string
	Name       string
	Slug       string
	ExternalID string
	// SlugSource says where the slug came from: "file", "derived", or "derived_unique" when a
	// suffix made it unique in the project.
	SlugSource           string
	EmailAllowedDomains  []string
	EmailJITProvisioning string
	EmailInvites         string
	AuthMethods          string
	AllowedAuthMethods   []string
	MFAPolicy            string
	// TrustedMetadata is the organization's metadata object as JSON text, "" for none.
	TrustedMetadata string
	// MemberCount is the number of planned members.
	MemberCount int64
}

// Organizations is the schema of transform/organizations.parquet.
var Organizations = newSpec("organizations", 1, "transform/organizations.parquet",
	enumCol("org_key", false, func(o *Organization) *string { return &o.OrgKey }),
	stringCol("organization_name", false, func(o *Organization) *string { return &o.Name }),
	stringCol("organization_slug", false, func(o *Organization) *string { return &o.Slug }),
	stringCol("organization_external_id", false, func(o *Organization) *string { return &o.ExternalID }),
	enumCol("slug_source", false, func(o *Organization) *string { return &o.SlugSource }),
	stringListCol("email_allowed_domains", func(o *Organization) *[]string { return &o.EmailAllowedDomains }),
	enumCol("email_jit_provisioning", true, func(o *Organization) *string { return &o.EmailJITProvisioning }),
	enumCol("email_invites", true, func(o *Organization) *string { return &o.EmailInvites }),
	enumCol("auth_methods", true, func(o *Organization) *string { return &o.AuthMethods }),
	stringListCol("allowed_auth_methods", func(o *Organization) *[]string { return &o.AllowedAuthMethods }),
	enumCol("mfa_policy", true, func(o *Organization) *string { return &o.MFAPolicy }),
	stringCol("trusted_metadata", true, func(o *Organization) *string { return &o.TrustedMetadata }),
	int64Col("member_count", false, func(o *Organization) *int64 { return &o.MemberCount }),
)

// Member is one planned B2B member: a surviving (organization, email) membership. It is the row
// of transform/members.parquet ([Members]).
type Member struct {
	OrgKey string
	// SourceUserID is the Consumer user the member is made from.
	SourceUserID string
	// EmailAddress is the normalized primary email.
	EmailAddress  string
	EmailVerified bool
	Name          string
	ExternalID    string
	// ExternalIDSource says where ExternalID came from: "external_id", "user_id" or "metadata".
	ExternalIDSource string
	// Status is "active" or "pending".
	Status            string
	MFAPhoneNumber    string
	TrustedMetadata   string
	UntrustedMetadata string
	// MergedUserIDs lists the users deduplicated into this member (see duplicates.parquet).
	MergedUserIDs []string
	// SurvivorRule is the rule that chose this user over the merged ones: "unique" when nothing
	// was merged, else "verified", "earliest_created_at" or "smallest_user_id".
	SurvivorRule string
	// HasPassword says whether member_passwords.parquet holds a hash for this member.
	HasPassword bool
	// Warnings lists what was changed on the way, e.g. "untrusted_metadata_dropped".
	Warnings       []string
	SourcePosition int64
}

// Members is the schema of transform/members.parquet.
var Members = newSpec("members", 1, "transform/members.parquet",
	enumCol("org_key", false, func(m *Member) *string { return &m.OrgKey }),
	stringCol("source_user_id", false, func(m *Member) *string { return &m.SourceUserID }),
	stringCol("email_address", false, func(m *Member) *string { return &m.EmailAddress }),
	boolCol("email_verified", func(m *Member) *bool { return &m.EmailVerified }),
	stringCol("name", true, func(m *Member) *string { return &m.Name }),
	stringCol("external_id", false, func(m *Member) *string { return &m.ExternalID }),
	enumCol("external_id_source", false, func(m *Member) *string { return &m.ExternalIDSource }),
	enumCol("status", false, func(m *Member) *string { return &m.Status }),
	stringCol("mfa_phone_number", true, func(m *Member) *string { return &m.MFAPhoneNumber }),
	stringCol("trusted_metadata", true, func(m *Member) *string { return &m.TrustedMetadata }),
	stringCol("untrusted_metadata", true, func(m *Member) *string { return &m.UntrustedMetadata }),
	stringListCol("merged_user_ids", func(m *Member) *[]string { return &m.MergedUserIDs }),
	enumCol("survivor_rule", false, func(m *Member) *string { return &m.SurvivorRule }),
	boolCol("has_password", func(m *Member) *bool { return &m.HasPassword }),
	stringListCol("warnings", func(m *Member) *[]string { return &m.Warnings }),
	int64Col("source_position", false, func(m *Member) *int64 { return &m.SourcePosition }),
)

// MemberPassword is a password hash to migrate for one planned member, with the algorithm's
// parameters named as Stytch's Migrate endpoint names them (unused ones are null). It is the row
// of transform/member_passwords.parquet ([MemberPasswords]), the only file that may hold hashes.
type MemberPassword struct {
	OrgKey        string
	SourceUserID  string
	EmailAddress  string
	ExternalID    string
	EmailVerified bool
	// HashType is one of Stytch's hash types: bcrypt, md_5, argon_2i, argon_2id, sha_1, sha_512,
	// scrypt, phpass, pbkdf_2.
	HashType string
	Hash     string
	// PrependSalt and AppendSalt belong to md_5_config, sha_1_config and sha_512_config.
	PrependSalt string
	AppendSalt  string
	// Salt belongs to argon_2_config, scrypt_config and pbkdf_2_config.
	Salt string
	// IterationAmount belongs to argon_2_config and pbkdf_2_config; Memory and Threads to
	// argon_2_config; KeyLength to argon_2_config, scrypt_config and pbkdf_2_config.
	IterationAmount int32
	Memory          int32
	Threads         int32
	KeyLength       int32
	// NParameter, RParameter and PParameter belong to scrypt_config.
	NParameter int32
	RParameter int32
	PParameter int32
	// Algorithm belongs to pbkdf_2_config: "sha256" or "sha512".
	Algorithm string
}

// MemberPasswords is the schema of transform/member_passwords.parquet.
var MemberPasswords = newSpec("member_passwords", 1, "transform/member_passwords.parquet",
	enumCol("org_key", false, func(p *MemberPassword) *string { return &p.OrgKey }),
	stringCol("source_user_id", false, func(p *MemberPassword) *string { return &p.SourceUserID }),
	stringCol("email_address", false, func(p *MemberPassword) *string { return &p.EmailAddress }),
	stringCol("external_id", false, func(p *MemberPassword) *string { return &p.ExternalID }),
	boolCol("email_verified", func(p *MemberPassword) *bool { return &p.EmailVerified }),
	enumCol("hash_type", false, func(p *MemberPassword) *string { return &p.HashType }),
	stringCol("hash", false, func(p *MemberPassword) *string { return &p.Hash }),
	stringCol("prepend_salt", true, func(p *MemberPassword) *string { return &p.PrependSalt }),
	stringCol("append_salt", true, func(p *MemberPassword) *string { return &p.AppendSalt }),
	stringCol("salt", true, func(p *MemberPassword) *string { return &p.Salt }),
	int32Col("iteration_amount", true, func(p *MemberPassword) *int32 { return &p.IterationAmount }),
	int32Col("memory", true, func(p *MemberPassword) *int32 { return &p.Memory }),
	int32Col("threads", true, func(p *MemberPassword) *int32 { return &p.Threads }),
	int32Col("key_length", true, func(p *MemberPassword) *int32 { return &p.KeyLength }),
	int32Col("n_parameter", true, func(p *MemberPassword) *int32 { return &p.NParameter }),
	int32Col("r_parameter", true, func(p *MemberPassword) *int32 { return &p.RParameter }),
	int32Col("p_parameter", true, func(p *MemberPassword) *int32 { return &p.PParameter }),
	enumCol("algorithm", true, func(p *MemberPassword) *string { return &p.Algorithm }),
)

// Reject is a user, membership or password hash the transform could not plan, with the reason.
// It is the row of transform/rejects.parquet ([Rejects]).
type Reject struct {
	SourceUserID string
	// OrgKey is set when a single membership (or its password) was rejected.
	OrgKey string
	// Scope is "user", "membership" or "password".
	Scope string
	// Reason is the machine-readable reason, e.g. "no_email", "invalid_email", "no_organization",
	// "metadata_too_large", "unknown_organization", "external_id_conflict".
	Reason string
	// Field names the input field that failed, e.g. "emails[0].email".
	Field string
	// RawValue is the value that failed (never a password hash).
	RawValue       string
	Detail         string
	SourcePosition int64
}

// Rejects is the schema of transform/rejects.parquet.
var Rejects = newSpec("rejects", 1, "transform/rejects.parquet",
	stringCol("source_user_id", false, func(r *Reject) *string { return &r.SourceUserID }),
	enumCol("org_key", true, func(r *Reject) *string { return &r.OrgKey }),
	enumCol("scope", false, func(r *Reject) *string { return &r.Scope }),
	enumCol("reason", false, func(r *Reject) *string { return &r.Reason }),
	enumCol("field", true, func(r *Reject) *string { return &r.Field }),
	stringCol("raw_value", true, func(r *Reject) *string { return &r.RawValue }),
	stringCol("detail", true, func(r *Reject) *string { return &r.Detail }),
	int64Col("source_position", false, func(r *Reject) *int64 { return &r.SourcePosition }),
)

// Duplicate is a membership merged into another user's membership of the same organization and
// normalized email. It is the row of transform/duplicates.parquet ([Duplicates]).
type Duplicate struct {
	OrgKey         string
	EmailAddress   string
	SourceUserID   string
	SurvivorUserID string
	// Rule is the rule that decided: "verified", "earliest_created_at" or "smallest_user_id".
	Rule string
}

// Duplicates is the schema of transform/duplicates.parquet.
var Duplicates = newSpec("duplicates", 1, "transform/duplicates.parquet",
	enumCol("org_key", false, func(d *Duplicate) *string { return &d.OrgKey }),
	stringCol("email_address", false, func(d *Duplicate) *string { return &d.EmailAddress }),
	stringCol("source_user_id", false, func(d *Duplicate) *string { return &d.SourceUserID }),
	stringCol("survivor_user_id", false, func(d *Duplicate) *string { return &d.SurvivorUserID }),
	enumCol("rule", false, func(d *Duplicate) *string { return &d.Rule }),
)

// UnmatchedMappingRow is a row of the mapping file (strategy mapping) that names no user of the
// extract: a user_id no user has, or an email that is no user's valid primary email. It is the
// row of transform/mapping_unmatched.parquet ([MappingUnmatched]); such rows plan nothing, so
// they are listed for the user to check, not rejected.
type UnmatchedMappingRow struct {
	// Line is the row's line in the mapping file (the header is line 1).
	Line int64
	// MatchedBy is the column the row was looked up by: "user_id", or "email" when it has no
	// user_id.
	MatchedBy string
	// UserID and Email are the row's values as in the file (trimmed), "" when absent.
	UserID string
	Email  string
	OrgKey string
}

// MappingUnmatched is the schema of transform/mapping_unmatched.parquet.
var MappingUnmatched = newSpec("mapping_unmatched", 1, "transform/mapping_unmatched.parquet",
	int64Col("line", false, func(r *UnmatchedMappingRow) *int64 { return &r.Line }),
	enumCol("matched_by", false, func(r *UnmatchedMappingRow) *string { return &r.MatchedBy }),
	stringCol("user_id", true, func(r *UnmatchedMappingRow) *string { return &r.UserID }),
	stringCol("email", true, func(r *UnmatchedMappingRow) *string { return &r.Email }),
	enumCol("org_key", false, func(r *UnmatchedMappingRow) *string { return &r.OrgKey }),
)
