package load

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// tally counts outcomes; it is safe for concurrent use.
type tally struct {
	mu sync.Mutex
	m  map[string]int64
}

func (t *tally) add(outcome string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]int64{}
	}
	t.m[outcome]++
	t.mu.Unlock()
}

// Run loads the plan in env.Dir into the target (or, with WithDryRun, writes the dry-run plan).
func (s *Stage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	if s.dryRun {
		return s.runDryRun(ctx, env)
	}
	if err := s.cfg.Validate(); err != nil {
		return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	start := time.Now()
	d := env.Dir
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	progress := env.Progress
	if progress == nil {
		progress = pipeline.NoProgress
	}
	orgPath, memPath, pwPath := d.Path(schemas.Organizations.Path()), d.Path(schemas.Members.Path()),
		d.Path(schemas.MemberPasswords.Path())
	orgs, err := readOrganizations(orgPath, s.ropts...)
	if err != nil {
		return nil, err
	}
	total, err := countRows(memPath)
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	st, resumed, err := readOrInitState(d, env.RunID, start)
	if err != nil {
		return nil, err
	}
	// Only a load that an earlier process of this run started can find objects this run created
	// without knowing it (answers lost with a killed process): on a fresh start, an object found
	// with our external id existed before, whatever its creation time.
	since := st.StartedAt
	if !resumed {
		since = time.Time{}
	}
	prev, err := readLedgerState(ctx, d.Path(LedgerDir), s.ropts...)
	if err != nil {
		return nil, err
	}
	if prev.entries > 0 {
		logger.Info("resuming from the ledger", "entries", prev.entries, "organizations", len(prev.orgs),
			"members", len(prev.members), "retry_failed", s.retryFailed)
	}
	ledger, err := startLedger(d.Path(LedgerDir), meta(env), s.cfg.FlushInterval, s.cfg.FlushRows, s.onFlush, s.wopts...)
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
	inst, _ := s.target.(Instrumented)
	gt := s.startGate(ctx, inst)
	before := targetStats(inst)
	r := &resolver{t: s.target, reassign: s.cfg.ReassignExternalIDs, since: since, attempts: DefaultResolveAttempts}

	orgIDs, orgOutcomes, err := s.loadOrganizations(ctx, orgs, prev, r, gt, ledger)
	if err != nil {
		return nil, fatal(err)
	}
	if err := ledger.sync(); err != nil {
		return nil, err
	}
	afterOrgs := targetStats(inst)

	prog := &countingProgress{Progress: progress("load members", "members")}
	prog.SetTotal(total)
	stopStatus := s.logStatus(ctx, logger, inst, gt, prog, total)
	ph, err := s.loadMembers(ctx, memPath, pwPath, orgIDs, orgOutcomes, prev, r, gt, ledger, prog)
	stopStatus()
	prog.Done()
	ledgerClosed = true
	if cerr := ledger.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fatal(err)
	}
	prev = nil // the done set is not needed any more: let compaction have the memory

	comp, err := compactLedger(ctx, d, orgs, memPath, meta(env), s.ropts, s.wopts)
	if err != nil {
		return nil, err
	}
	end := targetStats(inst)
	elapsed := time.Since(start)

	res := &pipeline.Result{
		Inputs:  []string{schemas.Organizations.Path(), schemas.Members.Path()},
		Outputs: []string{schemas.OrganizationResults.Path(), schemas.MemberResults.Path(), StatePath},
		Counts: map[string]int64{
			"organizations_planned":  int64(len(orgs)),
			"members_planned":        total,
			"members_resumed":        ph.resumed,
			"members_attempted":      ph.attempted,
			"requests":               end.Requests - before.Requests,
			"requests_organizations": afterOrgs.Requests - before.Requests,
			"requests_members":       end.Requests - afterOrgs.Requests,
			"retries":                end.Retries - before.Retries,
			"rate_limited":           end.RateLimited - before.RateLimited,
			"server_errors":          end.ServerErrors - before.ServerErrors,
			"transport_errors":       end.TransportErrors - before.TransportErrors,
		},
		Details: map[string]any{
			"duration_seconds":           elapsed.Seconds(),
			"retry_failed":               s.retryFailed,
			"password_join_peak_pending": ph.peakPending,
			"concurrency":                gt.current(),
		},
	}
	if _, err := os.Stat(pwPath); err == nil {
		res.Inputs = append(res.Inputs, schemas.MemberPasswords.Path())
	}
	for k, v := range comp.orgCounts {
		res.Counts["organizations_"+k] = v
		res.Partial = res.Partial || unsuccessful(k)
	}
	for k, v := range comp.memberCounts {
		res.Counts["members_"+k] = v
		res.Partial = res.Partial || unsuccessful(k)
	}
	if ph.attempted > 0 {
		res.Details["requests_per_member"] = float64(end.Requests-afterOrgs.Requests) / float64(ph.attempted)
		res.Details["members_per_second"] = float64(ph.attempted) / ph.elapsed.Seconds()
	}
	if inst != nil {
		if p50, p99, ok := inst.Latency(); ok {
			res.Details["latency_p50_ms"] = float64(p50.Microseconds()) / 1000
			res.Details["latency_p99_ms"] = float64(p99.Microseconds()) / 1000
		}
	}
	return res, nil
}

// fatal attaches the config exit code to credential errors.
func fatal(err error) error {
	if stytch.IsCredentials(err) {
		return pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	return err
}

// targetStats returns the target's counters, or zeros.
func targetStats(inst Instrumented) TargetStats {
	if inst == nil {
		return TargetStats{}
	}
	return inst.Stats()
}

// startGate builds the concurrency gate: fixed when the config gives a concurrency, else sized
// from the rate and the observed latency by a goroutine that lives as long as ctx.
func (s *Stage) startGate(ctx context.Context, inst Instrumented) *gate {
	if s.cfg.Concurrency > 0 {
		return newGate(s.cfg.Concurrency, s.cfg.Concurrency)
	}
	lo, hi := min(DefaultMinConcurrency, s.cfg.MaxConcurrency), s.cfg.MaxConcurrency
	g := newGate(sizeFor(s.cfg.Rate, initialLatencyGuess, lo, hi), hi)
	if inst != nil {
		go runSizer(ctx, g, inst, lo, hi)
	}
	return g
}

// loadOrganizations loads the planned organizations (those the ledger does not hold already)
// and returns the organization id of every usable one and the outcome of every one.
func (s *Stage) loadOrganizations(ctx context.Context, orgs []schemas.Organization, prev *ledgerState,
	r *resolver, gt *gate, ledger *ledgerWriter) (ids, outcomes map[string]string, err error) {
	ids, outcomes = map[string]string{}, map[string]string{}
	var mu sync.Mutex
	record := func(e *schemas.LedgerEntry) {
		mu.Lock()
		defer mu.Unlock()
		outcomes[e.OrgKey] = e.Outcome
		if orgUsable(e.Outcome) && e.OrganizationID != "" {
			ids[e.OrgKey] = e.OrganizationID
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range orgs {
		o := &orgs[i]
		if e, ok := prev.orgs[o.OrgKey]; ok && !(s.retryFailed && retryable(e.Outcome)) {
			record(&e)
			continue
		}
		if err := gt.acquire(gctx); err != nil {
			break
		}
		g.Go(func() error {
			defer gt.release()
			e, err := r.loadOrganization(gctx, o)
			if err != nil {
				return err
			}
			ledger.add(e)
			record(&e)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("load organizations: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return ids, outcomes, nil
}

// memberPhase is what loading the members did.
type memberPhase struct {
	resumed, attempted int64
	peakPending        int
	elapsed            time.Duration
}

// loadMembers streams the planned members and loads, in parallel under the gate, every one the
// ledger does not hold already.
func (s *Stage) loadMembers(ctx context.Context, memPath, pwPath string, orgIDs, orgOutcomes map[string]string,
	prev *ledgerState, r *resolver, gt *gate, ledger *ledgerWriter, prog pipeline.Progress) (memberPhase, error) {
	var ph memberPhase
	start := time.Now()
	mr, err := schemas.Open(memPath, schemas.Members, s.ropts...)
	if err != nil {
		return ph, fmt.Errorf("read members: %w", err)
	}
	defer mr.Close()
	pj, err := openPasswordJoin(pwPath, s.ropts...)
	if err != nil {
		return ph, err
	}
	defer pj.Close()

	var attempted atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	kh := newKeyHasher()
	var row int64
	var dispatchErr error
	for mr.Next() {
		row++
		m := *mr.Row()
		if err := checkMember(memPath, row, &m); err != nil {
			dispatchErr = err
			break
		}
		if code, ok := prev.members[kh.key(kindMember, m.OrgKey, m.SourceUserID)]; ok &&
			!(s.retryFailed && retryable(outcomeCodes[code])) {
			if m.HasPassword {
				if _, _, err := pj.take(m.OrgKey, m.SourceUserID); err != nil {
					dispatchErr = err
					break
				}
			}
			ph.resumed++
			prog.Add(1)
			continue
		}
		var pw *schemas.MemberPassword
		if m.HasPassword {
			p, ok, err := pj.take(m.OrgKey, m.SourceUserID)
			if err != nil {
				dispatchErr = err
				break
			}
			if !ok {
				ledger.add(schemas.LedgerEntry{Kind: kindMember, OrgKey: m.OrgKey, SourceUserID: m.SourceUserID,
					EmailAddress: m.EmailAddress, ExternalID: m.ExternalID, Outcome: OutcomeFailed,
					ErrorType: ErrTypePasswordMissing, ErrorMessage: "has_password is set but member_passwords.parquet holds no row for this member"})
				prog.Add(1)
				continue
			}
			pw = p
		}
		orgID, ok := orgIDs[m.OrgKey]
		if !ok {
			why := orgOutcomes[m.OrgKey]
			if why == "" {
				why = "not planned"
			}
			ledger.add(schemas.LedgerEntry{Kind: kindMember, OrgKey: m.OrgKey, SourceUserID: m.SourceUserID,
				EmailAddress: m.EmailAddress, ExternalID: m.ExternalID, Outcome: OutcomeSkippedOrgFailed,
				ErrorType: ErrTypeOrganizationFailed, ErrorMessage: fmt.Sprintf("organization %q: %s", m.OrgKey, why)})
			prog.Add(1)
			continue
		}
		if err := gt.acquire(gctx); err != nil {
			break
		}
		g.Go(func() error {
			defer gt.release()
			e, err := r.loadMember(gctx, orgID, &m, pw)
			if err != nil {
				return err
			}
			ledger.add(e)
			attempted.Add(1)
			prog.Add(1)
			return nil
		})
	}
	if dispatchErr == nil {
		dispatchErr = mr.Err()
	}
	waitErr := g.Wait()
	ph.attempted = attempted.Load()
	ph.peakPending = pj.peakPending()
	ph.elapsed = time.Since(start)
	switch {
	case waitErr != nil:
		return ph, fmt.Errorf("load members: %w", waitErr)
	case dispatchErr != nil:
		return ph, dispatchErr
	}
	return ph, ctx.Err()
}

// checkMember checks the fields the stage relies on, naming file, row and field.
func checkMember(path string, row int64, m *schemas.Member) error {
	field := ""
	switch {
	case m.OrgKey == "":
		field = "org_key"
	case m.SourceUserID == "":
		field = "source_user_id"
	case m.EmailAddress == "":
		field = "email_address"
	default:
		return nil
	}
	return fmt.Errorf("read members: %s: row %d: field %s: empty", path, row, field)
}

// countingProgress is a Progress that also keeps its count, for the status line.
type countingProgress struct {
	pipeline.Progress
	n atomic.Int64
}

// Add counts n more members.
func (p *countingProgress) Add(n int64) {
	p.n.Add(n)
	p.Progress.Add(n)
}

// logStatus logs a status line (members done, rate, ETA, requests, 429s, retries, concurrency,
// latency) every statusInterval until the returned stop is called.
func (s *Stage) logStatus(ctx context.Context, logger *slog.Logger, inst Instrumented, gt *gate,
	prog *countingProgress, total int64) (stop func()) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(statusInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			st := targetStats(inst)
			n := prog.n.Load()
			perSec := float64(n) / time.Since(start).Seconds()
			attrs := []any{"members", n, "total", total, "members_per_second", fmt.Sprintf("%.1f", perSec)}
			if perSec > 0 && total > n {
				attrs = append(attrs, "eta", (time.Duration(float64(total-n)/perSec) * time.Second).Round(time.Second))
			}
			attrs = append(attrs, "requests", st.Requests, "rate_limited", st.RateLimited, "retries", st.Retries,
				"concurrency", gt.current())
			if inst != nil {
				p50, p99, _ := inst.Latency()
				attrs = append(attrs, "rate_limit", fmt.Sprintf("%.1f/s", inst.Rate()), "p50", p50, "p99", p99)
			}
			logger.Info("load status", attrs...)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
