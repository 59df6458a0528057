package load

// Outcomes recorded in the ledger and the result files. A planned organization or member ends
// with exactly one of them; the ledger may hold older outcomes of the same row (a failure later
// retried), and the latest one wins.
const (
	// OutcomeCreated means this run created the object.
	OutcomeCreated = "created"
	// OutcomeExisting means the object was already there with our external id; nothing was
	// written.
	OutcomeExisting = "existing"
	// OutcomeExternalIDAssigned means the object was there without an external id and this run
	// gave it ours (Stytch's "assigning an external ID later").
	OutcomeExternalIDAssigned = "external_id_assigned"
	// OutcomeExternalIDReassigned means the object was there with another external id and this
	// run replaced it with ours, as the config's reassign_external_ids asked.
	OutcomeExternalIDReassigned = "external_id_reassigned"
	// OutcomeConflict means the target holds a different object under the same email, slug or
	// external id; nothing was written.
	OutcomeConflict = "conflict"
	// OutcomeFailed means the object could not be loaded; ErrorType and ErrorMessage say why.
	// load --retry-failed tries these again.
	OutcomeFailed = "failed"
	// OutcomeSkippedOrgFailed marks a member whose organization failed or conflicted; it was not
	// attempted.
	OutcomeSkippedOrgFailed = "skipped_org_failed"
	// OutcomePasswordSkippedUnverified means the member was created, but without its password
	// hash, because its email was not verified in the source (Stytch's Migrate would mark it
	// verified).
	OutcomePasswordSkippedUnverified = "password_skipped_unverified"
)

// Outcomes of a dry run, written to load/dry_run_*.parquet with the result schemas.
const (
	// OutcomeWouldCreate means a load would create the object.
	OutcomeWouldCreate = "would_create"
	// OutcomeExists means the object is there with our external id.
	OutcomeExists = "exists"
	// OutcomeWouldAssignExternalID means the object is there without an external id; a load
	// would assign ours.
	OutcomeWouldAssignExternalID = "would_assign_external_id"
	// OutcomeWouldReassignExternalID means the object is there with another external id and
	// reassign_external_ids is set; a load would replace it.
	OutcomeWouldReassignExternalID = "would_reassign_external_id"
)

// Outcomes of a rollback, recorded in the rollback ledger.
const (
	// OutcomeDeleted means rollback deleted the object.
	OutcomeDeleted = "deleted"
	// OutcomeGone means the object was already gone when rollback tried to delete it.
	OutcomeGone = "gone"
)

// createdByRun reports whether an outcome means this run created the object, so that rollback
// deletes it.
func createdByRun(outcome string) bool {
	return outcome == OutcomeCreated || outcome == OutcomePasswordSkippedUnverified
}

// orgUsable reports whether an organization outcome lets its members be loaded.
func orgUsable(outcome string) bool {
	switch outcome {
	case OutcomeCreated, OutcomeExisting, OutcomeExternalIDAssigned, OutcomeExternalIDReassigned,
		OutcomeWouldCreate, OutcomeExists, OutcomeWouldAssignExternalID, OutcomeWouldReassignExternalID:
		return true
	}
	return false
}

// retryable reports whether load --retry-failed tries a row with this outcome again.
func retryable(outcome string) bool {
	return outcome == OutcomeFailed || outcome == OutcomeSkippedOrgFailed
}

// unsuccessful reports whether an outcome makes the load partial.
func unsuccessful(outcome string) bool {
	return outcome == OutcomeFailed || outcome == OutcomeConflict || outcome == OutcomeSkippedOrgFailed
}

// Error types the load stage records itself (Stytch's own error types are recorded as Stytch
// spells them).
const (
	// ErrTypeExternalIDMismatch: the member or organization found under our email or slug has
	// another external id.
	ErrTypeExternalIDMismatch = "external_id_mismatch"
	// ErrTypeExternalIDTaken: our external id belongs to another member or organization.
	ErrTypeExternalIDTaken = "external_id_taken"
	// ErrTypeOrganizationFailed: the member's organization failed or conflicted.
	ErrTypeOrganizationFailed = "organization_failed"
	// ErrTypeUnresolved: a write whose answer was lost could not be confirmed either way.
	ErrTypeUnresolved = "unresolved"
	// ErrTypeTransport: no HTTP answer (connection refused or dropped, timeout).
	ErrTypeTransport = "transport_error"
	// ErrTypePasswordMissing: the plan says the member has a password, but
	// member_passwords.parquet holds none for it.
	ErrTypePasswordMissing = "password_row_missing"
)
