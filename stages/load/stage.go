package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Stage names besides pipeline.StageLoad. A dry run and a rollback are recorded in the manifest
// under their own names, so that neither passes for a real load.
const (
	// StageDryRun is the manifest name of load --dry-run.
	StageDryRun = "load_dry_run"
	// StageRollback is the manifest name of rollback.
	StageRollback = "rollback"
)

// Files the load stage writes besides the ledger and the result files, relative to the run
// directory.
const (
	// StatePath records when this run's first load started (see the package overview).
	StatePath = "load/state.json"
	// DryRunOrganizationsPath and DryRunMembersPath hold a dry run's plan, with the result
	// schemas and dry-run outcomes.
	DryRunOrganizationsPath = "load/dry_run_organizations.parquet"
	DryRunMembersPath       = "load/dry_run_members.parquet"
	// RolledBackDir receives the ledgers of a completed rollback.
	RolledBackDir = "load/rolled_back"
)

// statusInterval is how often the stage logs its status line (done, rate, 429s, retries, ETA).
const statusInterval = 10 * time.Second

// Stage is the load stage: it makes the B2B target hold what transform/ planned. It implements
// pipeline.Stage. A Stage runs once at a time.
type Stage struct {
	cfg         Config
	target      Target
	dryRun      bool
	retryFailed bool
	onFlush     func(seq, rows int)
	ropts       []schemas.ReaderOption
	wopts       []schemas.WriterOption
}

var _ pipeline.Stage = (*Stage)(nil)

// Option configures a Stage.
type Option func(*Stage)

// WithDryRun makes the stage look everything up and write the plan, without a single write.
func WithDryRun(on bool) Option { return func(s *Stage) { s.dryRun = on } }

// WithRetryFailed makes the stage try again the members and organizations whose latest outcome
// in the ledger is failed or skipped_org_failed (a plain rerun skips everything the ledger
// holds).
func WithRetryFailed(on bool) Option { return func(s *Stage) { s.retryFailed = on } }

// WithFlushHook calls fn after every ledger segment is committed, with its sequence number and
// row count (tests use it to kill a load at a known point).
func WithFlushHook(fn func(seq, rows int)) Option { return func(s *Stage) { s.onFlush = fn } }

// WithReaderOptions passes options to every staged-file reader (tests pass a checked allocator).
func WithReaderOptions(opts ...schemas.ReaderOption) Option {
	return func(s *Stage) { s.ropts = append(s.ropts, opts...) }
}

// WithWriterOptions passes options to every staged-file writer.
func WithWriterOptions(opts ...schemas.WriterOption) Option {
	return func(s *Stage) { s.wopts = append(s.wopts, opts...) }
}

// New returns the load stage writing to target with cfg (defaults applied).
func New(cfg Config, target Target, opts ...Option) *Stage {
	s := &Stage{cfg: cfg.WithDefaults(), target: target}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name returns pipeline.StageLoad, or StageDryRun for a dry run.
func (s *Stage) Name() string {
	if s.dryRun {
		return StageDryRun
	}
	return pipeline.StageLoad
}

// loadState is the content of load/state.json.
type loadState struct {
	// StartedAt is when the first load of this run directory started (since the last
	// completed rollback).
	StartedAt time.Time `json:"started_at"`
	RunID     string    `json:"run_id"`
}

// readOrInitState returns load/state.json, writing it first when absent; existed tells which.
func readOrInitState(dir *pipeline.RunDir, runID string, now time.Time) (st loadState, existed bool, err error) {
	path := dir.Path(StatePath)
	data, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return loadState{}, false, fmt.Errorf("read %s: %w", StatePath, err)
		}
		return st, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return loadState{}, false, fmt.Errorf("read %s: %w", StatePath, err)
	}
	st = loadState{StartedAt: now.UTC(), RunID: runID}
	data, _ = json.MarshalIndent(st, "", "  ")
	if err := pipeline.WriteFileAtomic(path, append(data, '\n'), resultPerm); err != nil {
		return loadState{}, false, err
	}
	return st, false, nil
}

// meta returns the file metadata of the stage's files.
func meta(env *pipeline.Env) schemas.FileMeta {
	return schemas.FileMeta{ToolVersion: env.ToolVersion, RunID: env.RunID}
}
