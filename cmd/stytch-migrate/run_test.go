package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/internal/demodata"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// sampleUsers keeps the end-to-end tests quick; the demo runs the full 3,000.
const sampleUsers = 400

// emulatorEnvFor returns the environment that points the CLI at srv's B2B project.
func emulatorEnvFor(srv *stytchtest.Server) map[string]string {
	cfg := srv.B2BConfig()
	return map[string]string{
		stytch.EnvB2BProjectID: cfg.ProjectID,
		stytch.EnvB2BSecret:    cfg.Secret.Reveal(),
		stytch.EnvAPIBaseURL:   cfg.BaseURL,
	}
}

func readRunSummary(t *testing.T, runDir string) pipeline.Summary {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(runDir, pipeline.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var s pipeline.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func stageActions(s pipeline.Summary) map[string]string {
	out := map[string]string{}
	for _, st := range s.Stages {
		out[st.Name] = st.Action
	}
	return out
}

// TestRunIsIncremental runs the whole pipeline on the generated sample against the emulator over
// loopback: a second run does no stage work and sends no request; an edited organizations file
// reruns transform and what follows, and load creates only the new organization's members.
func TestRunIsIncremental(t *testing.T) {
	srv := stytchtest.NewServer()
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	env := emulatorEnvFor(srv)
	input := t.TempDir()
	if err := demodata.Generate(input, demodata.DefaultSeed, sampleUsers); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(input, demodata.ConfigFile)
	raiseLoadRate(t, config)
	runDir := filepath.Join(t.TempDir(), "run")
	run := func(env map[string]string) pipeline.Summary {
		t.Helper()
		code, _, stderr := runCLI(t, env, "--config", config, "--run-dir", runDir, "run")
		if code != pipeline.ExitPartial { // the sample has rejects by design
			t.Fatalf("run exited %d: %s", code, stderr)
		}
		s := readRunSummary(t, runDir)
		if s.ExitCode != code {
			t.Fatalf("summary.json says exit code %d, the process %d", s.ExitCode, code)
		}
		return s
	}

	first := run(env)
	for name, action := range stageActions(first) {
		if action != pipeline.ActionRan {
			t.Fatalf("first run: %s %s", name, action)
		}
	}
	members := srv.Snapshot().MemberCount()
	if members == 0 || int64(members) != first.Stages[1].Counts["members"] {
		t.Fatalf("emulator holds %d members, transform planned %d", members, first.Stages[1].Counts["members"])
	}

	// Nothing to do: no stage is built that would need the credentials, so none are given.
	before := srv.Stats().TotalRequests
	second := run(nil)
	for name, action := range stageActions(second) {
		if action != pipeline.ActionSkipped {
			t.Fatalf("second run: %s %s", name, action)
		}
	}
	if got := srv.Stats().TotalRequests; got != before {
		t.Fatalf("the second run sent %d requests", got-before)
	}

	// The sample references "umbrella", which orgs.csv lacks: adding it gives its users a home.
	orgs := filepath.Join(input, demodata.OrgsFile)
	f, err := os.OpenFile(orgs, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("umbrella,Umbrella Corporation,,umbrella.com\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writesBefore := srv.Stats().WritesApplied
	third := run(env)
	want := map[string]string{"extract": "skipped", "transform": "ran", "load": "ran", "verify": "ran", "report": "ran"}
	if got := stageActions(third); !equalMaps(got, want) {
		t.Fatalf("after editing orgs.csv: %v", got)
	}
	newMembers := third.Stages[1].Counts["members"] - first.Stages[1].Counts["members"]
	load := third.Stages[2].Counts
	if newMembers <= 0 || load["members_attempted"] != newMembers || load["organizations_created"] != first.Stages[2].Counts["organizations_created"]+1 {
		t.Fatalf("load after the edit: %d new planned members, counts %v", newMembers, load)
	}
	if writes := srv.Stats().WritesApplied - writesBefore; writes != newMembers+1 {
		t.Fatalf("load wrote %d times for 1 new organization and %d new members", writes, newMembers)
	}
	if third.Stages[3].Counts["members_found"] != third.Stages[1].Counts["members"] {
		t.Fatalf("verify: %v", third.Stages[3].Counts)
	}
}

// raiseLoadRate lifts the sample config's load rate (Stytch's 65 requests/s) for the emulator.
func raiseLoadRate(t *testing.T, config string) {
	t.Helper()
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	raised := strings.Replace(string(data), "rate: 65", "rate: 2000", 1)
	if raised == string(data) {
		t.Fatal("the sample config has no load rate to raise")
	}
	if err := os.WriteFile(config, []byte(raised), 0o644); err != nil {
		t.Fatal(err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRunRefusesALockedRunDir: a second run on a run directory another process works in exits 1
// at once with an error naming the holder.
func TestRunRefusesALockedRunDir(t *testing.T) {
	runDir := t.TempDir()
	dir, err := pipeline.OpenRunDir(runDir)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := dir.Lock("load")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	input := t.TempDir()
	if err := demodata.Generate(input, demodata.DefaultSeed, 20); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, nil, "--config", filepath.Join(input, demodata.ConfigFile), "--run-dir", runDir, "run", "--until", "transform")
	if code != pipeline.ExitFailed || !strings.Contains(stderr, "is locked by pid") || !strings.Contains(stderr, `running "load"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestDemo runs the demo command end to end on a small sample and checks that it reconciles
// and leaves a report.
func TestDemo(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := runCLI(t, nil, "--run-dir", runDir, "demo", "--users", "300")
	if code != pipeline.ExitOK {
		t.Fatalf("demo exited %d: %s", code, stderr)
	}
	for _, want := range []string{"users ", "memberships ", "[ok]", "report.html", "stytch-migrate inspect", "duckdb"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "DOES NOT ADD UP") {
		t.Fatalf("demo does not reconcile:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(runDir, "report.html")); err != nil {
		t.Fatal(err)
	}
	// A second demo replaces the first one's folder; any other folder is refused.
	if code, _, stderr := runCLI(t, nil, "--run-dir", runDir, "demo", "--users", "50"); code != pipeline.ExitOK {
		t.Fatalf("second demo exited %d: %s", code, stderr)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, nil, "--run-dir", other, "demo"); code != pipeline.ExitUsage || !strings.Contains(stderr, "not empty") {
		t.Fatalf("demo on a foreign folder: exit %d, %q", code, stderr)
	}
}

// TestRunFromAPINeedsCredentialsOnlyToExtract extracts from the emulator's Consumer project:
// once everything is up to date, a run needs no credentials at all (no client is built), while
// the extract command alone still checks the Consumer credentials before it starts.
func TestRunFromAPINeedsCredentialsOnlyToExtract(t *testing.T) {
	srv := stytchtest.NewServer()
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var users []stytch.User
	for i := range 30 {
		users = append(users, stytch.User{
			Emails:          []stytch.UserEmail{{Email: fmt.Sprintf("u%d@acme.io", i), Verified: true}},
			TrustedMetadata: json.RawMessage(fmt.Sprintf(`{"org_ids":["org-%d"]}`, i%3)),
		})
	}
	if err := srv.AddUsers(users...); err != nil {
		t.Fatal(err)
	}
	env := emulatorEnvFor(srv)
	cc := srv.ConsumerConfig()
	env[stytch.EnvConsumerProjectID], env[stytch.EnvConsumerSecret] = cc.ProjectID, cc.Secret.Reveal()
	config := filepath.Join(t.TempDir(), "migrate.yaml")
	if err := os.WriteFile(config, []byte("source:\n  type: stytch_api\norganizations:\n  strategy: metadata\n"+
		"  metadata_field: trusted_metadata.org_ids\nload:\n  rate: 2000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCLI(t, env, "--config", config, "--run-dir", runDir, "run"); code != pipeline.ExitOK {
		t.Fatalf("first run exited %d: %s", code, stderr)
	}
	if n := srv.Snapshot().MemberCount(); n != len(users) {
		t.Fatalf("emulator holds %d members, want %d", n, len(users))
	}
	code, _, stderr := runCLI(t, nil, "--config", config, "--run-dir", runDir, "run")
	if code != pipeline.ExitOK {
		t.Fatalf("up-to-date run without credentials exited %d: %s", code, stderr)
	}
	for name, action := range stageActions(readRunSummary(t, runDir)) {
		if action != pipeline.ActionSkipped {
			t.Fatalf("second run: %s %s", name, action)
		}
	}
	code, _, stderr = runCLI(t, nil, "--config", config, "--run-dir", runDir, "extract")
	if code != pipeline.ExitConfig || !strings.Contains(stderr, stytch.EnvConsumerProjectID) {
		t.Fatalf("extract without credentials exited %d: %s", code, stderr)
	}
}
