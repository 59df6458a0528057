package transform

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/internal/arrowpool"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Count names in the stage's Result.
const (
	// CountUsers is the number of users read.
	CountUsers = "users"
	// CountMemberships is the number of (user, org) candidate memberships of users that passed
	// the per-user rules.
	CountMemberships = "memberships"
	// CountMembers is the number of planned members.
	CountMembers = "members"
	// CountDuplicates is the number of memberships merged into a survivor.
	CountDuplicates = "duplicates"
	// CountRejects is the number of reject rows of every scope.
	CountRejects = "rejects"
	// CountOrganizations is the number of planned organizations.
	CountOrganizations = "organizations"
	// CountPasswords is the number of member password rows (only with a hash file).
	CountPasswords = "passwords"
	// CountUserRejects, CountMembershipRejects and CountPasswordRejects split the rejects by
	// scope: users rejected as a whole, single memberships, password hashes. Every user is
	// eligible or a user reject, and every membership of an eligible user is a member, a
	// duplicate or a membership reject.
	CountUserRejects       = "rejects_user"
	CountMembershipRejects = "rejects_membership"
	CountPasswordRejects   = "rejects_password"
	// CountMappingUnmatched (strategy mapping) is the number of rows of the mapping file that
	// name no user of the extract: a user_id no user has, or an email that is no user's valid
	// primary email. They plan nothing; many of them suggest a mapping made for other data.
	// transform/mapping_unmatched.parquet lists them.
	CountMappingUnmatched = "mapping_rows_unmatched"
	// countRejectPrefix starts the per-reason reject counts, e.g. "rejects.no_email".
	countRejectPrefix = "rejects."
)

// File modes of the outputs.
const (
	outputPerm   = 0o644
	passwordPerm = 0o600
)

// budgetShare is the part of the memory limit the candidate store may hold before spilling; the
// rest covers the sort keys of a partition, read and write buffers and the garbage collector's
// headroom.
const budgetShare = 3

// gcPercent is the garbage collector's GOGC while the stage runs (see Run).
const gcPercent = 25

// runtimeReserve: the Go runtime's soft memory limit is the budget less 1/runtimeReserve of it,
// left for the resident memory that limit does not count (the program's code and data). At 10M
// users under 512MiB this keeps the peak RSS under the budget (506 MiB; 535 MiB with the whole
// budget as the limit) at no measurable cost in time.
const runtimeReserve = 16

type options struct {
	spillBytes int64
	workers    int
	alloc      memory.Allocator
	fanout     int // files an oversized spill partition is split into at once (tests make it 2)
	partitions int // the number of spill partitions instead of the estimate (tests)
	// passwords and mapping are how the hash and mapping files are held: the memory their
	// indexes may take before they are joined partition by partition (tests also set the
	// partitions and the split floor). The spill folder is set where they are used.
	passwords, mapping joinOptions
}

// Option tunes a Stage.
type Option func(*options)

// WithSpillThreshold overrides the bytes of candidates kept in memory before spilling (tests use
// a tiny value to force the spill path).
func WithSpillThreshold(n int64) Option { return func(o *options) { o.spillBytes = n } }

// WithWorkers sets how many goroutines apply the per-user rules (default GOMAXPROCS).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithAllocator sets the Arrow allocator for reading and writing (tests use a checked one).
func WithAllocator(mem memory.Allocator) Option { return func(o *options) { o.alloc = mem } }

// Stage is the transform stage: extract/users.parquet in, the migration plan out.
type Stage struct {
	cfg  Config
	opts []Option
}

var _ pipeline.Stage = (*Stage)(nil)

// New returns the transform stage for cfg (defaults are filled in; Run validates).
func New(cfg Config, opts ...Option) *Stage {
	return &Stage{cfg: cfg.WithDefaults(), opts: opts}
}

// Name returns pipeline.StageTransform.
func (s *Stage) Name() string { return pipeline.StageTransform }

// Run plans the migration (see the package documentation) in env.Dir.
func (s *Stage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	return Run(ctx, s.cfg, env, s.opts...)
}

// Run is the stage as a plain function: it reads extract/users.parquet in env.Dir and writes
// transform/organizations.parquet, members.parquet, duplicates.parquet, rejects.parquet and,
// with a hash file, member_passwords.parquet. Outputs are committed together at the end, only
// after the reconciliation check passed; on error nothing is changed. A configuration error
// carries pipeline.ExitConfig.
func Run(ctx context.Context, cfg Config, env *pipeline.Env, opts ...Option) (*pipeline.Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, pipeline.WithExitCode(fmt.Errorf("transform config: %w", err), pipeline.ExitConfig)
	}
	o := options{spillBytes: int64(cfg.Transform.MemoryLimit) / budgetShare, workers: runtime.GOMAXPROCS(0),
		alloc: memory.DefaultAllocator, fanout: splitFanout,
		passwords: joinOptions{limit: int64(cfg.Transform.MemoryLimit) / passwordShare},
		mapping:   joinOptions{limit: int64(cfg.Transform.MemoryLimit) / mappingShare}}
	for _, opt := range opts {
		opt(&o)
	}
	// Bound the Go heap by the budget too, unless the process already chose a limit.
	if prev := debug.SetMemoryLimit(-1); prev == math.MaxInt64 {
		limit := int64(cfg.Transform.MemoryLimit)
		debug.SetMemoryLimit(limit - limit/runtimeReserve)
		defer debug.SetMemoryLimit(prev)
	}
	// The stage's large structures are pointer-free (arenas of records, tables of integers), so
	// a collection costs little beyond its fixed overhead: collect at a quarter of the live heap
	// rather than Go's default of all of it, unless GOGC is set. This keeps the peak near the
	// live set.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	}
	// Batches are read and written in a steady stream: reuse their buffers instead of making
	// garbage of them.
	pool := arrowpool.New(o.alloc, arrowpool.DefaultLimit)
	defer pool.Release()
	o.alloc = pool
	t := &run{cfg: cfg, env: env, opts: o}
	return t.run(ctx)
}

// run is one execution of the stage.
type run struct {
	cfg  Config
	env  *pipeline.Env
	opts options

	orgFile map[string]*orgRow
	pws     *passwordIndex
	store   *store
	// mjoin, when the mapping file's index passed its share, gives the scan each user's keys.
	mjoin *mappingJoin

	mu      sync.Mutex
	rejects *rejectSet
	dups    *sortedRuns[schemas.Duplicate]
	ledger  ledger
}

func (t *run) run(ctx context.Context) (*pipeline.Result, error) {
	env := t.env
	res := &pipeline.Result{Inputs: []string{schemas.Users.Path()}, Counts: map[string]int64{}, Details: map[string]any{}}
	var (
		m    *mapping
		over *mappingOverflow
		err  error
	)
	if f := t.cfg.Organizations.File; f != "" {
		if t.orgFile, err = readOrganizationsFile(f); err != nil {
			return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
		}
		res.Inputs = append(res.Inputs, absPath(f))
	}
	if f := t.cfg.Organizations.MappingFile; f != "" {
		t0 := time.Now()
		if m, over, err = readMappingFile(f, t.opts.mapping.limit, t.progress("read mapping file", "bytes")); err != nil {
			return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
		}
		t.logPhase("mapping", t0)
		if m != nil {
			res.Details["mapping_rows"], res.Details["mapping_index_bytes"] = m.rows(), m.size()
		}
		res.Inputs = append(res.Inputs, absPath(f))
	}

	usersPath := env.Dir.Path(schemas.Users.Path())
	users, err := openUsers(ctx, usersPath, t.opts.alloc)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer func() {
		if users != nil {
			users.Close()
		}
	}()
	budget := t.opts.spillBytes
	if m != nil {
		// The mapping's index stays in memory until the end of the scan: the candidates
		// spill that much earlier, keeping at least half their share.
		budget = max(budget-m.size(), budget/2)
	}
	if t.store, err = newStore(budget, env.Dir.Path(spillDir), users.rows,
		schemas.FileMeta{ToolVersion: env.ToolVersion, RunID: env.RunID}, t.opts.alloc); err != nil {
		return nil, err
	}
	t.store.fanout, t.store.forceParts = max(t.opts.fanout, 2), t.opts.partitions
	defer t.store.cleanup()
	t.rejects = newRejectSet(t.opts.spillBytes/runShare, t.store.dir, t.store.meta, t.opts.alloc)
	t.dups = newDuplicateSet(t.opts.spillBytes/runShare, t.store.dir, t.store.meta, t.opts.alloc)
	if over != nil {
		// The mapping file's index passed its share: join it with the users instead.
		t0 := time.Now()
		o := t.opts.mapping
		o.dir = t.store.dir
		t.mjoin, err = joinMapping(ctx, t.cfg.Organizations.MappingFile, over, o, usersPath, t.opts.alloc, t.opts.workers,
			t.progress)
		if err != nil {
			return nil, err
		}
		defer t.mjoin.close()
		t.logPhase("mapping join", t0)
		res.Details["mapping_partitions"], res.Details["mapping_partition_peak_bytes"] = len(t.mjoin.leaves), t.mjoin.peak.Load()
	}
	if f := t.cfg.Passwords.HashesFile; f != "" {
		t0 := time.Now()
		o := t.opts.passwords
		o.dir = t.store.dir
		reject := func(r schemas.Reject) error { return t.rejects.add(r) }
		if t.pws, err = readHashFile(f, o, reject, t.progress("read hashes file", "bytes")); err != nil {
			return nil, err
		}
		defer t.pws.close()
		t.logPhase("hashes", t0)
		res.Inputs = append(res.Inputs, absPath(f))
	}

	progress := t.progress("transform users", "users")
	progress.SetTotal(users.rows)
	t0 := time.Now()
	err = t.scan(ctx, users, usersPath, newPlanner(t.cfg, t.orgFile, m), progress)
	t.logPhase("scan", t0)
	progress.Done()
	if err != nil {
		return nil, err
	}
	users.Close() // its buffers are not needed any more
	users = nil
	// Nor is the mapping's index, once its unmatched rows are found.
	var unmatched *unmatchedRows
	switch {
	case m != nil:
		unmatched = newUnmatchedRows(m.rows())
		m.eachUnmatched(unmatched.add)
	case t.mjoin != nil:
		unmatched = t.mjoin.unmatched
	}
	if err := t.store.finishPayloads(); err != nil {
		return nil, err
	}

	out, err := t.openOutputs()
	if err != nil {
		return nil, err
	}
	defer out.abort()
	if unmatched != nil {
		t0 := time.Now()
		if err := unmatched.list(t.cfg.Organizations.MappingFile, out.unmatched); err != nil {
			return nil, err
		}
		t.logPhase("mapping unmatched", t0)
	}
	if err := t.plan(ctx, out); err != nil {
		return nil, err
	}
	t0 = time.Now()
	if err := t.ledger.check(); err != nil {
		return nil, err
	}
	if err := out.commit(); err != nil {
		return nil, err
	}

	t.logPhase("commit", t0)
	res.Outputs = out.paths(env.Dir)
	c := res.Counts
	c[CountUsers] = t.ledger.users.n
	c[CountMemberships] = t.ledger.candidates.n
	c[CountMembers] = t.ledger.members.n
	c[CountDuplicates] = t.ledger.duplicates.n
	c[CountRejects] = t.rejects.total
	c[CountOrganizations] = out.orgCount
	if t.pws != nil {
		c[CountPasswords] = out.passwords
	}
	c[CountUserRejects], c[CountMembershipRejects] = 0, 0
	maps.Copy(c, t.rejects.counts)
	if unmatched != nil {
		c[CountMappingUnmatched] = unmatched.count()
		if n := unmatched.count(); n > 0 && env.Logger != nil {
			env.Logger.Warn("mapping file rows name no user of the extract", "rows", n,
				"file", t.cfg.Organizations.MappingFile, "listed_in", schemas.MappingUnmatched.Path())
		}
	}
	res.Details["strategy"] = t.cfg.Organizations.Strategy
	res.Details["spilled"] = t.store.spilled()
	if t.store.spill != nil {
		res.Details["spill_partitions"] = len(t.store.spill.parts)
		res.Details["spill_resplits"] = t.store.resplits
		res.Details["spill_bytes"] = t.store.spill.bytes.Load()
	}
	if n := t.rejects.runFiles(); n > 0 {
		res.Details["reject_runs"] = n
	}
	if n := t.dups.runFiles(); n > 0 {
		res.Details["duplicate_runs"] = n
	}
	if t.pws != nil && t.pws.join != nil {
		res.Details["password_partitions"] = len(t.pws.join.leaves)
		res.Details["password_partition_peak_bytes"] = t.pws.join.peak.Load()
	}
	res.Partial = t.rejects.total > 0
	if env.Logger != nil {
		env.Logger.Info("transform planned", "users", c[CountUsers], "members", c[CountMembers],
			"duplicates", c[CountDuplicates], "rejects", c[CountRejects], "organizations", c[CountOrganizations],
			"spilled", t.store.spilled())
	}
	return res, nil
}

// absPath makes a configured input path absolute, as the manifest records files outside the
// run directory.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// logPhase logs how long a phase took, at debug level.
// progress starts the progress report of a part of the stage's work: what it does (label) and
// what it counts (unit). Without a reporter in the Env it reports nothing.
func (t *run) progress(label, unit string) pipeline.Progress {
	if t.env.Progress == nil {
		return pipeline.NoProgress(label, unit)
	}
	return t.env.Progress(label, unit)
}

func (t *run) logPhase(phase string, start time.Time) {
	if t.env.Logger != nil {
		t.env.Logger.Debug("transform phase done", "phase", phase, "duration", time.Since(start))
	}
}

// scan reads the users batch by batch and applies the per-user rules on worker goroutines.
func (t *run) scan(ctx context.Context, users *usersReader, usersPath string, p *planner, progress pipeline.Progress) error {
	g, ctx := errgroup.WithContext(ctx)
	type seqBatch struct {
		seq   int64
		first int64 // the row of the batch's first user in the users file
		b     arrow.RecordBatch
		keys  *batchKeys // the mapping join's keys of the batch's users, if joined
	}
	batches := make(chan seqBatch, t.opts.workers)
	g.Go(func() error {
		defer close(batches)
		first := 0
		for seq := int64(0); users.rr.Next(); seq++ {
			b := users.rr.RecordBatch()
			var keys *batchKeys
			if t.mjoin != nil {
				var err error
				if keys, err = t.mjoin.batch(first, int(b.NumRows())); err != nil {
					return err
				}
			}
			sb := seqBatch{seq, int64(first), b, keys}
			first += int(b.NumRows())
			b.Retain()
			select {
			case batches <- sb:
			case <-ctx.Done():
				b.Release()
				return ctx.Err()
			}
		}
		if err := users.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read users: %s: %w", usersPath, err)
		}
		return nil
	})
	for range max(t.opts.workers, 1) {
		g.Go(func() error {
			w := &worker{run: t, p: p}
			for sb := range batches {
				rows := sb.b.NumRows()
				err := w.batch(sb.seq, sb.first, sb.b, sb.keys)
				sb.b.Release()
				if err != nil {
					t.store.abort(err)
					for sb := range batches {
						sb.b.Release()
					}
					return err
				}
				progress.Add(rows)
			}
			t.mu.Lock()
			t.ledger.merge(&w.ledger)
			t.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// worker applies the per-user rules to record batches.
type worker struct {
	run    *run
	p      *planner
	u      schemas.User
	plan   userPlan
	local  localBatch
	ledger ledger
}

// batch plans the users of record batch number seq, whose first user is on row first of the
// users file; keys, when the mapping file was joined, are their organization keys.
func (w *worker) batch(seq, first int64, b arrow.RecordBatch, keys *batchKeys) error {
	cols, err := bindUserColumns(b)
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	w.local.reset(seq)
	var rejects []schemas.Reject
	for i := range int(b.NumRows()) {
		cols.row(i, &w.u)
		if keys != nil {
			w.plan.mapped = keys.of(i)
		}
		w.p.plan(&w.u, &w.plan)
		w.ledger.users.add(w.u.UserID, "")
		if w.plan.rejected {
			rejects = append(rejects, cloneReject(w.plan.reject))
			continue
		}
		off, kept := len(w.local.buf), 0
		w.ledger.planned.add(w.u.UserID, "")
		for k, key := range w.plan.keys {
			w.ledger.candidates.add(w.u.UserID, key)
			if r := w.plan.keyRejects[k]; r.Reason != "" {
				rejects = append(rejects, cloneReject(r))
				continue
			}
			w.local.keys = append(w.local.keys, key)
			w.local.offs = append(w.local.offs, off)
			kept++
		}
		if kept > 0 {
			w.plan.pl.row = first + int64(i)
			h := newRecordHead(&w.plan.pl)
			w.local.buf = appendKeyRecord(w.local.buf, &w.plan.pl, &h)
			w.local.payloads = binary.AppendUvarint(w.local.payloads, uint64(kept))
			w.local.payloads = appendRecord(w.local.payloads, &w.plan.pl, &h)
		}
	}
	if err := w.run.store.add(&w.local, int(b.NumRows())); err != nil {
		return err
	}
	if len(rejects) > 0 {
		return w.run.rejects.add(rejects...)
	}
	return nil
}

// cloneReject copies a reject's strings, which may alias a record batch.
func cloneReject(r schemas.Reject) schemas.Reject {
	r.SourceUserID = strings.Clone(r.SourceUserID)
	r.OrgKey = strings.Clone(r.OrgKey)
	r.Field = strings.Clone(r.Field)
	r.RawValue = strings.Clone(r.RawValue)
	r.Detail = strings.Clone(r.Detail)
	return r
}

// plan decides every candidate membership, then writes every output.
func (t *run) plan(ctx context.Context, out *outputs) error {
	t0 := time.Now()
	dict := t.store.dict
	order := make([]uint32, dict.len())
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(dict.key(a), dict.key(b)) })
	ranks := make([]uint32, dict.len())
	for r, i := range order {
		ranks[i] = uint32(r)
	}
	dec := newDecisions(t.store.memberships(), dict.len())
	d := &deduper{dict: dict, ranks: ranks, order: order, dec: dec, sink: &finalSink{run: t}, workers: t.opts.workers}
	if err := t.store.partitions(ctx, d.run); err != nil {
		return err
	}
	t.store.release()
	// The duplicates are finished before the members start, so that the two writers' buffers
	// are never held at once.
	if err := t.writeDuplicates(out); err != nil {
		return err
	}
	t.logPhase("dedupe", t0)
	t0 = time.Now()
	if t.pws != nil && t.pws.join != nil {
		if err := t.pws.prepare(ctx, t.store.payloads, dec.outcome, t.opts.workers); err != nil {
			return err
		}
		t.logPhase("password join", t0)
	}
	// The organizations need only the counts: they are written while the members are.
	var g errgroup.Group
	g.Go(func() error { return t.writeOrganizations(out, dict, dec.counts) })
	err := t.emit(ctx, out, dec)
	if err == nil {
		err = out.finishMembers()
	}
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	if err != nil {
		return err
	}
	t.logPhase("members", t0)
	if err := t.pws.finish(); err != nil {
		return err
	}
	return t.writeRejects(out)
}

// writeDuplicates writes every duplicate, in order, and finishes the file.
func (t *run) writeDuplicates(out *outputs) error {
	err := t.dups.each(func(d *schemas.Duplicate) error {
		t.ledger.duplicates.add(d.SourceUserID, d.OrgKey)
		return out.dups.Append(d)
	})
	if err != nil {
		return err
	}
	return out.dups.Close()
}

// writeRejects writes every reject, in order.
func (t *run) writeRejects(out *outputs) error {
	return t.rejects.each(func(r *schemas.Reject) error {
		switch r.Scope {
		case scopeUser:
			t.ledger.userRejects.add(r.SourceUserID, "")
		case scopeMembership:
			t.ledger.membershipRejects.add(r.SourceUserID, r.OrgKey)
		}
		return out.rejects.Append(r)
	})
}

// writeOrganizations writes the planned organizations, sorted by key: every row of the
// organizations file, and every other key with at least one member.
func (t *run) writeOrganizations(out *outputs, dict *stringDict, counts []int64) error {
	byKey := map[string]int64{}
	for i := range uint32(dict.len()) {
		if counts[i] > 0 {
			byKey[dict.key(i)] = counts[i]
		}
	}
	for k := range t.orgFile {
		if _, ok := byKey[k]; !ok {
			byKey[k] = 0
		}
	}
	keys := slices.Sorted(maps.Keys(byKey))
	d := t.cfg.Organizations.Defaults
	orgs := make([]schemas.Organization, len(keys))
	fileSlugs := map[string]string{}
	for i, k := range keys {
		o := schemas.Organization{OrgKey: k, Name: k, ExternalID: k, MemberCount: byKey[k],
			EmailJITProvisioning: d.EmailJITProvisioning, EmailInvites: d.EmailInvites,
			AuthMethods: d.AuthMethods, AllowedAuthMethods: slices.Clone(d.AllowedAuthMethods), MFAPolicy: d.MFAPolicy}
		if row := t.orgFile[k]; row != nil {
			if row.name != "" {
				o.Name = row.name
			}
			o.EmailAllowedDomains = row.domains
			fileSlugs[k] = row.slug
		} else if t.cfg.Organizations.Strategy == StrategyEmailDomain && !(t.cfg.Organizations.PersonalEmails == PersonalOrganization && k == t.cfg.Organizations.PersonalOrgKey) {
			o.EmailAllowedDomains = []string{k}
		}
		orgs[i] = o
	}
	planSlugs(orgs, fileSlugs)
	out.orgCount = int64(len(orgs))
	for i := range orgs {
		if err := out.orgs.Append(&orgs[i]); err != nil {
			return err
		}
	}
	return nil
}
