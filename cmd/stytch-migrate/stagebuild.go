package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/stytch-migrate/stytch-migrate/internal/buildinfo"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stages/extract"
	"github.com/stytch-migrate/stytch-migrate/stages/load"
	"github.com/stytch-migrate/stytch-migrate/stages/report"
	"github.com/stytch-migrate/stytch-migrate/stages/transform"
	"github.com/stytch-migrate/stytch-migrate/stages/verify"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// stagePlan is a stage built from the config, with the config section whose hash (together with
// the stage's recorded inputs and outputs) decides whether it must run again.
type stagePlan struct {
	stage   pipeline.Stage
	section any
}

// runOne locks the run directory and runs one planned stage, recording it in the manifest.
func (a *app) runOne(ctx context.Context, p stagePlan) (*pipeline.Result, *pipeline.Env, error) {
	env, lock, err := a.stageEnv(p.stage.Name(), p.section)
	if err != nil {
		return nil, nil, err
	}
	defer lock.Release() //nolint:errcheck // the stage's error wins
	res, err := pipeline.RunStage(ctx, env, p.stage)
	return res, env, err
}

// extractPlan builds the extract stage from cfg, the config's source section with any flag
// overrides applied. With lazyAPI, an API source's client (and the Consumer credentials it
// needs) is built only when the stage runs; the config is checked now either way.
func (a *app) extractPlan(fc *fileConfig, cfg extract.Config, lazyAPI bool) (stagePlan, error) {
	cfg.Path = fc.resolve(cfg.Path)
	if err := cfg.Validate(); err != nil {
		return stagePlan{}, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	build := func() (stagePlan, error) {
		var opts []extract.Option
		if cfg.Type == extract.SourceStytchAPI {
			searcher, err := apiSearcher(a, cfg)
			if err != nil {
				return stagePlan{}, err
			}
			opts = append(opts, extract.WithSearcher(searcher))
		}
		stage, err := extract.New(cfg, opts...)
		if err != nil {
			return stagePlan{}, pipeline.WithExitCode(err, pipeline.ExitConfig)
		}
		return stagePlan{stage: a.memoryLimited(stage, extract.DefaultMemoryLimit), section: cfg}, nil
	}
	if cfg.Type != extract.SourceStytchAPI || !lazyAPI {
		return build()
	}
	// The API source needs Consumer credentials and a client: build them only if the stage
	// runs, so that a run with nothing to extract needs neither.
	return lazyPlan(pipeline.StageExtract, cfg, build), nil
}

// transformPlan builds the transform stage from the config's organizations, members, passwords
// and transform sections; override, when not nil, applies flag overrides first.
func (a *app) transformPlan(fc *fileConfig, override func(*transform.Config)) (stagePlan, error) {
	cfg := transform.Config{Organizations: fc.Organizations, Members: fc.Members,
		Passwords: fc.Passwords, Transform: fc.Transform}
	cfg.Organizations.File = fc.resolve(cfg.Organizations.File)
	cfg.Organizations.MappingFile = fc.resolve(cfg.Organizations.MappingFile)
	cfg.Passwords.HashesFile = fc.resolve(cfg.Passwords.HashesFile)
	if override != nil {
		override(&cfg)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return stagePlan{}, pipeline.WithExitCode(fmt.Errorf("config: %w", err), pipeline.ExitConfig)
	}
	// The stage keeps its own memory budget (spilling past it) and gives the garbage collector
	// the same soft limit itself.
	return stagePlan{stage: transform.New(cfg), section: cfg}, nil
}

// loadPlan builds the load stage against the B2B project named by the environment.
func (a *app) loadPlan(fc *fileConfig, opts ...load.Option) (stagePlan, error) {
	client, err := loadClient(a, fc.Load)
	if err != nil {
		return stagePlan{}, err
	}
	stage := load.New(fc.Load, client, opts...)
	return stagePlan{stage: a.memoryLimited(stage, load.DefaultMemoryLimit), section: fc.Load}, nil
}

// verifyPlan builds the verify stage against the B2B project named by the environment.
func (a *app) verifyPlan(fc *fileConfig) (stagePlan, error) {
	cfg := fc.Verify.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return stagePlan{}, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	scfg, err := stytch.ConfigFromEnv(a.getenv, stytch.KindB2B)
	if err != nil {
		return stagePlan{}, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	client, err := verify.NewClient(scfg, cfg, stytch.WithVersion(buildinfo.Version()), stytch.WithLogger(a.logger))
	if err != nil {
		return stagePlan{}, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	stage := verify.New(cfg, verify.NewClientTarget(client, cfg.SearchRatePerMinute))
	return stagePlan{stage: stage, section: fc.Verify}, nil
}

// reportPlan builds the report stage.
func (a *app) reportPlan(fc *fileConfig) stagePlan {
	return stagePlan{stage: report.New(report.WithConfig(fc.Report)), section: fc.Report}
}

// memoryLimited sets a soft Go memory limit of limit bytes while s runs, unless the user chose
// one with GOMEMLIMIT. The garbage collector then works harder near the limit instead of letting
// the heap grow to twice what is live.
func (a *app) memoryLimited(s pipeline.Stage, limit int64) pipeline.Stage {
	if a.getenv("GOMEMLIMIT") != "" {
		return s
	}
	return memoryLimitedStage{Stage: s, limit: limit}
}

// memoryLimitedStage is a Stage that runs under a soft memory limit.
type memoryLimitedStage struct {
	pipeline.Stage
	limit int64
}

// Run runs the stage with the limit set and restores the previous limit after.
func (s memoryLimitedStage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	previous := debug.SetMemoryLimit(s.limit)
	defer debug.SetMemoryLimit(previous)
	return s.Stage.Run(ctx, env)
}

// partialError turns a partial result into exit code 3 with a message naming what to look at.
func partialError(format string, args ...any) error {
	return pipeline.WithExitCode(fmt.Errorf(format, args...), pipeline.ExitPartial)
}
