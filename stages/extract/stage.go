package extract

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Count keys of the stage's Result (and so of the manifest).
const (
	// CountUsers is the number of users written to users.parquet.
	CountUsers = "users"
	// CountBadRecords is the number of records quarantined in bad_records.parquet.
	CountBadRecords = "bad_records"
	// CountHeaderRowsSkipped is the number of repeated CSV header rows skipped (the file's first
	// header is not counted).
	CountHeaderRowsSkipped = "header_rows_skipped"
	// CountBlankLinesSkipped is the number of blank JSON Lines lines skipped.
	CountBlankLinesSkipped = "blank_lines_skipped"
	// CountBytesRead is the size of the source file read.
	CountBytesRead = "bytes_read"
	// CountPages is the number of Search Users pages read by this run (API source).
	CountPages = "pages"
	// CountPagesResumed is the number of pages taken over from an interrupted run (API source).
	CountPagesResumed = "pages_resumed"
	// CountSkippedNotNewer is the number of API users at or before the incremental bound that
	// the whole-second filter let through; the run that set the bound extracted them.
	CountSkippedNotNewer = "skipped_not_newer"
	// CountWatermark is the newest created_at extracted so far, as Unix microseconds: the newest
	// of this run's users, or the incremental lower bound when that is newer. "--since last"
	// reads it from the manifest history.
	CountWatermark = "newest_created_at_unix_micro"
)

// Stage is the extract stage: it reads every Consumer user from the configured source into
// extract/users.parquet, and malformed records into extract/bad_records.parquet. It implements
// pipeline.Stage.
type Stage struct {
	cfg Config
	o   options
}

var _ pipeline.Stage = (*Stage)(nil)

// options are the stage's tunables beyond its Config.
type options struct {
	workers      int
	blockSize    int
	writerOpts   []schemas.WriterOption
	readerOpts   []schemas.ReaderOption
	searcher     UserSearcher
	pagesPerPart int
	now          func() time.Time
}

// Option configures a Stage.
type Option func(*options)

// WithWorkers sets the number of goroutines decoding a file source (default DefaultWorkers()).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithBlockSize sets how many bytes a file source reads at a time (default DefaultBlockSize).
func WithBlockSize(n int) Option { return func(o *options) { o.blockSize = n } }

// WithWriterOptions passes options to every Parquet writer the stage makes (tests pass a checked
// allocator).
func WithWriterOptions(opts ...schemas.WriterOption) Option {
	return func(o *options) { o.writerOpts = append(o.writerOpts, opts...) }
}

// WithReaderOptions passes options to every Parquet reader the stage makes (the API source reads
// its parts back; tests pass a checked allocator).
func WithReaderOptions(opts ...schemas.ReaderOption) Option {
	return func(o *options) { o.readerOpts = append(o.readerOpts, opts...) }
}

// WithSearcher sets the client the stytch_api source reads from. The API source needs it.
func WithSearcher(s UserSearcher) Option { return func(o *options) { o.searcher = s } }

// WithPagesPerPart sets how many API pages go into one checkpointed part file (default
// DefaultPagesPerPart).
func WithPagesPerPart(n int) Option { return func(o *options) { o.pagesPerPart = n } }

// New returns the extract stage for cfg, which it validates (errors wrap ErrConfig).
func New(cfg Config, opts ...Option) (*Stage, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{workers: DefaultWorkers(), blockSize: DefaultBlockSize, pagesPerPart: DefaultPagesPerPart, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Stage{cfg: cfg.WithDefaults(), o: o}, nil
}

// Name returns pipeline.StageExtract.
func (s *Stage) Name() string { return pipeline.StageExtract }

// Run extracts the users into env.Dir. See the package documentation for what each source
// writes and how bad records and interruptions are handled.
func (s *Stage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	if isFileSource(s.cfg.Type) {
		return s.runFile(ctx, env)
	}
	return s.runAPI(ctx, env)
}

// progress makes a progress reporter from env, or a silent one.
func progress(env *pipeline.Env, label, unit string) pipeline.Progress {
	if env.Progress == nil {
		return pipeline.NoProgress(label, unit)
	}
	return env.Progress(label, unit)
}

// fileMeta is what every file of this run records about it.
func fileMeta(env *pipeline.Env) schemas.FileMeta {
	return schemas.FileMeta{ToolVersion: env.ToolVersion, RunID: env.RunID}
}

// outputPaths are the run-directory-relative paths of the stage's outputs.
func outputPaths() []string { return []string{schemas.Users.Path(), schemas.BadRecords.Path()} }

// runFile extracts a file source.
func (s *Stage) runFile(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	out, err := newOutputs(env.Dir.Path(schemas.Users.Path()), env.Dir.Path(schemas.BadRecords.Path()), fileMeta(env), s.o.writerOpts)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	chk := newChecker(s.cfg.Path, s.cfg.OnBadRecord == OnBadRecordQuarantine)
	chk.out = out
	prog := progress(env, "extract "+filepath.Base(s.cfg.Path), "bytes")
	src := &fileSource{kind: s.cfg.Type, path: s.cfg.Path, workers: s.o.workers, blockSize: s.o.blockSize, progress: prog}
	st, err := src.run(ctx, chk)
	prog.Done()
	if err != nil {
		return nil, err
	}
	if err := out.commit(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(s.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	res := &pipeline.Result{
		Inputs:  []string{abs},
		Outputs: outputPaths(),
		Counts: map[string]int64{
			CountUsers:      chk.users,
			CountBadRecords: chk.bad,
			CountBytesRead:  st.bytes,
		},
		Details: map[string]any{
			"source_type":   s.cfg.Type,
			"path":          abs,
			"on_bad_record": s.cfg.OnBadRecord,
		},
		Partial:     chk.bad > 0,
		InputSHA256: map[string]string{abs: st.sha256},
	}
	if s.cfg.Type == SourceExportCSV {
		res.Counts[CountHeaderRowsSkipped] = max(st.headersSeen-1, 0)
	}
	if s.cfg.Type == SourceJSONL {
		res.Counts[CountBlankLinesSkipped] = st.blankLines
	}
	if !chk.newest.IsZero() {
		res.Counts[CountWatermark] = chk.newest.UnixMicro()
		res.Details["newest_created_at"] = chk.newest.Format(time.RFC3339Nano)
	}
	env.Logger.Info("extracted users", "source", s.cfg.Type, "path", s.cfg.Path, "users", chk.users, "bad_records", chk.bad)
	return res, nil
}
