package schemas

// DriftRow is one difference between the plan and the B2B project as read back. It is the row of
// verify/drift.parquet ([Drift]).
type DriftRow struct {
	// Kind is "organization_missing", "member_missing", "member_unexpected" or "field_drift".
	Kind           string
	OrgKey         string
	OrganizationID string
	SourceUserID   string
	MemberID       string
	EmailAddress   string
	// Field, Expected and Actual describe a field_drift: e.g. "name", the planned and found values.
	Field    string
	Expected string
	Actual   string
}

// Drift is the schema of verify/drift.parquet.
var Drift = newSpec("drift", 1, "verify/drift.parquet",
	enumCol("kind", false, func(d *DriftRow) *string { return &d.Kind }),
	enumCol("org_key", true, func(d *DriftRow) *string { return &d.OrgKey }),
	stringCol("organization_id", true, func(d *DriftRow) *string { return &d.OrganizationID }),
	stringCol("source_user_id", true, func(d *DriftRow) *string { return &d.SourceUserID }),
	stringCol("member_id", true, func(d *DriftRow) *string { return &d.MemberID }),
	stringCol("email_address", true, func(d *DriftRow) *string { return &d.EmailAddress }),
	enumCol("field", true, func(d *DriftRow) *string { return &d.Field }),
	stringCol("expected", true, func(d *DriftRow) *string { return &d.Expected }),
	stringCol("actual", true, func(d *DriftRow) *string { return &d.Actual }),
)
