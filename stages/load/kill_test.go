package load

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// Environment of the helper process run by TestLoadKill9.
const (
	envHelper  = "LOAD_TEST_HELPER"
	envDir     = "LOAD_TEST_DIR"
	envURL     = "LOAD_TEST_URL"
	envProject = "LOAD_TEST_PROJECT"
	envSecret  = "LOAD_TEST_SECRET"
)

// killConfig is the config of both the killed load and the one that finishes it.
func killConfig() Config {
	return Config{Rate: 2500, Burst: 50, Concurrency: 16, FlushRows: 100, FlushInterval: 100 * time.Millisecond}
}

// TestLoadHelperProcess is not a test: it is the load process TestLoadKill9 starts and kills. It
// prints "flush <seq> <rows>" after every committed ledger segment.
func TestLoadHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("helper process for TestLoadKill9")
	}
	dir, err := pipeline.OpenRunDir(os.Getenv(envDir))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	cfg := killConfig()
	c, err := NewClient(stytch.Config{Kind: stytch.KindB2B, ProjectID: os.Getenv(envProject),
		Secret: stytch.NewSecret(os.Getenv(envSecret)), BaseURL: os.Getenv(envURL)}, cfg)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	st := New(cfg, c, WithFlushHook(func(seq, rows int) { fmt.Printf("flush %d %d\n", seq, rows) }))
	if _, err := st.Run(context.Background(), testEnv(dir, nil)); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("finished")
	os.Exit(0)
}

func TestLoadKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	for _, killAfter := range []int{2, 9, 20} {
		t.Run(fmt.Sprintf("after_%d_flushes", killAfter), func(t *testing.T) {
			testKill(t, killAfter)
		})
	}
}

func testKill(t *testing.T, killAfter int) {
	nOrgs, nMembers := 40, 4000
	p := genPlan(nOrgs, nMembers)
	dir := writePlan(t, t.TempDir(), p)
	srv := startEmulator(t, stytchtest.WithSeed(uint64(killAfter)))
	bc := srv.B2BConfig()

	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1", envDir+"="+dir.Root(), envURL+"="+bc.BaseURL,
		envProject+"="+bc.ProjectID, envSecret+"="+bc.Secret.Reveal())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flushes, killed := 0, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "flush ") {
			flushes++
			if flushes == killAfter {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
				break
			}
		} else if line == "finished" || strings.HasPrefix(line, "error") {
			t.Fatalf("helper ended before the kill: %s", line)
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended after %d flushes without being killed", flushes)
	}
	waitQuiet(srv) // let requests the dead process left in flight finish
	existing := srv.Snapshot().MemberCount()
	before := srv.Stats()
	if existing == nMembers {
		t.Fatalf("kill came too late: every member was created")
	}

	res, err := runLoad(t, dir, srv, killConfig())
	if err != nil {
		t.Fatal(err)
	}
	checkStateMatchesPlan(t, srv, p, 0)
	after := srv.Stats()
	writes := (after.Requests[routeCreateMember] + after.Requests[routeMigrate]) -
		(before.Requests[routeCreateMember] + before.Requests[routeMigrate])
	resent := writes - int64(nMembers-existing)
	cfg := killConfig()
	// Unflushed at the kill: the requests in flight, the outcomes pending for the next flush,
	// and those that completed while the previous flush was being written (a loaded machine
	// makes that flush slow): concurrency plus two flush windows.
	bound := int64(cfg.Concurrency + 2*cfg.FlushRows)
	t.Logf("killed after %d flushes: %d members existed, %d resumed from the ledger, %d writes after restart, "+
		"%d re-sent (bound %d)", killAfter, existing, res.Counts["members_resumed"], writes, resent, bound)
	if resent > bound {
		t.Errorf("%d writes re-sent after restart, want <= concurrency + two flush windows = %d", resent, bound)
	}
	results := readResults(t, dir, schemas.MemberResults.Path())
	if len(results) != nMembers {
		t.Errorf("results hold %d members, want %d", len(results), nMembers)
	}
	for k, r := range results {
		if !createdByRun(r.Outcome) {
			t.Errorf("member %v: outcome %s (%s), want created by this run", k, r.Outcome, r.ErrorType)
		}
	}
}

// waitQuiet waits until the emulator has seen no request and applied no write for 100 ms (at
// most 5 s), so that
// writes a killed process left in flight are counted as existing, not as re-sent. A fixed sleep
// was too short on a loaded machine.
func waitQuiet(srv *stytchtest.Server) {
	seen := func() [2]int64 { st := srv.Stats(); return [2]int64{st.TotalRequests, st.WritesApplied} }
	last := seen()
	for quiet, deadline := 0, time.Now().Add(5*time.Second); quiet < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if n := seen(); n != last {
			last, quiet = n, 0
		} else {
			quiet++
		}
	}
}
