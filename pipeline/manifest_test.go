package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/internal/parquettest"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// fakeStage is a Stage whose Run is a function.
type fakeStage struct {
	name string
	run  func(env *pipeline.Env) (*pipeline.Result, error)
}

func (s fakeStage) Name() string { return s.name }

func (s fakeStage) Run(_ context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	return s.run(env)
}

// copyStage reads in and writes out (a plain copy), recording both.
func copyStage(name, in, out string) fakeStage {
	return fakeStage{name: name, run: func(env *pipeline.Env) (*pipeline.Result, error) {
		data, err := os.ReadFile(env.Dir.Path(in))
		if err != nil {
			return nil, err
		}
		if err := pipeline.WriteFileAtomic(env.Dir.Path(out), data, 0o644); err != nil {
			return nil, err
		}
		return &pipeline.Result{Inputs: []string{in}, Outputs: []string{out},
			Counts: map[string]int64{"bytes": int64(len(data))}}, nil
	}}
}

// extractStage writes a 25-row staged Parquet file.
func extractStage(t *testing.T) fakeStage {
	return fakeStage{name: pipeline.StageExtract, run: func(env *pipeline.Env) (*pipeline.Result, error) {
		mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
		defer mem.AssertSize(t, 0)
		path := env.Dir.Path("extract/users.parquet")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		parquettest.Write(t, path, mem, parquettest.Options{Rows: 25, KeyValue: map[string]string{
			pipeline.MetaSchema:        "users",
			pipeline.MetaSchemaVersion: "3",
			pipeline.MetaRunID:         env.RunID,
			pipeline.MetaToolVersion:   env.ToolVersion,
		}})
		return &pipeline.Result{Outputs: []string{"extract/users.parquet"},
			Counts: map[string]int64{"users": 25}, Details: map[string]any{"source": "test"}}, nil
	}}
}

func newEnv(t *testing.T) *pipeline.Env {
	t.Helper()
	d, err := pipeline.OpenRunDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline.Env{Dir: d, ToolVersion: "v0.0.0-test", ConfigHash: "h1"}
}

func mustRun(t *testing.T, env *pipeline.Env, s pipeline.Stage) {
	t.Helper()
	if _, err := pipeline.RunStage(context.Background(), env, s); err != nil {
		t.Fatal(err)
	}
}

func loadManifest(t *testing.T, d *pipeline.RunDir) *pipeline.Manifest {
	t.Helper()
	m, err := pipeline.LoadManifest(d)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunStageRecordsParquetOutput(t *testing.T) {
	env := newEnv(t)
	mustRun(t, env, extractStage(t))
	m := loadManifest(t, env.Dir)
	if m.RunID == "" || m.ToolVersion != "v0.0.0-test" {
		t.Errorf("run id %q, tool version %q", m.RunID, m.ToolVersion)
	}
	rec := m.Stages[pipeline.StageExtract]
	if rec == nil || rec.Status != pipeline.StatusOK || rec.ConfigHash != "h1" || rec.FinishedAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}
	if len(rec.Outputs) != 1 {
		t.Fatalf("outputs %+v", rec.Outputs)
	}
	out := rec.Outputs[0]
	sum, _ := sha256File(t, env.Dir.Path("extract/users.parquet"))
	if out.Path != "extract/users.parquet" || out.SHA256 != sum || out.Rows == nil || *out.Rows != 25 ||
		out.Schema != "users" || out.SchemaVersion != 3 || out.Size == 0 {
		t.Errorf("output record %+v", out)
	}
	if rec.Counts["users"] != 25 || rec.Details["source"] != "test" {
		t.Errorf("counts %v details %v", rec.Counts, rec.Details)
	}
	meta, err := pipeline.ReadParquetMeta(env.Dir.Path("extract/users.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if meta.RunID != m.RunID {
		t.Errorf("stage got run id %q, manifest has %q", meta.RunID, m.RunID)
	}
	if len(m.History) != 1 || m.History[0].Stage != pipeline.StageExtract {
		t.Errorf("history %+v", m.History)
	}
}

func TestRunStageFailure(t *testing.T) {
	env := newEnv(t)
	boom := errors.New("boom")
	coded := pipeline.WithExitCode(boom, pipeline.ExitConfig)
	_, err := pipeline.RunStage(context.Background(), env, fakeStage{name: "transform",
		run: func(*pipeline.Env) (*pipeline.Result, error) { return nil, coded }})
	if !errors.Is(err, boom) || pipeline.ExitCode(err) != pipeline.ExitConfig || err.Error() != "transform: boom" {
		t.Fatalf("err %v (exit %d)", err, pipeline.ExitCode(err))
	}
	rec := loadManifest(t, env.Dir).Stages["transform"]
	if rec.Status != pipeline.StatusFailed || rec.Error != "boom" {
		t.Errorf("record %+v", rec)
	}
	// An output that was declared but not written fails the stage.
	_, err = pipeline.RunStage(context.Background(), env, fakeStage{name: "transform",
		run: func(*pipeline.Env) (*pipeline.Result, error) {
			return &pipeline.Result{Outputs: []string{"transform/missing.parquet"}}, nil
		}})
	if err == nil || loadManifest(t, env.Dir).Stages["transform"].Status != pipeline.StatusFailed {
		t.Errorf("missing output: err %v", err)
	}
}

func TestRerunMarksLaterStagesStale(t *testing.T) {
	env := newEnv(t)
	mustRun(t, env, extractStage(t))
	mustRun(t, env, copyStage(pipeline.StageTransform, "extract/users.parquet", "transform/members.parquet"))
	mustRun(t, env, copyStage(pipeline.StageLoad, "transform/members.parquet", "load/members.parquet"))

	m := loadManifest(t, env.Dir)
	for _, s := range []string{pipeline.StageExtract, pipeline.StageTransform, pipeline.StageLoad} {
		if ok, why, err := m.UpToDate(s, "h1", env.Dir); !ok || err != nil {
			t.Errorf("%s not up to date: %s %v", s, why, err)
		}
	}

	mustRun(t, env, copyStage(pipeline.StageTransform, "extract/users.parquet", "transform/members.parquet"))
	m = loadManifest(t, env.Dir)
	if m.Stages[pipeline.StageExtract].Stale || m.Stages[pipeline.StageTransform].Stale {
		t.Error("rerun marked itself or an earlier stage stale")
	}
	if !m.Stages[pipeline.StageLoad].Stale {
		t.Fatal("load not marked stale after transform reran")
	}
	last := m.History[len(m.History)-1]
	if len(last.MarkedStale) != 1 || last.MarkedStale[0] != pipeline.StageLoad {
		t.Errorf("history entry marked %v", last.MarkedStale)
	}
	if ok, why, _ := m.UpToDate(pipeline.StageLoad, "h1", env.Dir); ok || why == "" {
		t.Errorf("stale load up to date (%q)", why)
	}
	mustRun(t, env, copyStage(pipeline.StageLoad, "transform/members.parquet", "load/members.parquet"))
	if ok, why, _ := loadManifest(t, env.Dir).UpToDate(pipeline.StageLoad, "h1", env.Dir); !ok {
		t.Errorf("load not up to date after rerun: %s", why)
	}
}

func TestUpToDate(t *testing.T) {
	setup := func(t *testing.T) *pipeline.Env {
		env := newEnv(t)
		if err := pipeline.WriteFileAtomic(env.Dir.Path("extract/users.parquet"), []byte("in"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun(t, env, copyStage(pipeline.StageTransform, "extract/users.parquet", "transform/members.parquet"))
		return env
	}
	tests := []struct {
		name   string
		change func(t *testing.T, env *pipeline.Env)
		hash   string
		want   bool
		why    string
	}{
		{name: "unchanged", hash: "h1", want: true},
		{name: "config changed", hash: "h2", why: "config changed"},
		{name: "input changed", hash: "h1", why: "input extract/users.parquet changed",
			change: func(t *testing.T, env *pipeline.Env) {
				if err := os.WriteFile(env.Dir.Path("extract/users.parquet"), []byte("IN"), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "input removed", hash: "h1", why: "input extract/users.parquet missing",
			change: func(t *testing.T, env *pipeline.Env) {
				if err := os.Remove(env.Dir.Path("extract/users.parquet")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "output deleted", hash: "h1", why: "output transform/members.parquet missing",
			change: func(t *testing.T, env *pipeline.Env) {
				if err := os.Remove(env.Dir.Path("transform/members.parquet")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "output edited", hash: "h1", why: "output transform/members.parquet changed",
			change: func(t *testing.T, env *pipeline.Env) {
				if err := os.WriteFile(env.Dir.Path("transform/members.parquet"), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := setup(t)
			if tt.change != nil {
				tt.change(t, env)
			}
			ok, why, err := loadManifest(t, env.Dir).UpToDate(pipeline.StageTransform, tt.hash, env.Dir)
			if err != nil || ok != tt.want || why != tt.why {
				t.Errorf("UpToDate = %v, %q, %v; want %v, %q", ok, why, err, tt.want, tt.why)
			}
		})
	}
	t.Run("never run", func(t *testing.T) {
		env := newEnv(t)
		ok, why, err := loadManifest(t, env.Dir).UpToDate(pipeline.StageVerify, "h1", env.Dir)
		if ok || why != "never run" || err != nil {
			t.Errorf("UpToDate = %v, %q, %v", ok, why, err)
		}
	})
}

func TestLoadManifestErrors(t *testing.T) {
	env := newEnv(t)
	m := loadManifest(t, env.Dir)
	if err := m.Save(env.Dir); err != nil {
		t.Fatal(err)
	}
	if again := loadManifest(t, env.Dir); again.RunID != m.RunID {
		t.Errorf("run id changed on reload: %q vs %q", again.RunID, m.RunID)
	}
	if err := os.WriteFile(env.Dir.Path(pipeline.ManifestFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.LoadManifest(env.Dir); err == nil {
		t.Error("corrupt manifest loaded")
	}
}

func TestHashConfig(t *testing.T) {
	type cfg struct {
		B int               `json:"b"`
		A map[string]string `json:"a"`
	}
	h1, err := pipeline.HashConfig(cfg{B: 1, A: map[string]string{"y": "2", "x": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := pipeline.HashConfig(map[string]any{"a": map[string]any{"x": "1", "y": "2"}, "b": 1})
	h3, _ := pipeline.HashConfig(cfg{B: 2})
	if h1 != h2 || h1 == h3 || len(h1) != 64 {
		t.Errorf("hashes %s %s %s", h1, h2, h3)
	}
	if _, err := pipeline.HashConfig(func() {}); err == nil {
		t.Error("HashConfig of a func succeeded")
	}
}

// TestRunStageUsesStageHashes checks that an input the stage hashed while reading is recorded with
// the stage's sha256 (not read again) and the file's size, and that other inputs are hashed.
func TestRunStageUsesStageHashes(t *testing.T) {
	env := newEnv(t)
	dir := t.TempDir()
	hashed, other := filepath.Join(dir, "export.jsonl"), filepath.Join(dir, "orgs.csv")
	if err := os.WriteFile(hashed, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("org_key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const given = "given-by-the-stage"
	mustRun(t, env, fakeStage{name: pipeline.StageExtract, run: func(*pipeline.Env) (*pipeline.Result, error) {
		return &pipeline.Result{Inputs: []string{hashed, other}, InputSHA256: map[string]string{hashed: given}}, nil
	}})
	in := loadManifest(t, env.Dir).Stages[pipeline.StageExtract].Inputs
	sum, _ := sha256File(t, other)
	if len(in) != 2 || in[0].SHA256 != given || in[0].Size != 10 || in[1].SHA256 != sum || in[1].Size != 8 {
		t.Fatalf("inputs %+v", in)
	}
}

// TestRunStageRecordsFilesInOrder checks that inputs and outputs of different sizes, described
// at once and the largest first, are recorded in the stage's order, each with its own sha256 and
// size.
func TestRunStageRecordsFilesInOrder(t *testing.T) {
	env := newEnv(t)
	var ins, outs []string
	for i, n := range []int{10, 300000, 0, 4096} {
		in := filepath.Join(t.TempDir(), fmt.Sprintf("in-%d.csv", i))
		if err := os.WriteFile(in, bytes.Repeat([]byte{byte('a' + i)}, n), 0o644); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
		out := fmt.Sprintf("transform/out-%d.txt", i)
		if err := os.MkdirAll(env.Dir.Path("transform"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(env.Dir.Path(out), bytes.Repeat([]byte{byte('A' + i)}, 2*n+1), 0o644); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	mustRun(t, env, fakeStage{name: pipeline.StageExtract, run: func(*pipeline.Env) (*pipeline.Result, error) {
		return &pipeline.Result{Inputs: ins, Outputs: outs}, nil
	}})
	rec := loadManifest(t, env.Dir).Stages[pipeline.StageExtract]
	if len(rec.Inputs) != len(ins) || len(rec.Outputs) != len(outs) {
		t.Fatalf("recorded %d inputs and %d outputs, want %d and %d", len(rec.Inputs), len(rec.Outputs), len(ins), len(outs))
	}
	check := func(got pipeline.FileRecord, path, rel string) {
		t.Helper()
		sum, size := sha256File(t, path)
		if got.Path != rel || got.SHA256 != sum || got.Size != int64(size) {
			t.Errorf("recorded %+v, want %s with sha256 %s and size %d", got, rel, sum, size)
		}
	}
	for i := range ins {
		check(rec.Inputs[i], ins[i], env.Dir.Rel(ins[i]))
		check(rec.Outputs[i], env.Dir.Path(outs[i]), outs[i])
	}
}
