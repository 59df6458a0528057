package report

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Config is the report section of migrate.yaml. The zero value uses the defaults.
type Config struct {
	// TopN is how many organizations the duplicates and largest-organizations charts show
	// (0 = 10).
	TopN int `yaml:"top_n" json:"top_n,omitempty"`
	// DriftSample is how many drift rows the report lists (0 = 25).
	DriftSample int `yaml:"drift_sample" json:"drift_sample,omitempty"`
}

// Stage is the report stage: it reads whatever the run directory holds and writes a
// self-contained report.html. It implements pipeline.Stage and is safe to reuse, not to run
// concurrently on one run directory.
type Stage struct {
	cfg buildConfig
}

var _ pipeline.Stage = (*Stage)(nil)

// Option configures a Stage.
type Option func(*Stage)

// WithConfig applies the report section of the configuration.
func WithConfig(c Config) Option {
	return func(s *Stage) {
		if c.TopN > 0 {
			s.cfg.topN = c.TopN
		}
		if c.DriftSample > 0 {
			s.cfg.driftSample = c.DriftSample
		}
	}
}

// WithMaxBuckets bounds the number of bars of the request timeline (default 120).
func WithMaxBuckets(n int) Option {
	return func(s *Stage) {
		if n > 0 {
			s.cfg.maxBuckets = n
		}
	}
}

// WithReaderOptions passes options to every staged-file reader (tests pass a checked allocator).
func WithReaderOptions(opts ...schemas.ReaderOption) Option {
	return func(s *Stage) { s.cfg.ropts = append(s.cfg.ropts, opts...) }
}

// WithClock replaces time.Now for the report's "generated at" line (tests make it fixed).
func WithClock(now func() time.Time) Option { return func(s *Stage) { s.cfg.now = now } }

// New returns the report stage.
func New(opts ...Option) *Stage {
	s := &Stage{cfg: buildConfig{topN: DefaultTopN, driftSample: DefaultDriftSample, maxBuckets: DefaultMaxBuckets,
		now: time.Now}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name returns pipeline.StageReport.
func (s *Stage) Name() string { return pipeline.StageReport }

// Run builds the model from env.Dir, renders it and writes report.html atomically. It never
// fails because a stage has not run; the report says what is missing.
func (s *Stage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	m, inputs, err := s.build(ctx, env.Dir)
	if err != nil {
		return nil, fmt.Errorf("build report: %w", err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, m); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	if err := pipeline.WriteFileAtomic(env.Dir.Path(ReportFile), buf.Bytes(), reportPerm); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	if env.Logger != nil {
		env.Logger.Info("report written", "path", env.Dir.Path(ReportFile), "files", len(m.Files),
			"missing", len(m.Missing))
	}
	return &pipeline.Result{
		Inputs:  inputs,
		Outputs: []string{ReportFile},
		Counts:  map[string]int64{"files": int64(len(m.Files)), "missing": int64(len(m.Missing))},
	}, nil
}
