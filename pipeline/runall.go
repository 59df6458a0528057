package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// SummaryFile is the run-directory-relative path of the summary RunAll writes.
const SummaryFile = "summary.json"

// What RunAll did with a stage, as recorded in the summary.
const (
	ActionRan     = "ran"
	ActionSkipped = "skipped"
	ActionFailed  = "failed"
	ActionNotRun  = "not_run"
)

// Planned is a stage ready to run, with the hash of its config that decides, together with its
// recorded inputs and outputs, whether it must run again.
type Planned struct {
	Stage      Stage
	ConfigHash string
}

// RunOptions choose which stages RunAll considers.
type RunOptions struct {
	// From, when set, reruns this stage and every later one even when they are up to date, and
	// leaves earlier stages alone.
	From string
	// Until, when set, stops after this stage.
	Until string
}

// StageSummary is what one stage did in a run, and what its latest record says.
type StageSummary struct {
	Name string `json:"name"`
	// Action is ActionRan, ActionSkipped, ActionFailed or ActionNotRun; Why says why in a few
	// words ("up to date", "config changed", "after --until").
	Action string `json:"action"`
	Why    string `json:"why,omitempty"`
	// Partial, Counts and DurationMS come from the stage's latest record in the manifest, so a
	// skipped stage still shows the totals of the run that made its outputs.
	Partial    bool             `json:"partial,omitempty"`
	DurationMS int64            `json:"duration_ms"`
	Counts     map[string]int64 `json:"counts,omitempty"`
	Error      string           `json:"error,omitempty"`
}

// Summary is summary.json: the file a scheduler or an alert reads after a run.
type Summary struct {
	RunID       string         `json:"run_id"`
	ToolVersion string         `json:"tool_version"`
	StartedAt   time.Time      `json:"started_at"`
	FinishedAt  time.Time      `json:"finished_at"`
	DurationMS  int64          `json:"duration_ms"`
	ExitCode    int            `json:"exit_code"`
	Error       string         `json:"error,omitempty"`
	Stages      []StageSummary `json:"stages"`
}

// RunAll runs the planned stages in order under one lock, which the caller holds. A stage runs
// when it is at or after opts.From, or when the manifest says it is not up to date (never run,
// failed, stale, config changed, an input or output changed); otherwise it is skipped. RunAll
// stops at the first failing stage and after opts.Until. Whatever happens, it writes
// summary.json and returns it; the error is the failing stage's, and the summary's ExitCode is
// ExitCode of that error, else ExitPartial when any stage's latest run was partial, else ExitOK.
func RunAll(ctx context.Context, env *Env, stages []Planned, opts RunOptions) (*Summary, error) {
	names := make([]string, len(stages))
	for i, p := range stages {
		names[i] = p.Stage.Name()
	}
	from, until := 0, len(stages)-1
	if opts.From != "" {
		if from = slices.Index(names, opts.From); from < 0 {
			return nil, WithExitCode(fmt.Errorf("--from %q: not one of %v", opts.From, names), ExitUsage)
		}
	}
	if opts.Until != "" {
		if until = slices.Index(names, opts.Until); until < 0 {
			return nil, WithExitCode(fmt.Errorf("--until %q: not one of %v", opts.Until, names), ExitUsage)
		}
	}
	if from > until {
		return nil, WithExitCode(fmt.Errorf("--from %s comes after --until %s", opts.From, opts.Until), ExitUsage)
	}

	sum := &Summary{ToolVersion: env.ToolVersion, StartedAt: time.Now().UTC()}
	var runErr error
	for i, p := range stages {
		st := StageSummary{Name: names[i]}
		switch {
		case runErr != nil:
			st.Action, st.Why = ActionNotRun, "an earlier stage failed"
		case i > until:
			st.Action, st.Why = ActionNotRun, "after --until"
		case i < from:
			st.Action, st.Why = ActionSkipped, "before --from"
		default:
			st.Action, st.Why, runErr = runPlanned(ctx, env, p, i >= from && opts.From != "")
		}
		sum.Stages = append(sum.Stages, st)
	}
	if err := finishSummary(env, sum, runErr); err != nil && runErr == nil {
		runErr = err
	}
	return sum, runErr
}

// runPlanned runs one stage if it must, and says what it did and why.
func runPlanned(ctx context.Context, env *Env, p Planned, forced bool) (action, why string, err error) {
	name := p.Stage.Name()
	if forced {
		why = "--from"
	} else {
		m, err := LoadManifest(env.Dir)
		if err != nil {
			return ActionFailed, "", fmt.Errorf("%s: %w", name, err)
		}
		ok, notWhy, err := m.UpToDate(name, p.ConfigHash, env.Dir)
		if err != nil {
			return ActionFailed, "", err
		}
		if ok {
			if env.Logger != nil {
				env.Logger.Info("stage up to date, skipped", "stage", name)
			}
			return ActionSkipped, "up to date", nil
		}
		why = notWhy
	}
	run := *env
	run.ConfigHash = p.ConfigHash
	if _, err := RunStage(ctx, &run, p.Stage); err != nil {
		return ActionFailed, why, err
	}
	return ActionRan, why, nil
}

// finishSummary fills the summary from the manifest's latest stage records, sets the exit code
// and writes summary.json atomically.
func finishSummary(env *Env, sum *Summary, runErr error) error {
	sum.FinishedAt = time.Now().UTC()
	sum.DurationMS = sum.FinishedAt.Sub(sum.StartedAt).Milliseconds()
	m, err := LoadManifest(env.Dir)
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	sum.RunID = m.RunID
	partial := false
	for i := range sum.Stages {
		st := &sum.Stages[i]
		rec := m.Stages[st.Name]
		if rec == nil || st.Action == ActionNotRun {
			continue
		}
		st.Partial, st.DurationMS, st.Counts, st.Error = rec.Partial, rec.DurationMS, rec.Counts, rec.Error
		partial = partial || rec.Partial
	}
	switch {
	case runErr != nil:
		sum.ExitCode, sum.Error = ExitCode(runErr), runErr.Error()
	case partial:
		sum.ExitCode = ExitPartial
	default:
		sum.ExitCode = ExitOK
	}
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if err := WriteFileAtomic(env.Dir.Path(SummaryFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
