package load

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Rollback deletes exactly the members and organizations this run's load created, never one it
// found existing, as the load ledger records them. An organization the run created is deleted
// whole (Stytch deletes its members with it); members the run created in organizations it found
// existing are deleted one by one. Members whose external id the load assigned or reassigned are
// left as they are (the API has no way to remove an external id in the version we target); their
// count is reported.
//
// Rollback keeps its own ledger (load/rollback_ledger/, kinds rollback_member and
// rollback_organization) and is resumable: a rerun skips what it deleted. When it completes
// without failure it moves both ledgers to load/rolled_back/<time>/ and removes the load result
// files and load/state.json, so that a later load starts from a clean slate. Rollback implements
// pipeline.Stage.
type Rollback struct {
	cfg     Config
	target  Target
	onFlush func(seq, rows int)
	ropts   []schemas.ReaderOption
	wopts   []schemas.WriterOption
}

var _ pipeline.Stage = (*Rollback)(nil)

// NewRollback returns the rollback of the load in a run directory, deleting through target.
// It takes the stage's options (WithFlushHook, WithReaderOptions, WithWriterOptions apply).
func NewRollback(cfg Config, target Target, opts ...Option) *Rollback {
	s := New(cfg, target, opts...)
	return &Rollback{cfg: s.cfg, target: target, onFlush: s.onFlush, ropts: s.ropts, wopts: s.wopts}
}

// Name returns StageRollback.
func (rb *Rollback) Name() string { return StageRollback }

// Run deletes what the load created.
func (rb *Rollback) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	d := env.Dir
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	loadDir, rbDir := d.Path(LedgerDir), d.Path(RollbackLedgerDir)
	kh := newKeyHasher()

	// What rollback already did.
	done := map[rowKey]bool{}
	err := scanLedger(rbDir, func(e *schemas.LedgerEntry) error {
		if e.Outcome == OutcomeDeleted || e.Outcome == OutcomeGone {
			done[kh.key(e.Kind, e.OrgKey, e.SourceUserID)] = true
		} else {
			delete(done, kh.key(e.Kind, e.OrgKey, e.SourceUserID))
		}
		return nil
	}, rb.ropts...)
	if err != nil {
		return nil, err
	}

	// Latest load outcome of every organization and member.
	latestOrg := map[string]schemas.LedgerEntry{}
	pos := map[rowKey]uint64{}
	var n uint64
	err = scanLedger(loadDir, func(e *schemas.LedgerEntry) error {
		n++
		switch e.Kind {
		case kindOrganization:
			latestOrg[e.OrgKey] = *e
		case kindMember:
			pos[kh.key(kindMember, e.OrgKey, e.SourceUserID)] = n
		}
		return nil
	}, rb.ropts...)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("rollback: %s holds no load ledger: nothing to roll back", LedgerDir)
	}

	ledger, err := startLedger(rbDir, meta(env), rb.cfg.FlushInterval, rb.cfg.FlushRows, rb.onFlush, rb.wopts...)
	if err != nil {
		return nil, err
	}
	ledgerClosed := false
	defer func() {
		if !ledgerClosed {
			_ = ledger.Close()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inst, _ := rb.target.(Instrumented)
	st := &Stage{cfg: rb.cfg}
	gt := st.startGate(ctx, inst)
	before := targetStats(inst)
	var counts tally
	var left int64

	// Members created in organizations the load did not create.
	g, gctx := errgroup.WithContext(ctx)
	n = 0
	err = scanLedger(loadDir, func(e *schemas.LedgerEntry) error {
		n++
		if e.Kind != kindMember || pos[kh.key(kindMember, e.OrgKey, e.SourceUserID)] != n {
			return nil
		}
		if !createdByRun(e.Outcome) {
			if e.Outcome == OutcomeExternalIDAssigned || e.Outcome == OutcomeExternalIDReassigned {
				left++
			}
			return nil
		}
		if createdByRun(latestOrg[e.OrgKey].Outcome) || e.MemberID == "" {
			return nil // deleted with its organization
		}
		if done[kh.key(kindRollbackMember, e.OrgKey, e.SourceUserID)] {
			counts.add("members_already_" + OutcomeDeleted)
			return nil
		}
		if err := gt.acquire(gctx); err != nil {
			return err
		}
		item := *e
		g.Go(func() error {
			defer gt.release()
			out, err := rb.deleteOne(gctx, kindRollbackMember, &item, func(ctx context.Context) error {
				return rb.target.DeleteMember(ctx, item.OrganizationID, item.MemberID)
			})
			if err != nil {
				return err
			}
			ledger.add(out)
			counts.add("members_" + out.Outcome)
			return nil
		})
		return nil
	}, rb.ropts...)
	werr := g.Wait()
	if err == nil {
		err = werr
	}
	if err != nil {
		return nil, fatal(fmt.Errorf("rollback members: %w", err))
	}

	// Organizations the load created, with whatever members they hold.
	g, gctx = errgroup.WithContext(ctx)
	var mu sync.Mutex
	for _, e := range latestOrg {
		if !createdByRun(e.Outcome) || e.OrganizationID == "" {
			continue
		}
		if done[kh.key(kindRollbackOrganization, e.OrgKey, "")] {
			counts.add("organizations_already_" + OutcomeDeleted)
			continue
		}
		if err := gt.acquire(gctx); err != nil {
			break
		}
		item := e
		g.Go(func() error {
			defer gt.release()
			out, err := rb.deleteOne(gctx, kindRollbackOrganization, &item, func(ctx context.Context) error {
				return rb.target.DeleteOrganization(ctx, item.OrganizationID)
			})
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			ledger.add(out)
			counts.add("organizations_" + out.Outcome)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fatal(fmt.Errorf("rollback organizations: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ledgerClosed = true
	if err := ledger.Close(); err != nil {
		return nil, err
	}
	end := targetStats(inst)
	res := &pipeline.Result{Counts: map[string]int64{
		"requests":                         end.Requests - before.Requests,
		"members_external_id_not_reverted": left,
	}}
	for k, v := range counts.m {
		res.Counts[k] = v
		if k == "members_"+OutcomeFailed || k == "organizations_"+OutcomeFailed {
			res.Partial = true
		}
	}
	if res.Partial {
		logger.Warn("rollback incomplete: rerun it to retry the failed deletions")
		return res, nil
	}
	if err := archiveLedgers(d, time.Now()); err != nil {
		return nil, err
	}
	return res, nil
}

// deleteOne runs del for the load entry e and returns its rollback entry. A non-nil error (wrong
// credentials, ctx done) stops the rollback; nothing is recorded then.
func (rb *Rollback) deleteOne(ctx context.Context, kind string, e *schemas.LedgerEntry,
	del func(context.Context) error) (schemas.LedgerEntry, error) {
	out := schemas.LedgerEntry{Kind: kind, OrgKey: e.OrgKey, SourceUserID: e.SourceUserID, EmailAddress: e.EmailAddress,
		ExternalID: e.ExternalID, OrganizationID: e.OrganizationID, MemberID: e.MemberID}
	err := del(ctx)
	switch {
	case err == nil:
		out.Outcome, out.Attempts = OutcomeDeleted, 1
	case ctx.Err() != nil:
		return out, ctx.Err()
	case isFatal(err):
		return out, err
	case stytch.IsNotFound(err):
		out.Outcome = OutcomeGone
		out.Attempts = int32(max(describeError(err).attempts, 1))
	default:
		fail(&out, OutcomeFailed, err, nil)
		out.Attempts = int32(max(describeError(err).attempts, 1))
	}
	return out, nil
}

// archiveLedgers moves the load and rollback ledgers to load/rolled_back/<time>/ and removes the
// load's result files and state, after a completed rollback.
func archiveLedgers(d *pipeline.RunDir, now time.Time) error {
	dest := d.Path(filepath.Join(RolledBackDir, now.UTC().Format("20060102T150405.000000000Z")))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("archive ledgers: %w", err)
	}
	for _, rel := range []string{RollbackLedgerDir, LedgerDir} {
		src := d.Path(rel)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := os.Rename(src, filepath.Join(dest, filepath.Base(rel))); err != nil {
			return fmt.Errorf("archive ledgers: %w", err)
		}
	}
	for _, rel := range []string{schemas.OrganizationResults.Path(), schemas.MemberResults.Path(), StatePath} {
		if err := os.Remove(d.Path(rel)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("archive ledgers: %w", err)
		}
	}
	return nil
}
