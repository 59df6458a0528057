package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// countingStage wraps a stage and counts its runs.
func countingStage(s fakeStage, runs *int) fakeStage {
	inner := s.run
	s.run = func(env *pipeline.Env) (*pipeline.Result, error) {
		*runs++
		return inner(env)
	}
	return s
}

func readSummary(t *testing.T, env *pipeline.Env) pipeline.Summary {
	t.Helper()
	data, err := os.ReadFile(env.Dir.Path(pipeline.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var s pipeline.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func actions(s *pipeline.Summary) []string {
	var out []string
	for _, st := range s.Stages {
		out = append(out, st.Name+":"+st.Action)
	}
	return out
}

func TestRunAllSkipsWhatIsUpToDate(t *testing.T) {
	env := newEnv(t)
	if err := os.WriteFile(env.Dir.Path("source.txt"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	var extractRuns, transformRuns, loadRuns int
	plan := func(transformHash string) []pipeline.Planned {
		return []pipeline.Planned{
			{Stage: countingStage(copyStage(pipeline.StageExtract, "source.txt", "extract/out.txt"), &extractRuns), ConfigHash: "e"},
			{Stage: countingStage(copyStage(pipeline.StageTransform, "extract/out.txt", "transform/out.txt"), &transformRuns), ConfigHash: transformHash},
			{Stage: countingStage(copyStage(pipeline.StageLoad, "transform/out.txt", "load/out.txt"), &loadRuns), ConfigHash: "l"},
		}
	}
	ctx := context.Background()
	run := func(p []pipeline.Planned, opts pipeline.RunOptions) *pipeline.Summary {
		t.Helper()
		s, err := pipeline.RunAll(ctx, env, p, opts)
		if err != nil {
			t.Fatal(err)
		}
		if s.ExitCode != pipeline.ExitOK {
			t.Fatalf("exit code %d", s.ExitCode)
		}
		return s
	}

	s := run(plan("t1"), pipeline.RunOptions{})
	if got := actions(s); got[0] != "extract:ran" || got[1] != "transform:ran" || got[2] != "load:ran" {
		t.Fatalf("first run: %v", got)
	}
	s = run(plan("t1"), pipeline.RunOptions{})
	if got := actions(s); got[0] != "extract:skipped" || got[1] != "transform:skipped" || got[2] != "load:skipped" {
		t.Fatalf("second run: %v", got)
	}
	if extractRuns != 1 || transformRuns != 1 || loadRuns != 1 {
		t.Fatalf("runs %d %d %d after two runs", extractRuns, transformRuns, loadRuns)
	}
	if s.Stages[1].Counts["bytes"] != 2 {
		t.Fatalf("a skipped stage keeps its counts in the summary: %+v", s.Stages[1])
	}

	// A config change reruns that stage and, through staleness, the stages after it.
	s = run(plan("t2"), pipeline.RunOptions{})
	if got := actions(s); got[0] != "extract:skipped" || got[1] != "transform:ran" || got[2] != "load:ran" {
		t.Fatalf("after a transform config change: %v", got)
	}
	if s.Stages[1].Why != "config changed" {
		t.Fatalf("why: %q", s.Stages[1].Why)
	}

	// A changed source file reruns everything.
	if err := os.WriteFile(env.Dir.Path("source.txt"), []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = run(plan("t2"), pipeline.RunOptions{})
	if got := actions(s); got[0] != "extract:ran" || got[1] != "transform:ran" || got[2] != "load:ran" {
		t.Fatalf("after a source change: %v", got)
	}

	// --from forces a rerun, --until stops early.
	s = run(plan("t2"), pipeline.RunOptions{From: pipeline.StageTransform, Until: pipeline.StageTransform})
	if got := actions(s); got[0] != "extract:skipped" || got[1] != "transform:ran" || got[2] != "load:not_run" {
		t.Fatalf("--from transform --until transform: %v", got)
	}
	if extractRuns != 2 || transformRuns != 4 || loadRuns != 3 {
		t.Fatalf("runs %d %d %d", extractRuns, transformRuns, loadRuns)
	}
	if got := readSummary(t, env); got.RunID == "" || len(got.Stages) != 3 || got.Stages[1].Why != "--from" {
		t.Fatalf("summary.json: %+v", got)
	}
}

func TestRunAllStopsAtAFailureAndSaysSo(t *testing.T) {
	env := newEnv(t)
	boom := pipeline.WithExitCode(errors.New("credentials refused"), pipeline.ExitConfig)
	var loadRuns int
	plan := []pipeline.Planned{
		{Stage: extractStage(t), ConfigHash: "e"},
		{Stage: fakeStage{name: pipeline.StageTransform, run: func(*pipeline.Env) (*pipeline.Result, error) { return nil, boom }}},
		{Stage: countingStage(copyStage(pipeline.StageLoad, "x", "y"), &loadRuns)},
	}
	s, err := pipeline.RunAll(context.Background(), env, plan, pipeline.RunOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if got := actions(s); got[0] != "extract:ran" || got[1] != "transform:failed" || got[2] != "load:not_run" || loadRuns != 0 {
		t.Fatalf("actions %v, load ran %d times", got, loadRuns)
	}
	got := readSummary(t, env)
	if got.ExitCode != pipeline.ExitConfig || got.Error == "" || got.Stages[0].Counts["users"] != 25 {
		t.Fatalf("summary.json: %+v", got)
	}
}

func TestRunAllPartialExitCode(t *testing.T) {
	env := newEnv(t)
	plan := []pipeline.Planned{{Stage: fakeStage{name: pipeline.StageExtract, run: func(*pipeline.Env) (*pipeline.Result, error) {
		return &pipeline.Result{Partial: true, Counts: map[string]int64{"bad_records": 1}}, nil
	}}}}
	s, err := pipeline.RunAll(context.Background(), env, plan, pipeline.RunOptions{})
	if err != nil || s.ExitCode != pipeline.ExitPartial || !s.Stages[0].Partial {
		t.Fatalf("err %v, summary %+v", err, s)
	}
	if _, err := pipeline.RunAll(context.Background(), env, plan, pipeline.RunOptions{From: "verify"}); pipeline.ExitCode(err) != pipeline.ExitUsage {
		t.Fatalf("unknown --from: %v", err)
	}
}
