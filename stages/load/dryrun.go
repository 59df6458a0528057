package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// runDryRun looks every planned organization and member up in the target, without a single
// write, and writes what a load would do to load/dry_run_organizations.parquet and
// load/dry_run_members.parquet (the result schemas, with dry-run outcomes). Members of an
// organization that would be created need no lookup: they cannot exist yet.
func (s *Stage) runDryRun(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	d := env.Dir
	orgPath, memPath := d.Path(schemas.Organizations.Path()), d.Path(schemas.Members.Path())
	orgs, err := readOrganizations(orgPath, s.ropts...)
	if err != nil {
		return nil, err
	}
	total, err := countRows(memPath)
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inst, _ := s.target.(Instrumented)
	gt := s.startGate(ctx, inst)
	before := targetStats(inst)

	orgFile, err := pipeline.CreateAtomic(d.Path(DryRunOrganizationsPath), resultPerm)
	if err != nil {
		return nil, err
	}
	defer orgFile.Abort() //nolint:errcheck // no-op after Commit
	memFile, err := pipeline.CreateAtomic(d.Path(DryRunMembersPath), resultPerm)
	if err != nil {
		return nil, err
	}
	defer memFile.Abort() //nolint:errcheck // no-op after Commit

	// Organizations.
	results := make([]schemas.OrganizationResult, len(orgs))
	g, gctx := errgroup.WithContext(ctx)
	for i := range orgs {
		if err := gt.acquire(gctx); err != nil {
			break
		}
		g.Go(func() error {
			defer gt.release()
			res, err := s.planOrganization(gctx, &orgs[i])
			results[i] = res
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fatal(fmt.Errorf("dry run organizations: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	counts := map[string]int64{"organizations_planned": int64(len(orgs)), "members_planned": total}
	byKey := make(map[string]*schemas.OrganizationResult, len(results))
	ow, err := schemas.NewWriter(orgFile, schemas.OrganizationResults, meta(env), s.wopts...)
	if err != nil {
		return nil, err
	}
	for i := range results {
		byKey[results[i].OrgKey] = &results[i]
		counts["organizations_"+results[i].Outcome]++
		if err := ow.Append(&results[i]); err != nil {
			_ = ow.Close()
			return nil, err
		}
	}
	if err := ow.Close(); err != nil {
		return nil, err
	}

	// Members: workers plan, one goroutine writes.
	mw, err := schemas.NewWriter(memFile, schemas.MemberResults, meta(env), s.wopts...)
	if err != nil {
		return nil, err
	}
	out := make(chan schemas.MemberResult, 1024)
	var writeErr error
	var wg sync.WaitGroup
	wg.Add(1)
	memberCounts := map[string]int64{}
	go func() {
		defer wg.Done()
		for row := range out {
			memberCounts[row.Outcome]++
			if writeErr == nil {
				writeErr = mw.Append(&row)
			}
		}
	}()
	prog := env.Progress
	if prog == nil {
		prog = pipeline.NoProgress
	}
	bar := prog("dry run members", "members")
	bar.SetTotal(total)
	var lookedUp atomic.Int64
	mr, err := schemas.Open(memPath, schemas.Members, s.ropts...)
	if err != nil {
		close(out)
		wg.Wait()
		_ = mw.Close()
		return nil, fmt.Errorf("read members: %w", err)
	}
	g, gctx = errgroup.WithContext(ctx)
	var row int64
	var readErr error
	for mr.Next() {
		row++
		m := *mr.Row()
		if err := checkMember(memPath, row, &m); err != nil {
			readErr = err
			break
		}
		res := schemas.MemberResult{SourceUserID: m.SourceUserID, OrgKey: m.OrgKey, EmailAddress: m.EmailAddress,
			ExternalID: m.ExternalID}
		org := byKey[m.OrgKey]
		switch {
		case org == nil || !orgUsable(org.Outcome):
			res.Outcome, res.ErrorType = OutcomeSkippedOrgFailed, ErrTypeOrganizationFailed
			if org != nil {
				res.ErrorMessage = fmt.Sprintf("organization %q: %s", m.OrgKey, org.Outcome)
			}
			out <- res
			bar.Add(1)
			continue
		case org.Outcome == OutcomeWouldCreate:
			res.Outcome = OutcomeWouldCreate
			out <- res
			bar.Add(1)
			continue
		}
		res.OrganizationID = org.OrganizationID
		if err := gt.acquire(gctx); err != nil {
			break
		}
		g.Go(func() error {
			defer gt.release()
			err := s.planMember(gctx, &m, &res)
			if err != nil {
				return err
			}
			lookedUp.Add(1)
			out <- res
			bar.Add(1)
			return nil
		})
	}
	if readErr == nil {
		readErr = mr.Err()
	}
	_ = mr.Close()
	waitErr := g.Wait()
	close(out)
	wg.Wait()
	bar.Done()
	closeErr := mw.Close()
	switch {
	case waitErr != nil:
		return nil, fatal(fmt.Errorf("dry run members: %w", waitErr))
	case readErr != nil:
		return nil, readErr
	case writeErr != nil:
		return nil, writeErr
	case closeErr != nil:
		return nil, closeErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := orgFile.Commit(); err != nil {
		return nil, err
	}
	if err := memFile.Commit(); err != nil {
		return nil, err
	}
	res := &pipeline.Result{
		Inputs:  []string{schemas.Organizations.Path(), schemas.Members.Path()},
		Outputs: []string{DryRunOrganizationsPath, DryRunMembersPath},
		Counts:  counts,
		Details: map[string]any{},
	}
	for k, v := range memberCounts {
		counts["members_"+k] = v
		res.Partial = res.Partial || unsuccessful(k)
	}
	for k := range counts {
		if len(k) > len("organizations_") && k[:len("organizations_")] == "organizations_" && unsuccessful(k[len("organizations_"):]) {
			res.Partial = true
		}
	}
	end := targetStats(inst)
	counts["requests"] = end.Requests - before.Requests
	counts["members_looked_up"] = lookedUp.Load()
	return res, nil
}

// planOrganization decides what a load would do with o. A non-nil error stops the dry run.
func (s *Stage) planOrganization(ctx context.Context, o *schemas.Organization) (schemas.OrganizationResult, error) {
	res := schemas.OrganizationResult{OrgKey: o.OrgKey, ExternalID: o.ExternalID, Slug: o.Slug}
	lookup := func(ref string) (RemoteOrganization, bool, error) {
		found, err := s.target.GetOrganization(ctx, ref)
		res.Attempts += int32(max(found.Attempts, describeError(err).attempts, 1))
		switch {
		case err == nil:
			return found, true, nil
		case stytch.IsNotFound(err):
			return found, false, nil
		case ctx.Err() != nil || isFatal(err):
			return found, false, err
		}
		info := describeError(err)
		res.Outcome, res.ErrorType, res.ErrorMessage, res.RequestID = OutcomeFailed, info.typ, info.msg, info.requestID
		return found, false, errLookupFailed
	}
	found, ok, err := lookup(o.ExternalID)
	if err == nil && (!ok || (found.ExternalID != o.ExternalID && found.Slug != o.Slug)) {
		found, ok, err = lookup(o.Slug)
		if ok && found.Slug != o.Slug && found.ExternalID != o.ExternalID {
			ok = false
		}
	}
	if err == errLookupFailed {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if !ok {
		res.Outcome = OutcomeWouldCreate
		return res, nil
	}
	res.OrganizationID = found.ID
	res.RequestID = found.RequestID
	res.Outcome, res.ErrorType, res.ErrorMessage = s.planExternalID(found.ExternalID, o.ExternalID,
		fmt.Sprintf("organization %s (slug %q)", found.ID, found.Slug))
	return res, nil
}

// errLookupFailed marks a lookup whose failure was recorded in the result.
var errLookupFailed = fmt.Errorf("lookup failed")

// planExternalID decides the dry-run outcome for an object found with external id have when the
// plan wants want.
func (s *Stage) planExternalID(have, want, what string) (outcome, errType, msg string) {
	switch {
	case have == want:
		return OutcomeExists, "", ""
	case have == "":
		return OutcomeWouldAssignExternalID, "", ""
	case s.cfg.ReassignExternalIDs:
		return OutcomeWouldReassignExternalID, "", ""
	}
	return OutcomeConflict, ErrTypeExternalIDMismatch, fmt.Sprintf("%s has external id %q, the plan has %q", what, have, want)
}

// planMember decides what a load would do with m in an existing organization, filling res.
func (s *Stage) planMember(ctx context.Context, m *schemas.Member, res *schemas.MemberResult) error {
	found, err := s.target.GetMemberByEmail(ctx, res.OrganizationID, m.EmailAddress)
	res.Attempts += int32(max(found.Attempts, describeError(err).attempts, 1))
	if err == nil {
		res.MemberID, res.RequestID = found.ID, found.RequestID
		res.Outcome, res.ErrorType, res.ErrorMessage = s.planExternalID(found.ExternalID, m.ExternalID,
			fmt.Sprintf("member %s (%s)", found.ID, found.Email))
		return nil
	}
	if ctx.Err() != nil || isFatal(err) {
		return err
	}
	if !stytch.IsNotFound(err) {
		info := describeError(err)
		res.Outcome, res.ErrorType, res.ErrorMessage, res.RequestID = OutcomeFailed, info.typ, info.msg, info.requestID
		return nil
	}
	other, err := s.target.GetMemberByExternalID(ctx, res.OrganizationID, m.ExternalID)
	res.Attempts += int32(max(other.Attempts, describeError(err).attempts, 1))
	switch {
	case err == nil:
		res.MemberID = other.ID
		res.Outcome, res.ErrorType = OutcomeConflict, ErrTypeExternalIDTaken
		res.ErrorMessage = fmt.Sprintf("external id %q belongs to member %s (%s)", m.ExternalID, other.ID, other.Email)
	case stytch.IsNotFound(err):
		res.Outcome = OutcomeWouldCreate
	case ctx.Err() != nil || isFatal(err):
		return err
	default:
		info := describeError(err)
		res.Outcome, res.ErrorType, res.ErrorMessage, res.RequestID = OutcomeFailed, info.typ, info.msg, info.requestID
	}
	return nil
}
