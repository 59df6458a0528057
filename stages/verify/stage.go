package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// drift file mode.
const driftPerm = 0o644

// Stage is the verify stage: it reads the B2B project back and writes verify/drift.parquet. It
// implements pipeline.Stage. A Stage runs once at a time.
type Stage struct {
	cfg    Config
	target Target
	ropts  []schemas.ReaderOption
	wopts  []schemas.WriterOption
}

var _ pipeline.Stage = (*Stage)(nil)

// Option configures a Stage.
type Option func(*Stage)

// WithReaderOptions passes options to every staged-file reader (tests pass a checked allocator).
func WithReaderOptions(opts ...schemas.ReaderOption) Option {
	return func(s *Stage) { s.ropts = append(s.ropts, opts...) }
}

// WithWriterOptions passes options to the drift file's writer.
func WithWriterOptions(opts ...schemas.WriterOption) Option {
	return func(s *Stage) { s.wopts = append(s.wopts, opts...) }
}

// New returns the verify stage reading target with cfg (defaults applied).
func New(cfg Config, target Target, opts ...Option) *Stage {
	s := &Stage{cfg: cfg.WithDefaults(), target: target}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name returns pipeline.StageVerify.
func (s *Stage) Name() string { return pipeline.StageVerify }

// requestCounter is implemented by targets that count their requests (ClientTarget).
type requestCounter interface {
	Requests() (searches, gets int64)
}

// run is one execution of the stage.
type run struct {
	s      *Stage
	dir    *pipeline.RunDir
	w      *schemas.Writer[schemas.DriftRow]
	counts map[string]int64
	// orgSlugs holds the slug load recorded per org key, when load ran.
	orgSlugs map[string]string
	hasLoad  bool
	prog     pipeline.Progress
}

// Run compares the plan in env.Dir with the target. It returns a Result with Partial set when it
// found any drift, and an error only when it could not finish (nothing is written then).
func (s *Stage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, pipeline.WithExitCode(fmt.Errorf("verify config: %w", err), pipeline.ExitConfig)
	}
	d := env.Dir
	for _, rel := range []string{schemas.Organizations.Path(), schemas.Members.Path()} {
		if _, err := os.Stat(d.Path(rel)); err != nil {
			return nil, fmt.Errorf("verify: %s: %w (run transform first)", rel, err)
		}
	}
	res := &pipeline.Result{Inputs: []string{schemas.Organizations.Path(), schemas.Members.Path()},
		Outputs: []string{schemas.Drift.Path()}, Counts: map[string]int64{}}
	r := &run{s: s, dir: d, counts: res.Counts, prog: pipeline.NoProgress("", "")}
	if env.Progress != nil {
		r.prog = env.Progress("verify organizations", "orgs")
	}
	defer r.prog.Done()
	if err := r.readLoadOrganizations(); err != nil {
		return nil, err
	}
	if r.hasLoad {
		res.Inputs = append(res.Inputs, schemas.OrganizationResults.Path())
	}
	if _, err := os.Stat(d.Path(schemas.MemberResults.Path())); err == nil {
		res.Inputs = append(res.Inputs, schemas.MemberResults.Path())
	}

	out, err := pipeline.CreateAtomic(d.Path(schemas.Drift.Path()), driftPerm)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer out.Abort()
	w, err := schemas.NewWriter(out, schemas.Drift, schemas.FileMeta{ToolVersion: env.ToolVersion, RunID: env.RunID}, s.wopts...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	r.w = w
	if err := r.walkOrganizations(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", schemas.Drift.Path(), err)
	}
	if err := out.Commit(); err != nil {
		return nil, fmt.Errorf("write %s: %w", schemas.Drift.Path(), err)
	}
	if rc, ok := s.target.(requestCounter); ok {
		res.Counts["search_requests"], res.Counts["get_requests"] = rc.Requests()
	}
	res.Partial = res.Counts["drift"] > 0
	if env.Logger != nil {
		env.Logger.Info("verify done", "drift", res.Counts["drift"], "members_planned", res.Counts["members_planned"],
			"members_found", res.Counts["members_found"])
	}
	return res, nil
}

// readLoadOrganizations reads the slugs load used, when load/organizations.parquet exists.
func (r *run) readLoadOrganizations() error {
	path := r.dir.Path(schemas.OrganizationResults.Path())
	rd, err := schemas.Open(path, schemas.OrganizationResults, r.s.ropts...)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer rd.Close()
	r.hasLoad = true
	r.orgSlugs = map[string]string{}
	for rd.Next() {
		if row := rd.Row(); row.Slug != "" {
			r.orgSlugs[row.OrgKey] = row.Slug
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return nil
}

// walkOrganizations streams the planned organizations and verifies them a window at a time: as
// many organizations as hold about WindowMembers planned members.
func (r *run) walkOrganizations(ctx context.Context) error {
	rd, err := schemas.Open(r.dir.Path(schemas.Organizations.Path()), schemas.Organizations, r.s.ropts...)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer rd.Close()
	r.prog.SetTotal(rd.Info().Rows)
	var window []schemas.Organization
	var budget int64
	flush := func() error {
		if len(window) == 0 {
			return nil
		}
		err := r.verifyWindow(ctx, window)
		r.prog.Add(int64(len(window)))
		window, budget = window[:0], 0
		return err
	}
	for rd.Next() {
		o := *rd.Row()
		if len(window) > 0 && budget+o.MemberCount > int64(r.s.cfg.WindowMembers) {
			if err := flush(); err != nil {
				return err
			}
		}
		window = append(window, o)
		budget += o.MemberCount
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return flush()
}

// plannedWindow reads the planned members of the window's organizations, with their load
// results, grouped by org key.
func (r *run) plannedWindow(keys map[string]bool) (map[string][]PlannedMember, error) {
	planned := map[string][]PlannedMember{}
	rd, err := schemas.Open(r.dir.Path(schemas.Members.Path()), schemas.Members, r.s.ropts...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for rd.Next() {
		if m := rd.Row(); keys[m.OrgKey] {
			planned[m.OrgKey] = append(planned[m.OrgKey], PlannedMember{Member: *m})
		}
	}
	err = rd.Err()
	rd.Close()
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	lr, err := schemas.Open(r.dir.Path(schemas.MemberResults.Path()), schemas.MemberResults, r.s.ropts...)
	if errors.Is(err, fs.ErrNotExist) {
		return planned, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer lr.Close()
	type at struct {
		org string
		i   int
	}
	index := map[[2]string]at{}
	for org, ms := range planned {
		for i := range ms {
			index[[2]string{org, ms[i].Member.SourceUserID}] = at{org, i}
		}
	}
	for lr.Next() {
		res := lr.Row()
		if p, ok := index[[2]string{res.OrgKey, res.SourceUserID}]; ok {
			row := *res
			planned[p.org][p.i].Result = &row
		}
	}
	if err := lr.Err(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return planned, nil
}

// verifyWindow verifies the organizations of one window and their members.
func (r *run) verifyWindow(ctx context.Context, window []schemas.Organization) error {
	keys := make(map[string]bool, len(window))
	for _, o := range window {
		keys[o.OrgKey] = true
	}
	planned, err := r.plannedWindow(keys)
	if err != nil {
		return err
	}
	type foundOrg struct {
		key, id string
	}
	var found []foundOrg
	for i := range window {
		o := &window[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		r.counts["organizations_planned"]++
		r.counts["members_planned"] += int64(len(planned[o.OrgKey]))
		org, err := r.s.target.GetOrganization(ctx, o.ExternalID)
		if err != nil {
			return fmt.Errorf("verify organization %q: %w", o.OrgKey, err)
		}
		rows, ok := CompareOrganization(o, r.orgSlugs[o.OrgKey], org)
		if err := r.write(rows); err != nil {
			return err
		}
		if !ok {
			if err := r.write(MissingOrganizationMembers(planned[o.OrgKey])); err != nil {
				return err
			}
			delete(planned, o.OrgKey)
			continue
		}
		r.counts["organizations_found"]++
		found = append(found, foundOrg{key: o.OrgKey, id: org.OrganizationID})
	}
	for start := 0; start < len(found); start += r.s.cfg.OrgsPerSearch {
		chunk := found[start:min(start+r.s.cfg.OrgsPerSearch, len(found))]
		ids := make([]string, len(chunk))
		members := make(map[string][]stytch.Member, len(chunk))
		for i, f := range chunk {
			ids[i] = f.id
		}
		err := r.s.target.SearchMembers(ctx, ids, r.s.cfg.PageSize, func(page []stytch.Member) error {
			for _, m := range page {
				members[m.OrganizationID] = append(members[m.OrganizationID], m)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for _, f := range chunk {
			r.counts["members_found"] += int64(len(members[f.id]))
			if err := r.write(CompareMembers(f.key, f.id, planned[f.key], members[f.id])); err != nil {
				return err
			}
			delete(planned, f.key)
		}
	}
	return nil
}

// write appends drift rows and counts them by kind.
func (r *run) write(rows []schemas.DriftRow) error {
	for i := range rows {
		if err := r.w.Append(&rows[i]); err != nil {
			return fmt.Errorf("write %s: %w", schemas.Drift.Path(), err)
		}
		r.counts["drift"]++
		r.counts["drift_"+rows[i].Kind]++
	}
	return nil
}
