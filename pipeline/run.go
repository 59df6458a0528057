package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// RunStage runs s in env and records the run in the run directory's manifest. The caller holds
// the run directory's lock (see RunDir.Lock).
//
// Before the stage runs, RunStage records it as running and marks every later stage that had
// succeeded as stale, and saves the manifest, so a crash mid-stage leaves an honest record.
// After it, RunStage records the status (ok or failed), the time taken, the counts and details
// the stage reported, the error text of a failed run and, for a run that succeeded, every input
// and output with its sha256, size and, for Parquet files, rows and schema name and version. It
// appends the run to the manifest's history and saves the manifest again.
//
// The stage's error is returned wrapped with the stage name, keeping errors.Is, errors.As and
// any exit code attached with WithExitCode. env.RunID is filled from the manifest when empty
// (on a copy: env itself is not changed), and a nil Logger or Progress gets a no-op default.
func RunStage(ctx context.Context, env *Env, s Stage) (*Result, error) {
	if env == nil || env.Dir == nil {
		return nil, errors.New("run stage: no run directory")
	}
	name := s.Name()
	m, err := LoadManifest(env.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	run := *env
	if run.RunID == "" {
		run.RunID = m.RunID
	}
	if run.Logger == nil {
		run.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if run.Progress == nil {
		run.Progress = NoProgress
	}
	if run.ToolVersion != "" {
		m.ToolVersion = run.ToolVersion
	}

	start := time.Now().UTC()
	marked := m.markLaterStale(name, fmt.Sprintf("%s reran at %s", name, start.Format(time.RFC3339)))
	rec := &StageRecord{
		Status:      StatusRunning,
		ConfigHash:  run.ConfigHash,
		ToolVersion: run.ToolVersion,
		StartedAt:   start,
		Inputs:      []FileRecord{},
		Outputs:     []FileRecord{},
	}
	m.Stages[name] = rec
	if err := m.Save(env.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(marked) > 0 {
		run.Logger.Info("later stages marked stale", "stage", name, "stale", marked)
	}
	run.Logger.Info("stage started", "stage", name, "run_id", run.RunID)

	res, runErr := s.Run(ctx, &run)
	if runErr == nil && res == nil {
		res = &Result{}
	}
	if runErr == nil {
		runErr = recordFiles(env.Dir, rec, res)
	}
	finish := time.Now().UTC()
	rec.FinishedAt = finish
	rec.DurationMS = finish.Sub(start).Milliseconds()
	if res != nil {
		rec.Counts = res.Counts
		rec.Details = res.Details
		rec.Partial = res.Partial
	}
	rec.Status = StatusOK
	if runErr != nil {
		rec.Status = StatusFailed
		rec.Error = runErr.Error()
	}
	m.History = append(m.History, HistoryEntry{
		Stage:       name,
		Status:      rec.Status,
		Partial:     rec.Partial,
		ConfigHash:  rec.ConfigHash,
		ToolVersion: rec.ToolVersion,
		StartedAt:   start,
		FinishedAt:  finish,
		DurationMS:  rec.DurationMS,
		Outputs:     rec.Outputs,
		Counts:      rec.Counts,
		Error:       rec.Error,
		MarkedStale: marked,
	})
	saveErr := m.Save(env.Dir)
	if runErr != nil {
		run.Logger.Error("stage failed", "stage", name, "duration", finish.Sub(start), "err", runErr)
		if saveErr != nil {
			return res, fmt.Errorf("%s: %w (and %v)", name, runErr, saveErr)
		}
		return res, fmt.Errorf("%s: %w", name, runErr)
	}
	if saveErr != nil {
		return res, fmt.Errorf("%s: %w", name, saveErr)
	}
	run.Logger.Info("stage finished", "stage", name, "duration", finish.Sub(start),
		"partial", res.Partial, "counts", res.Counts)
	return res, nil
}

// recordFiles describes res's inputs and outputs into rec.
func recordFiles(d *RunDir, rec *StageRecord, res *Result) error {
	for _, p := range res.Inputs {
		f, err := describeFile(d, p, res.InputSHA256[p])
		if err != nil {
			return fmt.Errorf("record input %s: %w", p, err)
		}
		rec.Inputs = append(rec.Inputs, f)
	}
	for _, p := range res.Outputs {
		f, err := describeFile(d, p, "")
		if err != nil {
			return fmt.Errorf("record output %s: %w", p, err)
		}
		rec.Outputs = append(rec.Outputs, f)
	}
	return nil
}
