package transform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Benchmark inputs: 1M users in ~50K organizations (about 1.25M memberships), and the 10M
// scale run.
var (
	bench1M  = genParams{users: 1_000_000, orgs: 50_000, seed: 1}
	bench10M = genParams{users: 10_000_000, orgs: 500_000, seed: 1}
)

// benchEnv makes a run directory whose extract/users.parquet links to the cached input.
func benchEnv(tb testing.TB, users string) *pipeline.Env {
	tb.Helper()
	dir, err := pipeline.OpenRunDir(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir.Path("extract"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(users, dir.Path(schemas.Users.Path())); err != nil {
		tb.Fatal(err)
	}
	return &pipeline.Env{Dir: dir, RunID: "bench", ToolVersion: "bench"}
}

// BenchmarkTransform1M times the stage alone on 1M generated users, in process.
func BenchmarkTransform1M(b *testing.B) {
	users := cachedUsersFile(b, bench1M)
	cfg := DefaultConfig()
	if v := os.Getenv("TRANSFORM_BENCH_LIMIT"); v != "" {
		if err := cfg.Transform.MemoryLimit.Set(v); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		env := benchEnv(b, users)
		b.StartTimer()
		env.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		res, err := Run(context.Background(), cfg, env)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Counts[CountMemberships]), "memberships")
		b.Logf("counts %v details %v", res.Counts, res.Details)
	}
}

// BenchmarkTransform1MPeak runs the stage on 1M users in a child process and reports its wall
// time and peak RSS (VmHWM).
func BenchmarkTransform1MPeak(b *testing.B) {
	limits := []ByteSize{DefaultMemoryLimit, 512 << 20, 256 << 20}
	if v := os.Getenv("TRANSFORM_BENCH_LIMIT"); v != "" {
		l, err := ParseByteSize(v)
		if err != nil {
			b.Fatal(err)
		}
		limits = []ByteSize{l}
	}
	for _, limit := range limits {
		b.Run("limit="+limit.String(), func(b *testing.B) { benchChild(b, bench1M, limit, childFiles{}) })
	}
}

// BenchmarkTransform1MPasswords is BenchmarkTransform1MPeak with a hash file of a bcrypt row per
// user: at 1GiB its index stays in memory, at 256MiB it goes through the partitioned join.
func BenchmarkTransform1MPasswords(b *testing.B) {
	hashes := cachedHashesFile(b, bench1M)
	for _, limit := range []ByteSize{DefaultMemoryLimit, 256 << 20} {
		b.Run("limit="+limit.String(), func(b *testing.B) { benchChild(b, bench1M, limit, childFiles{hashes: hashes}) })
	}
}

// BenchmarkTransform1MMapping is BenchmarkTransform1MPeak with strategy mapping: a mapping file
// of the users' organizations, a row per membership (1.25M rows). At 512MiB its index (about
// 60 MB) still fits in its share; at 256MiB the file is joined with the users (mappingJoin).
func BenchmarkTransform1MMapping(b *testing.B) {
	mapping := cachedMappingFile(b, bench1M)
	for _, limit := range []ByteSize{DefaultMemoryLimit, 512 << 20, 256 << 20} {
		b.Run("limit="+limit.String(), func(b *testing.B) { benchChild(b, bench1M, limit, childFiles{mapping: mapping}) })
	}
}

// BenchmarkTransform10M runs the stage on 10M users under a 512MiB memory limit in a child
// process (set STYTCH_MIGRATE_BENCH_SCALE=1; generating the input takes minutes the first time).
func BenchmarkTransform10M(b *testing.B) {
	if os.Getenv("STYTCH_MIGRATE_BENCH_SCALE") == "" {
		b.Skip("set STYTCH_MIGRATE_BENCH_SCALE=1 to run the 10M-user scale benchmark")
	}
	benchChild(b, bench10M, 512<<20, childFiles{})
}

// BenchmarkTransform10MMapping is BenchmarkTransform10M with strategy mapping: a mapping file
// of 12.5M rows, joined with the users under the 512MiB limit.
func BenchmarkTransform10MMapping(b *testing.B) {
	if os.Getenv("STYTCH_MIGRATE_BENCH_SCALE") == "" {
		b.Skip("set STYTCH_MIGRATE_BENCH_SCALE=1 to run the 10M-user scale benchmark")
	}
	benchChild(b, bench10M, 512<<20, childFiles{mapping: cachedMappingFile(b, bench10M)})
}

// childResult is what the child process reports.
type childResult struct {
	Seconds float64          `json:"seconds"`
	CPU     float64          `json:"cpu_seconds"`
	GCCPU   float64          `json:"gc_cpu_seconds"`
	PeakKB  int64            `json:"peak_kb"`
	Counts  map[string]int64 `json:"counts"`
	Details map[string]any   `json:"details"`
}

// childFiles are the optional input files of a benchmark child: a hash file, and a mapping file
// (strategy mapping instead of metadata).
type childFiles struct {
	hashes, mapping string
}

// benchChild runs the stage on the users of p under limit in a child process, with the files
// that are set.
func benchChild(b *testing.B, p genParams, limit ByteSize, files childFiles) {
	users := cachedUsersFile(b, p)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(exe, "-test.run=^TestBenchChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TRANSFORM_BENCH_CHILD_USERS="+users,
			"TRANSFORM_BENCH_CHILD_LIMIT="+strconv.FormatInt(int64(limit), 10),
			"TRANSFORM_BENCH_CHILD_DIR="+b.TempDir(), "TRANSFORM_BENCH_CHILD_HASHES="+files.hashes,
			"TRANSFORM_BENCH_CHILD_MAPPING="+files.mapping)
		out, err := cmd.CombinedOutput()
		if os.Getenv("TRANSFORM_BENCH_VERBOSE") != "" {
			b.Logf("child output:\n%s", out)
		}
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var res childResult
		for line := range strings.Lines(string(out)) {
			if s, ok := strings.CutPrefix(line, "CHILD-RESULT "); ok {
				if err := json.Unmarshal([]byte(s), &res); err != nil {
					b.Fatal(err)
				}
			}
		}
		if res.PeakKB == 0 {
			b.Fatalf("child reported nothing:\n%s", out)
		}
		b.ReportMetric(res.Seconds, "stage-s")
		b.ReportMetric(res.CPU, "cpu-s")
		b.ReportMetric(res.GCCPU, "gc-cpu-s")
		b.ReportMetric(float64(res.PeakKB)/1024, "peak-MiB")
		b.ReportMetric(float64(res.Counts[CountMemberships]), "memberships")
		b.Logf("counts %v details %v", res.Counts, res.Details)
	}
}

// TestBenchChild is the child process of the peak-memory benchmarks; it does nothing in a
// normal test run.
func TestBenchChild(t *testing.T) {
	users := os.Getenv("TRANSFORM_BENCH_CHILD_USERS")
	if users == "" {
		t.Skip("only run as a benchmark child process")
	}
	limit, _ := strconv.ParseInt(os.Getenv("TRANSFORM_BENCH_CHILD_LIMIT"), 10, 64)
	dir, err := pipeline.OpenRunDir(os.Getenv("TRANSFORM_BENCH_CHILD_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir.Path("extract"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(users, dir.Path(schemas.Users.Path())); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Transform.MemoryLimit = ByteSize(limit)
	cfg.Passwords.HashesFile = os.Getenv("TRANSFORM_BENCH_CHILD_HASHES")
	if f := os.Getenv("TRANSFORM_BENCH_CHILD_MAPPING"); f != "" {
		cfg.Organizations.Strategy, cfg.Organizations.MappingFile = StrategyMapping, f
	}
	start := time.Now()
	logger := slog.New(hwmHandler{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}), t})
	res, err := Run(context.Background(), cfg, &pipeline.Env{Dir: dir, RunID: "bench", ToolVersion: "bench", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := processCPU()
	if err != nil {
		t.Fatal(err)
	}
	gc := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gc)
	out, _ := json.Marshal(childResult{Seconds: time.Since(start).Seconds(), CPU: cpu, GCCPU: gc[0].Value.Float64(), PeakKB: vmHWM(t),
		Counts: res.Counts, Details: res.Details})
	fmt.Printf("CHILD-RESULT %s\n", out)
}

// processCPU returns the CPU time (user and system) the process has used so far, in seconds.
func processCPU() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), nil
}

// cpuSeconds is processCPU for benchmarks and their logs: 0 when it cannot be read.
func cpuSeconds() float64 {
	s, _ := processCPU()
	return s
}

// hwmHandler adds the peak RSS so far and the Go heap's figures to every log record, to see
// which phase sets the peak.
type hwmHandler struct {
	slog.Handler
	t testing.TB
}

func (h hwmHandler) Handle(ctx context.Context, r slog.Record) error {
	if dir := os.Getenv("TRANSFORM_BENCH_HEAP_PROFILES"); dir != "" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "phase" {
				writeHeapProfile(h.t, filepath.Join(dir, "heap-"+a.Value.String()+".pprof"))
			}
			return true
		})
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.AddAttrs(slog.Float64("cpu_s", cpuSeconds()))
	r.AddAttrs(slog.Int64("vmhwm_mib", vmHWM(h.t)/1024), slog.Uint64("heap_alloc_mib", ms.HeapAlloc>>20),
		slog.Uint64("heap_sys_mib", ms.HeapSys>>20), slog.Uint64("num_gc", uint64(ms.NumGC)))
	return h.Handler.Handle(ctx, r)
}

// writeHeapProfile writes a heap profile of the live objects (after a collection) to path.
func writeHeapProfile(t testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}

// vmHWM reads the process's peak resident set size in KiB from /proc/self/status.
func vmHWM(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkTransform1MFormatFloor measures what the stage cannot do without, on the 1M input:
// reading the needed columns of users.parquet into users (as the scan does, no rule applied), and
// writing the stage's members.parquet again from rows already in memory (as the emit pass does,
// same writer options). Their sum is a floor under the stage's time that no work on the rules
// lowers: it is the Parquet and zstd cost of the stage's input and main output.
func BenchmarkTransform1MFormatFloor(b *testing.B) {
	users := cachedUsersFile(b, bench1M)
	env := benchEnv(b, users)
	if _, err := Run(context.Background(), DefaultConfig(), env); err != nil {
		b.Fatal(err)
	}
	members, err := schemas.ReadAll(env.Dir.Path(schemas.Members.Path()), schemas.Members)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read-users", func(b *testing.B) {
		c0 := cpuSeconds()
		for b.Loop() {
			r, err := openUsers(context.Background(), users, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			var u schemas.User
			for r.rr.Next() {
				cols, err := bindUserColumns(r.rr.RecordBatch())
				if err != nil {
					b.Fatal(err)
				}
				for i := range int(r.rr.RecordBatch().NumRows()) {
					cols.row(i, &u)
				}
			}
			if err := r.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			r.Close()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s")
		b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s")
	})
	b.Run("write-members", func(b *testing.B) {
		c0 := cpuSeconds()
		for b.Loop() {
			f, err := os.Create(filepath.Join(b.TempDir(), "members.parquet"))
			if err != nil {
				b.Fatal(err)
			}
			w, err := schemas.NewWriter(f, schemas.Members, schemas.FileMeta{ToolVersion: "bench", RunID: "bench"}, schemas.WithEncoders(membersEncoders))
			if err != nil {
				b.Fatal(err)
			}
			for i := range members {
				if err := w.Append(&members[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s")
		b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s")
		b.ReportMetric(float64(len(members)), "members")
	})
}

// BenchmarkReadMappingFile reads the 1M users' mapping file (1.25M rows) into an in-memory index
// (readMappingFile) and, at a small limit, into join partitions (mappingJoin.writeRows).
func BenchmarkReadMappingFile(b *testing.B) {
	path := cachedMappingFile(b, bench1M)
	b.Run("index", func(b *testing.B) {
		c0 := cpuSeconds()
		for b.Loop() {
			m, over, err := readMappingFile(path, 0, nil)
			if err != nil || over != nil {
				b.Fatal(err, over)
			}
			b.ReportMetric(float64(m.rows()), "rows")
		}
		b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s")
	})
	b.Run("partitions", func(b *testing.B) {
		c0 := cpuSeconds()
		for b.Loop() {
			j := &mappingJoin{dir: b.TempDir(), parts: 8, orgs: newStringDict()}
			rows, err := j.writeRows(path, pipeline.NoProgress("", ""))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rows), "rows")
		}
		b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s")
	})
}

// BenchmarkReadHashFile reads the 1M users' hash file (a bcrypt row per user) into an in-memory
// index (readHashFile).
func BenchmarkReadHashFile(b *testing.B) {
	path := cachedHashesFile(b, bench1M)
	c0 := cpuSeconds()
	for b.Loop() {
		rejects := 0
		p, err := readHashFile(path, joinOptions{}, func(schemas.Reject) error { rejects++; return nil }, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(p.owners.len()), "owners")
		b.ReportMetric(float64(rejects), "rejects")
	}
	b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s")
}
