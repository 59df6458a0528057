package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// errorInfo is what the ledger records of an error.
type errorInfo struct {
	typ, msg, requestID string
	attempts            int
}

// describeError extracts the ledger fields of err. It never includes a request body, so no hash
// can reach the ledger through it.
func describeError(err error) errorInfo {
	if err == nil {
		return errorInfo{}
	}
	if e, ok := stytch.AsError(err); ok {
		return errorInfo{typ: e.ErrorType, msg: e.ErrorMessage, requestID: e.RequestID, attempts: e.Attempts}
	}
	var te *stytch.TransportError
	if errors.As(err, &te) {
		return errorInfo{typ: ErrTypeTransport, msg: te.Err.Error(), attempts: te.Attempts}
	}
	return errorInfo{typ: "error", msg: err.Error()}
}

// isFatal reports whether err stops the whole run: wrong credentials or project kind, which no
// retry and no other member can overcome.
func isFatal(err error) bool { return stytch.IsCredentials(err) }

// isDuplicateExternalID reports whether err says our external id is used by another member.
func isDuplicateExternalID(err error) bool {
	e, ok := stytch.AsError(err)
	return ok && e.ErrorType == stytch.ErrorTypeDuplicateMemberExternalID
}

// isOrgExternalIDUsed reports whether err says our organization external id is used.
func isOrgExternalIDUsed(err error) bool {
	e, ok := stytch.AsError(err)
	return ok && e.ErrorType == stytch.ErrorTypeOrganizationExternalIDUsed
}

// isSlugUsed reports whether err says the organization slug is used.
func isSlugUsed(err error) bool {
	e, ok := stytch.AsError(err)
	return ok && e.ErrorType == stytch.ErrorTypeOrganizationSlugUsed
}

// resolver holds what member and organization loading share.
type resolver struct {
	t Target
	// reassign replaces a different external id instead of recording a conflict.
	reassign bool
	// since is when this run's first load started: an object found with our external id and
	// created at or after it was created by this run (by an attempt whose answer was lost, maybe
	// in a process that was killed), not found existing.
	since time.Time
	// attempts bounds how often a write is sent again after a lookup showed it was not applied.
	attempts int
}

// createdByUs decides whether an object found with our external id was created by this run.
// Stytch reports creation times to the second, so since is truncated to the second too: an
// object created in the very second the run started counts as the run's.
func (r *resolver) createdByUs(maybeApplied bool, createdAt time.Time) bool {
	return maybeApplied ||
		(!createdAt.IsZero() && !r.since.IsZero() && !createdAt.Before(r.since.Truncate(time.Second)))
}

// fail fills e with outcome and err's details (not its attempts, which callers count); scrub
// removes secrets from the message.
func fail(e *schemas.LedgerEntry, outcome string, err error, scrub func(string) string) {
	info := describeError(err)
	e.Outcome = outcome
	e.ErrorType = info.typ
	e.ErrorMessage = info.msg
	if scrub != nil {
		e.ErrorMessage = scrub(e.ErrorMessage)
	}
	if info.requestID != "" {
		e.RequestID = info.requestID
	}
}

// succeed fills e with a member found or written.
func succeedMember(e *schemas.LedgerEntry, outcome string, m RemoteMember) {
	e.Outcome = outcome
	e.MemberID = m.ID
	if m.OrganizationID != "" {
		e.OrganizationID = m.OrganizationID
	}
	if m.RequestID != "" {
		e.RequestID = m.RequestID
	}
	e.ErrorType, e.ErrorMessage = "", ""
}

// loadMember makes the target hold the planned member m in the organization orgID and returns
// its ledger entry. pw is its password row, or nil. A non-nil error stops the run (fatal error
// or ctx done); the entry is then not recorded.
func (r *resolver) loadMember(ctx context.Context, orgID string, m *schemas.Member, pw *schemas.MemberPassword) (schemas.LedgerEntry, error) {
	e := schemas.LedgerEntry{Kind: kindMember, OrgKey: m.OrgKey, SourceUserID: m.SourceUserID,
		EmailAddress: m.EmailAddress, ExternalID: m.ExternalID, OrganizationID: orgID}
	usePassword := pw != nil && m.EmailVerified
	createdOutcome := OutcomeCreated
	if pw != nil && !usePassword {
		createdOutcome = OutcomePasswordSkippedUnverified
	}
	var scrub func(string) string
	if pw != nil {
		scrub = scrubber(pw)
	}
	maybe := false
	var lastErr error
	for try := 0; try < r.attempts; try++ {
		var rm RemoteMember
		var err error
		if usePassword {
			rm, err = r.t.MigratePassword(ctx, orgID, m, pw)
		} else {
			rm, err = r.t.CreateMember(ctx, orgID, m)
		}
		if err == nil {
			e.Attempts += int32(max(rm.Attempts, 1))
			if !usePassword || rm.Created {
				succeedMember(&e, createdOutcome, rm)
				return e, nil
			}
			// Migrate added the hash to a member that was there: check it is ours.
			return r.reconcileMember(ctx, e, m, rm, maybe, createdOutcome)
		}
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		if isFatal(err) {
			return e, err
		}
		info := describeError(err)
		e.Attempts += int32(max(info.attempts, 1))
		if info.requestID != "" {
			e.RequestID = info.requestID
		}
		lastErr = err
		applied := stytch.MayHaveApplied(err)
		maybe = maybe || applied
		if !stytch.IsAlreadyExists(err) && !applied {
			fail(&e, OutcomeFailed, err, scrub)
			return e, nil
		}
		// The member may be there: look it up by email, the key of a member in an organization.
		found, ferr := r.t.GetMemberByEmail(ctx, orgID, m.EmailAddress)
		if ferr == nil {
			e.Attempts += int32(max(found.Attempts, 1))
			return r.reconcileMember(ctx, e, m, found, maybe, createdOutcome)
		}
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		if isFatal(ferr) {
			return e, ferr
		}
		e.Attempts += int32(max(describeError(ferr).attempts, 1))
		if !stytch.IsNotFound(ferr) {
			fail(&e, OutcomeFailed, ferr, scrub)
			e.ErrorType = ErrTypeUnresolved
			return e, nil
		}
		if isDuplicateExternalID(err) {
			// Our external id belongs to a member with another email.
			other, oerr := r.t.GetMemberByExternalID(ctx, orgID, m.ExternalID)
			e.Outcome = OutcomeConflict
			e.ErrorType = ErrTypeExternalIDTaken
			e.ErrorMessage = fmt.Sprintf("external id %q belongs to another member of the organization", m.ExternalID)
			if oerr == nil {
				e.Attempts += int32(max(other.Attempts, 1))
				e.MemberID = other.ID
				e.ErrorMessage = fmt.Sprintf("external id %q belongs to member %s (%s)", m.ExternalID, other.ID, other.Email)
			}
			return e, nil
		}
		if !applied {
			// "Already exists" but nobody has the email: nothing we can resolve.
			fail(&e, OutcomeFailed, err, scrub)
			return e, nil
		}
		// The lost write was not applied: send it again.
	}
	fail(&e, OutcomeFailed, lastErr, scrub)
	e.ErrorType = ErrTypeUnresolved
	return e, nil
}

// reconcileMember decides the outcome for a member found under our email.
func (r *resolver) reconcileMember(ctx context.Context, e schemas.LedgerEntry, m *schemas.Member, found RemoteMember,
	maybe bool, createdOutcome string) (schemas.LedgerEntry, error) {
	switch {
	case found.ExternalID == m.ExternalID:
		outcome := OutcomeExisting
		if r.createdByUs(maybe, found.CreatedAt) {
			outcome = createdOutcome
		}
		succeedMember(&e, outcome, found)
		return e, nil
	case found.ExternalID != "" && !r.reassign:
		succeedMember(&e, OutcomeConflict, found)
		e.ErrorType = ErrTypeExternalIDMismatch
		e.ErrorMessage = fmt.Sprintf("member %s (%s) has external id %q, the plan has %q",
			found.ID, found.Email, found.ExternalID, m.ExternalID)
		return e, nil
	}
	outcome := OutcomeExternalIDAssigned
	if found.ExternalID != "" {
		outcome = OutcomeExternalIDReassigned
	}
	upd, err := r.t.SetMemberExternalID(ctx, found.OrganizationID, found.ID, m.ExternalID)
	if err != nil {
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		if isFatal(err) {
			return e, err
		}
		e.MemberID = found.ID
		e.Attempts += int32(max(describeError(err).attempts, 1))
		if isDuplicateExternalID(err) {
			fail(&e, OutcomeConflict, err, nil)
			e.ErrorType = ErrTypeExternalIDTaken
			e.ErrorMessage = fmt.Sprintf("member %s has no external id, but %q belongs to another member", found.ID, m.ExternalID)
			return e, nil
		}
		fail(&e, OutcomeFailed, err, nil)
		return e, nil
	}
	e.Attempts += int32(max(upd.Attempts, 1))
	succeedMember(&e, outcome, upd)
	if upd.ID == "" {
		e.MemberID = found.ID
	}
	return e, nil
}

// scrubber returns a function that removes the password row's secrets from a message.
func scrubber(pw *schemas.MemberPassword) func(string) string {
	return func(s string) string {
		for _, v := range []string{pw.Hash, pw.Salt, pw.PrependSalt, pw.AppendSalt} {
			if len(v) >= 4 {
				s = strings.ReplaceAll(s, v, "[REDACTED]")
			}
		}
		return s
	}
}

// loadOrganization makes the target hold the planned organization o and returns its ledger
// entry. A non-nil error stops the run.
func (r *resolver) loadOrganization(ctx context.Context, o *schemas.Organization) (schemas.LedgerEntry, error) {
	e := schemas.LedgerEntry{Kind: kindOrganization, OrgKey: o.OrgKey, ExternalID: o.ExternalID}
	maybe := false
	var lastErr error
	for try := 0; try < r.attempts; try++ {
		found, err := r.t.GetOrganization(ctx, o.ExternalID)
		switch {
		case err == nil:
			e.Attempts += int32(max(found.Attempts, 1))
			if found.ExternalID == o.ExternalID || found.Slug == o.Slug {
				return r.reconcileOrganization(ctx, e, o, found, maybe)
			}
			// The reference matched another organization's id or slug: not ours, create.
		case ctx.Err() != nil:
			return e, ctx.Err()
		case isFatal(err):
			return e, err
		case stytch.IsNotFound(err):
			e.Attempts += int32(max(describeError(err).attempts, 1))
		default:
			e.Attempts += int32(max(describeError(err).attempts, 1))
			fail(&e, OutcomeFailed, err, nil)
			return e, nil
		}
		created, err := r.t.CreateOrganization(ctx, o)
		if err == nil {
			e.Attempts += int32(max(created.Attempts, 1))
			e.Outcome, e.OrganizationID, e.RequestID = OutcomeCreated, created.ID, created.RequestID
			return e, nil
		}
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		if isFatal(err) {
			return e, err
		}
		lastErr = err
		info := describeError(err)
		e.Attempts += int32(max(info.attempts, 1))
		applied := stytch.MayHaveApplied(err)
		maybe = maybe || applied
		switch {
		case isSlugUsed(err):
			bySlug, serr := r.t.GetOrganization(ctx, o.Slug)
			if serr != nil {
				if ctx.Err() != nil {
					return e, ctx.Err()
				}
				e.Attempts += int32(max(describeError(serr).attempts, 1))
				fail(&e, OutcomeFailed, serr, nil)
				return e, nil
			}
			e.Attempts += int32(max(bySlug.Attempts, 1))
			if bySlug.Slug != o.Slug && bySlug.ExternalID != o.ExternalID {
				fail(&e, OutcomeFailed, err, nil)
				return e, nil
			}
			return r.reconcileOrganization(ctx, e, o, bySlug, maybe)
		case isOrgExternalIDUsed(err) || applied:
			// Look it up again: the lost write (or a concurrent one) may be there now.
			continue
		default:
			fail(&e, OutcomeFailed, err, nil)
			return e, nil
		}
	}
	fail(&e, OutcomeFailed, lastErr, nil)
	e.ErrorType = ErrTypeUnresolved
	return e, nil
}

// reconcileOrganization decides the outcome for an organization found under our external id or
// slug.
func (r *resolver) reconcileOrganization(ctx context.Context, e schemas.LedgerEntry, o *schemas.Organization,
	found RemoteOrganization, maybe bool) (schemas.LedgerEntry, error) {
	e.OrganizationID = found.ID
	if found.RequestID != "" {
		e.RequestID = found.RequestID
	}
	switch {
	case found.ExternalID == o.ExternalID:
		e.Outcome = OutcomeExisting
		if r.createdByUs(maybe, found.CreatedAt) {
			e.Outcome = OutcomeCreated
		}
		return e, nil
	case found.ExternalID != "" && !r.reassign:
		e.Outcome = OutcomeConflict
		e.ErrorType = ErrTypeExternalIDMismatch
		e.ErrorMessage = fmt.Sprintf("organization %s (slug %q) has external id %q, the plan has %q",
			found.ID, found.Slug, found.ExternalID, o.ExternalID)
		return e, nil
	}
	outcome := OutcomeExternalIDAssigned
	if found.ExternalID != "" {
		outcome = OutcomeExternalIDReassigned
	}
	upd, err := r.t.SetOrganizationExternalID(ctx, found.ID, o.ExternalID)
	if err != nil {
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		if isFatal(err) {
			return e, err
		}
		e.Attempts += int32(max(describeError(err).attempts, 1))
		outcome := OutcomeFailed
		if isOrgExternalIDUsed(err) {
			outcome = OutcomeConflict
		}
		fail(&e, outcome, err, nil)
		if outcome == OutcomeConflict {
			e.ErrorType = ErrTypeExternalIDTaken
		}
		return e, nil
	}
	e.Attempts += int32(max(upd.Attempts, 1))
	e.Outcome = outcome
	if upd.RequestID != "" {
		e.RequestID = upd.RequestID
	}
	return e, nil
}
