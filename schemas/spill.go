package schemas

import "time"

// SpillMembership is one candidate membership the transform stage set aside on disk while
// deduplicating past its memory limit: what deduplication needs to know of it. It is the row of
// the stage's temporary spill files ([SpillMemberships]), which exist under transform/.spill only
// while the stage runs.
type SpillMembership struct {
	OrgKey string
	// OrgIndex is the organization's number in the stage's dictionary of organization keys, so
	// that reading the row back needs no lookup of OrgKey.
	OrgIndex int64
	// MembershipID is the membership's index among the stage's candidate memberships, in input
	// order.
	MembershipID  int64
	SourceUserID  string
	EmailAddress  string
	EmailVerified bool
	// CreatedAt is the user's created_at; the zero time (null) when it had none.
	CreatedAt time.Time
	// ExternalID is the member's external id when it differs from SourceUserID, else "" (null).
	ExternalID string
	// ExternalIDSource says where the external id came from: "external_id", "user_id" or
	// "metadata".
	ExternalIDSource string
	SourcePosition   int64
}

// SpillMemberships is the schema of the transform stage's spill files:
// transform/.spill/part-PPPP-FFFF.parquet (partition PPPP, written by flush FFFF), and
// split-LLLL-R.parquet (group R of the organizations of the LLLLth split of an oversized
// partition).
var SpillMemberships = newSpec("spill_memberships", 1, "transform/.spill/part-PPPP-FFFF.parquet",
	stringCol("org_key", false, func(m *SpillMembership) *string { return &m.OrgKey }),
	int64Col("org_index", false, func(m *SpillMembership) *int64 { return &m.OrgIndex }),
	int64Col("membership_id", false, func(m *SpillMembership) *int64 { return &m.MembershipID }),
	stringCol("source_user_id", false, func(m *SpillMembership) *string { return &m.SourceUserID }),
	stringCol("email_address", false, func(m *SpillMembership) *string { return &m.EmailAddress }),
	boolCol("email_verified", func(m *SpillMembership) *bool { return &m.EmailVerified }),
	timeCol("created_at", func(m *SpillMembership) *time.Time { return &m.CreatedAt }),
	stringCol("external_id", true, func(m *SpillMembership) *string { return &m.ExternalID }),
	enumCol("external_id_source", false, func(m *SpillMembership) *string { return &m.ExternalIDSource }),
	int64Col("source_position", false, func(m *SpillMembership) *int64 { return &m.SourcePosition }),
)
