package schemas

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchUsers is the size of the write and read benchmarks: the foundation issue asks for 1M rows.
const benchUsers = 1_000_000

// syntheticUsers returns a pool of Stytch-shaped users that benchmarks cycle through, changing
// only the ids, so that generating rows costs next to nothing next to encoding them.
func syntheticUsers(n int) []User {
	pool := make([]User, n)
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range pool {
		id := fmt.Sprintf("user-test-%08x-97a1-4ba4-9720-b03761dc50c6", i)
		u := User{
			UserID:    id,
			Status:    []string{"active", "active", "active", "pending"}[i%4],
			CreatedAt: created.Add(time.Duration(i) * time.Minute),
			FirstName: "Ada", LastName: "Lovelace " + strconv.Itoa(i),
			Emails: []Email{{EmailID: "email-test-" + id[10:], Email: fmt.Sprintf("ada.%d@example%d.com", i, i%50), Verified: i%3 != 0}},
			Roles:  []string{},
			TrustedMetadata: fmt.Sprintf(`{"org_ids":["org-%d","org-%d"],"plan":"enterprise","seats":%d,"region":"eu-west-1"}`,
				i%500, (i+7)%500, i%100),
			UntrustedMetadata: `{"theme":"dark","locale":"en-GB"}`,
			SourceFile:        "users.jsonl",
		}
		if i%2 == 0 {
			u.PhoneNumbers = []PhoneNumber{{PhoneID: "phone-number-test-" + id[10:], PhoneNumber: "+4479460" + fmt.Sprintf("%05d", i%100000), Verified: true}}
		}
		if i%5 == 0 {
			u.Providers = []Provider{{ProviderType: "Google", ProviderSubject: "1234" + strconv.Itoa(i), Locale: "en"}}
			u.Emails = append(u.Emails, Email{EmailID: "email-test-b" + id[11:], Email: fmt.Sprintf("ada%d@gmail.com", i)})
		}
		if i%7 == 0 {
			u.PasswordID = "password-test-" + id[10:]
		}
		pool[i] = u
	}
	return pool
}

// peakRSSMiB is the process's peak resident set size so far (VmHWM), in MiB.
func peakRSSMiB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func writeBenchFile(b *testing.B, path string) {
	pool := syntheticUsers(4096)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := NewWriter(bw, Users, FileMeta{ToolVersion: "bench", RunID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchUsers {
		u := pool[i%len(pool)]
		u.UserID = fmt.Sprintf("user-test-%08d", i)
		u.SourcePosition = int64(i + 1)
		if err := w.Append(&u); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteUsers writes 1M synthetic users to users.parquet and reports rows/s, the CPU
// seconds one file costs, and the process's peak RSS. Target: ≥ 700K rows/s, peak ≤ 300 MB.
func BenchmarkWriteUsers(b *testing.B) {
	path := filepath.Join(b.TempDir(), "users.parquet")
	cpu0, start := cpuSeconds(b), time.Now()
	for b.Loop() {
		writeBenchFile(b, path)
	}
	b.ReportMetric(float64(benchUsers*b.N)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric((cpuSeconds(b)-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(peakRSSMiB(b), "peak-MiB")
	if st, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
	}
}

// BenchmarkReadUsers reads 1M users back as typed rows and reports rows/s and peak RSS.
// Target: ≥ 1.5M rows/s.
func BenchmarkReadUsers(b *testing.B) {
	path := filepath.Join(b.TempDir(), "users.parquet")
	writeBenchFile(b, path)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		r, err := Open(path, Users)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for r.Next() {
			n++
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
		r.Close()
		if n != benchUsers {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(benchUsers*b.N)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(peakRSSMiB(b), "peak-MiB")
}

// BenchmarkReadUsersBatches reads 1M users as Arrow record batches only, the columnar path.
func BenchmarkReadUsersBatches(b *testing.B) {
	path := filepath.Join(b.TempDir(), "users.parquet")
	writeBenchFile(b, path)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		r, err := Open(path, Users)
		if err != nil {
			b.Fatal(err)
		}
		n := int64(0)
		for r.NextBatch() {
			n += r.Batch().NumRows()
		}
		r.Close()
		if n != benchUsers {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(benchUsers*b.N)/time.Since(start).Seconds(), "rows/s")
}
