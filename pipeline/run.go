package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
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

// recordFiles describes res's inputs and outputs into rec. Reading a file whole for its sha256
// is most of that work (at 1M users, transform's input and outputs are about 230 MB): the files
// are described on up to GOMAXPROCS goroutines at once, the largest first.
func recordFiles(d *RunDir, rec *StageRecord, res *Result) error {
	type job struct {
		path, sum, what string
		size            int64
		rec             *FileRecord
	}
	inputs, outputs := make([]FileRecord, len(res.Inputs)), make([]FileRecord, len(res.Outputs))
	jobs := make([]job, 0, len(inputs)+len(outputs))
	for i, p := range res.Inputs {
		jobs = append(jobs, job{path: p, sum: res.InputSHA256[p], what: "input", rec: &inputs[i]})
	}
	for i, p := range res.Outputs {
		jobs = append(jobs, job{path: p, what: "output", rec: &outputs[i]})
	}
	for i := range jobs {
		if info, err := os.Stat(d.Path(jobs[i].path)); err == nil && jobs[i].sum == "" {
			jobs[i].size = info.Size()
		}
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return cmp.Compare(b.size, a.size) })
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, j := range jobs {
		g.Go(func() error {
			f, err := describeFile(d, j.path, j.sum)
			if err != nil {
				return fmt.Errorf("record %s %s: %w", j.what, j.path, err)
			}
			*j.rec = f
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rec.Inputs = append(rec.Inputs, inputs...)
	rec.Outputs = append(rec.Outputs, outputs...)
	return nil
}
