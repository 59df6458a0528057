package load

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// benchLatency is the emulator latency of every benchmark (60 ms ± 30 ms).
var benchLatency = stytchtest.Faults{Latency: 60 * time.Millisecond, LatencyJitter: 30 * time.Millisecond}

// benchMembers returns n, or LOAD_BENCH_MEMBERS when set (for shorter local runs).
func benchMembers(n int) int {
	if v, err := strconv.Atoi(os.Getenv("LOAD_BENCH_MEMBERS")); err == nil && v > 0 {
		return v
	}
	return n
}

// heapPeak samples the Go heap until stop is called and returns the peak in MB.
func heapPeak() (stop func() float64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		<-finished
		return float64(peak.Load()) / (1 << 20)
	}
}

// benchLoad loads nMembers into an emulator limited to serverRate with the client at clientRate.
func benchLoad(b *testing.B, nMembers, serverRate int, clientRate float64) {
	nOrgs := max(1, nMembers/500)
	p := genPlan(nOrgs, nMembers)
	for i := range p.members {
		p.members[i].HasPassword = false
	}
	p.passwords = nil
	for range b.N {
		b.StopTimer()
		dir := writePlan(b, b.TempDir(), p)
		srv := startEmulator(b, stytchtest.WithRateLimit(serverRate), stytchtest.WithFaults(benchLatency))
		cfg := Config{Rate: clientRate}
		if v, err := strconv.Atoi(os.Getenv("LOAD_BENCH_BURST")); err == nil {
			cfg.Burst = v
		}
		runtime.GC()
		stop := heapPeak()
		b.StartTimer()
		start := time.Now()
		res, err := New(cfg, newClient(b, srv, cfg)).Run(context.Background(), testEnv(dir, nil))
		elapsed := time.Since(start)
		b.StopTimer()
		peak := stop()
		if err != nil {
			b.Fatal(err)
		}
		es := srv.Stats()
		accepted := es.TotalRequests - es.RateLimited
		b.ReportMetric(float64(accepted)/elapsed.Seconds(), "accepted_req/s")
		b.ReportMetric(100*float64(accepted)/elapsed.Seconds()/float64(serverRate), "pct_of_server_limit")
		b.ReportMetric(float64(nMembers)/elapsed.Seconds(), "members/s")
		b.ReportMetric(float64(es.TotalRequests)/float64(nMembers), "req/member")
		b.ReportMetric(res.Details["requests_per_member"].(float64), "member_phase_req/member")
		b.ReportMetric(100*float64(es.RateLimited)/float64(es.TotalRequests), "pct_429")
		b.ReportMetric(res.Details["latency_p50_ms"].(float64), "p50_ms")
		b.ReportMetric(res.Details["latency_p99_ms"].(float64), "p99_ms")
		b.ReportMetric(peak, "peak_heap_MB")
		b.ReportMetric(float64(res.Details["concurrency"].(int)), "final_concurrency")
		b.Logf("%d members in %s: %v", nMembers, elapsed.Round(time.Millisecond), res.Counts)
	}
}

// BenchmarkLoad65 is Stytch's guidance: client and server at 65 requests/s.
func BenchmarkLoad65(b *testing.B) { benchLoad(b, benchMembers(10000), 65, 65) }

// BenchmarkLoad200Against65 runs the client at 200 requests/s against a server limit of 65.
func BenchmarkLoad200Against65(b *testing.B) { benchLoad(b, benchMembers(10000), 65, 200) }

// BenchmarkLoad1000 shows the stage's own overhead does not limit a fast target.
func BenchmarkLoad1000(b *testing.B) { benchLoad(b, benchMembers(100000), 1000, 1000) }

// BenchmarkPlanMemory1M measures the peak heap of a load over a plan of a million members whose
// ledger already holds every one (a resume that has nothing left to send): streaming the plan,
// the done set, the password join and the ledger compaction, without the emulator's state.
func BenchmarkPlanMemory1M(b *testing.B) {
	n := benchMembers(1000000)
	nOrgs := 1000
	root := b.TempDir()
	dir, err := pipeline.OpenRunDir(root)
	if err != nil {
		b.Fatal(err)
	}
	p := genPlan(nOrgs, 0)
	writeFile(b, dir, schemas.Organizations, p.orgs)
	streamMembers(b, dir, n, nOrgs)
	// The load command's soft memory limit (see DefaultMemoryLimit); GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(DefaultMemoryLimit))
	}
	for range b.N {
		b.StopTimer()
		srv := startEmulator(b)
		cfg := fastConfig()
		runtime.GC()
		stop := heapPeak()
		b.StartTimer()
		start := time.Now()
		res, err := New(cfg, newClient(b, srv, cfg)).Run(context.Background(), testEnv(dir, nil))
		elapsed := time.Since(start)
		b.StopTimer()
		peak := stop()
		if err != nil {
			b.Fatal(err)
		}
		if res.Counts["members_resumed"] != int64(n) {
			b.Fatalf("resumed %d of %d", res.Counts["members_resumed"], n)
		}
		b.ReportMetric(peak, "peak_heap_MB")
		b.ReportMetric(elapsed.Seconds(), "seconds")
		b.Logf("%d planned members: %s, peak heap %.1f MB", n, elapsed.Round(time.Millisecond), peak)
	}
}

// streamMembers writes n planned members and a ledger holding every one of them as created,
// without holding them in memory.
func streamMembers(b *testing.B, dir *pipeline.RunDir, n, nOrgs int) {
	f, err := os.Create(dir.Path(schemas.Members.Path()))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := schemas.NewWriter(f, schemas.Members, schemas.FileMeta{ToolVersion: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	lw, err := startLedger(dir.Path(LedgerDir), schemas.FileMeta{ToolVersion: "bench"}, time.Hour, 50000, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range nOrgs {
		key := fmt.Sprintf("org-%04d", i)
		lw.add(schemas.LedgerEntry{Kind: kindOrganization, OrgKey: key, ExternalID: key,
			OrganizationID: "organization-test-" + key, Outcome: OutcomeCreated, Attempts: 1})
	}
	for j := range n {
		m := schemas.Member{OrgKey: fmt.Sprintf("org-%04d", j%nOrgs), SourceUserID: fmt.Sprintf("user-%07d", j),
			EmailAddress: fmt.Sprintf("u%07d@org%d.example.com", j, j%nOrgs), EmailVerified: true,
			Name: fmt.Sprintf("User %d", j), ExternalID: fmt.Sprintf("ext-%07d", j), ExternalIDSource: "user_id",
			Status: "active", SurvivorRule: "unique", TrustedMetadata: fmt.Sprintf(`{"n":%d}`, j), SourcePosition: int64(j)}
		if err := w.Append(&m); err != nil {
			b.Fatal(err)
		}
		lw.add(schemas.LedgerEntry{Kind: kindMember, OrgKey: m.OrgKey, SourceUserID: m.SourceUserID,
			EmailAddress: m.EmailAddress, ExternalID: m.ExternalID, OrganizationID: "organization-test-" + m.OrgKey,
			MemberID: fmt.Sprintf("member-test-%07d", j), Outcome: OutcomeCreated, Attempts: 1})
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		b.Fatal(err)
	}
}
