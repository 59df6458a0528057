package extract

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// Benchmark settings. EXTRACT_BENCH_USERS overrides the number of users of the file benchmarks.
const (
	benchUsers    = 1_000_000
	benchUsersEnv = "EXTRACT_BENCH_USERS"
	benchChildEnv = "EXTRACT_BENCH_CHILD" // "kind path" of the extraction a child process runs
	// benchCPUProfileEnv, when set, makes each child write a CPU profile to "$value.<kind>".
	benchCPUProfileEnv = "EXTRACT_BENCH_CPUPROFILE"
	// benchMemProfileEnv, when set, makes each child write heap profiles to "$value.<kind>".
	benchMemProfileEnv = "EXTRACT_BENCH_MEMPROFILE"
	benchCSVPageSize   = 1000
	benchSeed          = 42
)

// BenchmarkFileSources extracts 1M Stytch-shaped users from each file source in a child process
// (one per iteration) and reports users/s and the child's peak RSS (getrusage maxrss).
// Inputs are generated once into os.TempDir() and reused. Run with -benchtime=1x -count=3.
func BenchmarkFileSources(b *testing.B) {
	n := benchUsers
	if v := os.Getenv(benchUsersEnv); v != "" {
		n, _ = strconv.Atoi(v)
	}
	for _, kind := range []string{SourceJSONL, SourceExportJSON, SourceExportCSV} {
		b.Run(kind, func(b *testing.B) {
			path := benchInput(b, kind, n)
			info, _ := os.Stat(path)
			b.SetBytes(info.Size())
			var peakKB int64
			var elapsed, cpu time.Duration
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), benchChildEnv+"="+kind+" "+path)
				cmd.Stderr = os.Stderr
				start := time.Now()
				out, err := cmd.Output()
				elapsed += time.Since(start)
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				if !strings.Contains(string(out), fmt.Sprintf("users=%d ", n)) {
					b.Fatalf("child did not extract %d users:\n%s", n, out)
				}
				ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				peakKB = max(peakKB, ru.Maxrss)
				cpu += time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "users/s")
			b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MB")
			b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "users/CPU-s")
			b.ReportMetric(float64(info.Size())/float64(n), "bytes/user")
		})
	}
}

// TestBenchChild is the child process of BenchmarkFileSources; it does nothing in a normal run.
func TestBenchChild(t *testing.T) {
	spec := os.Getenv(benchChildEnv)
	if spec == "" {
		t.Skip("only run by BenchmarkFileSources")
	}
	kind, path, _ := strings.Cut(spec, " ")
	if out := os.Getenv(benchCPUProfileEnv); out != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s", out, kind))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if out := os.Getenv(benchMemProfileEnv); out != "" {
		// A heap profile every second, each replacing the last: the last one is near the peak.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if f, err := os.Create(fmt.Sprintf("%s.%s", out, kind)); err == nil {
						_ = pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
		}()
	}
	// The command runs the stage under this soft limit (GOMEMLIMIT overrides it); so does the
	// benchmark.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
	d, err := pipeline.OpenRunDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var opts []Option
	if v := os.Getenv("EXTRACT_BENCH_ROW_GROUP"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		opts = append(opts, WithWriterOptions(schemas.WithRowGroupRows(n)))
	}
	s, err := New(Config{Type: kind, Path: path}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runStage(context.Background(), d, s)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("users=%d bad=%d\n", res.Counts[CountUsers], res.Counts[CountBadRecords])
}

// BenchmarkAPI extracts from the emulator over loopback at two configured rates and reports the
// achieved pages/s next to the limit.
func BenchmarkAPI(b *testing.B) {
	for _, tc := range []struct {
		rpm   float64
		pages int
	}{{DefaultRequestsPerMinute, 10}, {600, 30}} {
		b.Run(fmt.Sprintf("rpm=%v", tc.rpm), func(b *testing.B) {
			const pageSize = 1000
			srv := stytchtest.NewServer(stytchtest.WithUsers(seedUsers(tc.pages*pageSize, 0, "0000b0b0")...))
			if err := srv.Start(""); err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			var pages int64
			var elapsed time.Duration
			for b.Loop() {
				s, err := NewAPISearcher(srv.ConsumerConfig(), tc.rpm, "bench")
				if err != nil {
					b.Fatal(err)
				}
				d, err := pipeline.OpenRunDir(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				st, err := New(Config{Type: SourceStytchAPI, RequestsPerMinute: tc.rpm}, WithSearcher(s))
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				res, err := runStage(context.Background(), d, st)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				pages += res.Counts[CountPages]
			}
			b.ReportMetric(float64(pages)/elapsed.Seconds(), "pages/s")
			b.ReportMetric(tc.rpm/60, "limit-pages/s")
		})
	}
}

// benchInput returns the path of the cached benchmark input of kind with n users, generating it
// when missing.
func benchInput(b *testing.B, kind string, n int) string {
	b.Helper()
	ext := map[string]string{SourceJSONL: "jsonl", SourceExportJSON: "json", SourceExportCSV: "csv"}[kind]
	dir := filepath.Join(os.TempDir(), "stytch-migrate-bench")
	path := filepath.Join(dir, fmt.Sprintf("users-%d-v2.%s", n, ext))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeBenchUsers(w, kind, n); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %v", path, time.Since(start).Round(time.Millisecond))
	return path
}

// writeBenchUsers writes n Stytch-shaped users in the format of kind: 1–2 emails, 0–1 phones,
// some OAuth providers and TOTPs, most with a password, metadata of about 100–300 bytes.
func writeBenchUsers(w *bufio.Writer, kind string, n int) error {
	rng := rand.New(rand.NewPCG(benchSeed, benchSeed))
	if kind == SourceExportJSON {
		w.WriteString("[\n")
	}
	for i := range n {
		u := benchUser(rng, i)
		switch kind {
		case SourceJSONL:
			b, err := json.Marshal(u)
			if err != nil {
				return err
			}
			w.Write(b)
			w.WriteByte('\n')
		case SourceExportJSON:
			b, err := json.MarshalIndent(u, "  ", "  ")
			if err != nil {
				return err
			}
			w.WriteString("  ")
			w.Write(b)
			if i < n-1 {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		case SourceExportCSV:
			if i%benchCSVPageSize == 0 {
				w.WriteString(`"` + strings.Join(csvHeader, `","`) + `"` + "\n")
			}
			cells := make([]string, 0, len(csvHeader))
			q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
			js := func(v any) string {
				b, _ := json.Marshal(v)
				if string(b) == "null" {
					return ""
				}
				return q(string(b))
			}
			cells = append(cells, q(u.UserID), q(u.Status), q(stytch.FormatTime(u.CreatedAt)), js(u.Name), js(u.Emails),
				js(u.PhoneNumbers), js(u.TrustedMetadata), js(u.UntrustedMetadata), js(u.Providers),
				js(u.WebAuthnRegistrations), js(u.BiometricRegistrations), js(u.TOTPs), js(u.CryptoWallets), js(u.Password))
			w.WriteString(strings.Join(cells, ","))
			w.WriteByte('\n')
		}
	}
	if kind == SourceExportJSON {
		w.WriteString("]\n")
	}
	return nil
}

var benchFirst = []string{"Zoë", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Aiko", "José", "Chloé", "Søren"}
var benchLast = []string{"García", "Smith", "Müller", "Nakamura", "O'Brien", "Kowalski", "Nguyen", "Dubois"}
var benchDomains = []string{"acme.example", "globex.example", "initech.example", "gmail.com", "outlook.com", "umbrella.example"}

// benchUser returns user i. About one user in twenty takes over the email address (first letter
// capitalized) and organizations of one of the 1,000 users before it, so the transform stage finds
// duplicates; organizations are 80% one, 15% two and 5% three of 5,000, about 1.25 memberships per
// user as issue 5's benchmark asks.
func benchUser(rng *rand.Rand, i int) stytch.User {
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff)
	}
	first, last, email, orgs := benchIdentity(i)
	if i > 0 && rng.IntN(20) == 0 {
		_, _, email, orgs = benchIdentity(i - 1 - rng.IntN(min(i, 1000)))
		email = strings.ToUpper(email[:1]) + email[1:]
	}
	orgIDs, _ := json.Marshal(orgs)
	u := stytch.User{
		UserID:    "user-test-" + uuid(),
		Status:    "active",
		CreatedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 97 * time.Second),
		Name:      &stytch.UserName{FirstName: first, LastName: last},
		Emails:    []stytch.UserEmail{{EmailID: "email-test-" + uuid(), Email: email, Verified: rng.IntN(10) < 8}},
		Roles:     []string{"stytch_user"},
		TrustedMetadata: json.RawMessage(fmt.Sprintf(`{"org_ids":%s,"plan":%q,"seats":%d,"region":"us-east-1","flags":{"beta":%v,"sso":%v}}`,
			orgIDs, []string{"free", "pro", "enterprise"}[rng.IntN(3)], rng.IntN(500), rng.IntN(2) == 0, rng.IntN(2) == 0)),
		UntrustedMetadata: json.RawMessage(fmt.Sprintf(`{"theme":"dark","locale":"en-US","onboarding":{"step":%d,"completed":%v},"last_seen_app":"web-%d.4.1"}`,
			rng.IntN(5), rng.IntN(2) == 0, rng.IntN(9))),
		PhoneNumbers: []stytch.UserPhoneNumber{}, Providers: []stytch.OAuthProvider{}, TOTPs: []stytch.TOTP{},
		WebAuthnRegistrations: []stytch.WebAuthnRegistration{}, BiometricRegistrations: []stytch.BiometricRegistration{},
		CryptoWallets: []stytch.CryptoWallet{},
	}
	if rng.IntN(10) < 3 {
		u.Emails = append(u.Emails, stytch.UserEmail{EmailID: "email-test-" + uuid(), Email: fmt.Sprintf("%s%d@gmail.com", strings.ToLower(last), i), Verified: false})
	}
	if rng.IntN(10) < 4 {
		u.PhoneNumbers = append(u.PhoneNumbers, stytch.UserPhoneNumber{PhoneID: "phone-number-test-" + uuid(), PhoneNumber: fmt.Sprintf("+1415%07d", rng.IntN(10_000_000)), Verified: true})
	}
	if rng.IntN(10) < 3 {
		u.Providers = append(u.Providers, stytch.OAuthProvider{ProviderType: "Google", ProviderSubject: strconv.FormatUint(rng.Uint64(), 10),
			ProfilePictureURL: "https://lh3.googleusercontent.com/a/" + strings.ReplaceAll(uuid(), "-", ""), Locale: "en", OAuthUserRegistrationID: "oauth-user-test-" + uuid()})
	}
	if rng.IntN(20) == 0 {
		u.TOTPs = append(u.TOTPs, stytch.TOTP{TOTPID: "totp-test-" + uuid(), Verified: true})
	}
	if rng.IntN(10) < 6 {
		u.Password = &stytch.UserPassword{PasswordID: "password-test-" + uuid()}
	}
	if rng.IntN(10) < 3 {
		u.ExternalID = fmt.Sprintf("ext-%d", i)
	}
	return u
}

// benchIdentity returns user i's names, email address and organizations, drawn from i alone so
// that a later user can take the address and organizations over.
func benchIdentity(i int) (first, last, email string, orgs []string) {
	r := rand.New(rand.NewPCG(benchSeed^0x9e3779b97f4a7c15, uint64(i)))
	first, last = benchFirst[r.IntN(len(benchFirst))], benchLast[r.IntN(len(benchLast))]
	email = fmt.Sprintf("%s.%s%d@%s", strings.ToLower(first), strings.ToLower(last), i, benchDomains[r.IntN(len(benchDomains))])
	n := 1
	switch x := r.IntN(100); {
	case x >= 95:
		n = 3
	case x >= 80:
		n = 2
	}
	for range n {
		orgs = append(orgs, fmt.Sprintf("org-%d", r.IntN(5000)))
	}
	return first, last, email, orgs
}
