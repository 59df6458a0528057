package schemas

import "time"

// LedgerEntry is one outcome recorded while loading, flushed in small segments so that progress
// survives a crash. It is the row of load/ledger/*.parquet ([Ledger]).
type LedgerEntry struct {
	// Kind is "organization" or "member" (rollback uses "rollback_organization" and
	// "rollback_member").
	Kind           string
	OrgKey         string
	SourceUserID   string
	EmailAddress   string
	ExternalID     string
	OrganizationID string
	MemberID       string
	// Outcome is e.g. "created", "existing", "external_id_assigned", "conflict", "failed",
	// "skipped_org_failed", "password_skipped_unverified".
	Outcome      string
	ErrorType    string
	ErrorMessage string
	Attempts     int32
	RequestID    string
	At           time.Time
}

// Ledger is the schema of the load ledger segments under load/ledger/.
var Ledger = newSpec("ledger", 1, "load/ledger",
	enumCol("kind", false, func(e *LedgerEntry) *string { return &e.Kind }),
	enumCol("org_key", false, func(e *LedgerEntry) *string { return &e.OrgKey }),
	stringCol("source_user_id", true, func(e *LedgerEntry) *string { return &e.SourceUserID }),
	stringCol("email_address", true, func(e *LedgerEntry) *string { return &e.EmailAddress }),
	stringCol("external_id", true, func(e *LedgerEntry) *string { return &e.ExternalID }),
	stringCol("organization_id", true, func(e *LedgerEntry) *string { return &e.OrganizationID }),
	stringCol("member_id", true, func(e *LedgerEntry) *string { return &e.MemberID }),
	enumCol("outcome", false, func(e *LedgerEntry) *string { return &e.Outcome }),
	enumCol("error_type", true, func(e *LedgerEntry) *string { return &e.ErrorType }),
	stringCol("error_message", true, func(e *LedgerEntry) *string { return &e.ErrorMessage }),
	int32Col("attempts", false, func(e *LedgerEntry) *int32 { return &e.Attempts }),
	stringCol("request_id", true, func(e *LedgerEntry) *string { return &e.RequestID }),
	timeCol("at", func(e *LedgerEntry) *time.Time { return &e.At }),
)

// OrganizationResult is the final load outcome of one planned organization. It is the row of
// load/organizations.parquet ([OrganizationResults]).
type OrganizationResult struct {
	OrgKey         string
	ExternalID     string
	Slug           string
	OrganizationID string
	Outcome        string
	ErrorType      string
	ErrorMessage   string
	Attempts       int32
	RequestID      string
}

// OrganizationResults is the schema of load/organizations.parquet.
var OrganizationResults = newSpec("load_organizations", 1, "load/organizations.parquet",
	enumCol("org_key", false, func(r *OrganizationResult) *string { return &r.OrgKey }),
	stringCol("organization_external_id", false, func(r *OrganizationResult) *string { return &r.ExternalID }),
	stringCol("organization_slug", true, func(r *OrganizationResult) *string { return &r.Slug }),
	stringCol("organization_id", true, func(r *OrganizationResult) *string { return &r.OrganizationID }),
	enumCol("outcome", false, func(r *OrganizationResult) *string { return &r.Outcome }),
	enumCol("error_type", true, func(r *OrganizationResult) *string { return &r.ErrorType }),
	stringCol("error_message", true, func(r *OrganizationResult) *string { return &r.ErrorMessage }),
	int32Col("attempts", false, func(r *OrganizationResult) *int32 { return &r.Attempts }),
	stringCol("request_id", true, func(r *OrganizationResult) *string { return &r.RequestID }),
)

// MemberResult is the final load outcome of one planned member. It is the row of
// load/members.parquet ([MemberResults]).
type MemberResult struct {
	SourceUserID   string
	OrgKey         string
	EmailAddress   string
	ExternalID     string
	OrganizationID string
	MemberID       string
	Outcome        string
	ErrorType      string
	ErrorMessage   string
	Attempts       int32
	RequestID      string
}

// MemberResults is the schema of load/members.parquet.
var MemberResults = newSpec("load_members", 1, "load/members.parquet",
	stringCol("source_user_id", false, func(r *MemberResult) *string { return &r.SourceUserID }),
	enumCol("org_key", false, func(r *MemberResult) *string { return &r.OrgKey }),
	stringCol("email_address", false, func(r *MemberResult) *string { return &r.EmailAddress }),
	stringCol("external_id", true, func(r *MemberResult) *string { return &r.ExternalID }),
	stringCol("organization_id", true, func(r *MemberResult) *string { return &r.OrganizationID }),
	stringCol("member_id", true, func(r *MemberResult) *string { return &r.MemberID }),
	enumCol("outcome", false, func(r *MemberResult) *string { return &r.Outcome }),
	enumCol("error_type", true, func(r *MemberResult) *string { return &r.ErrorType }),
	stringCol("error_message", true, func(r *MemberResult) *string { return &r.ErrorMessage }),
	int32Col("attempts", false, func(r *MemberResult) *int32 { return &r.Attempts }),
	stringCol("request_id", true, func(r *MemberResult) *string { return &r.RequestID }),
)
