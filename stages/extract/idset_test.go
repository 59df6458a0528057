package extract

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/internal/stytchid"
)

func TestIDSet(t *testing.T) {
	const u = "16d9ba61-97a1-4ba4-9720-b03761dc50c6"
	key, ok := stytchid.PackUUID(u)
	want, _ := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
	if !ok || string(key[:]) != string(want) {
		t.Fatalf("stytchid.PackUUID(%q) = %x, %v; want %x", u, key, ok, want)
	}
	for _, bad := range []string{strings.ToUpper(u), u[:35], u + "0", strings.Replace(u, "-", "0", 1), "g" + u[1:], strings.Replace(u, "9", "-", 1)} {
		if _, ok := stytchid.PackUUID(bad); ok {
			t.Errorf("stytchid.PackUUID(%q) accepted", bad)
		}
	}
	s := newIDSet()
	for _, tc := range []struct {
		id  string
		new bool
	}{
		{"user-test-" + u, true}, {"user-test-" + u, false}, {"user-live-" + u, true}, {"user-live-" + u, false},
		{"user-test-" + strings.ToUpper(u), true}, {"user-test-" + strings.ToUpper(u), false},
		{"user-other-" + u, true}, {"user-other-" + u, false}, {"", true}, {"", false}, {"u1", true},
	} {
		if got := s.add(tc.id); got != tc.new {
			t.Errorf("add(%q) = %v, want %v", tc.id, got, tc.new)
		}
	}
	if s.len() != 6 {
		t.Errorf("len %d, want 6", s.len())
	}
}

// TestUUIDSet checks the open-addressing table against a Go map over enough keys to grow it
// several times, with the all-zero key, repeats, and keys that differ only in their last bytes
// (time-ordered UUIDs share their leading ones).
func TestUUIDSet(t *testing.T) {
	var u uuidSet
	want := map[[16]byte]bool{}
	for i := range 50_000 {
		var k [16]byte
		switch i % 3 {
		case 0: // shared leading bytes
			binary.BigEndian.PutUint64(k[8:], uint64(i/3))
		case 1: // shared trailing bytes
			binary.BigEndian.PutUint64(k[:8], uint64(i/3))
		case 2: // a repeat of an earlier key, or the zero key
			binary.BigEndian.PutUint64(k[8:], uint64(i/7))
		}
		if got := u.add(k); got != !want[k] {
			t.Fatalf("add(%x) #%d = %v, want %v", k, i, got, !want[k])
		}
		want[k] = true
	}
	if u.n != len(want) || !want[[16]byte{}] {
		t.Fatalf("n %d, want %d (zero key seen %v)", u.n, len(want), want[[16]byte{}])
	}
	for k := range want {
		if u.add(k) {
			t.Fatalf("add(%x) after the fill reported a new key", k)
		}
	}
}

// BenchmarkIDSet adds 1M distinct canonical user ids to a new set per iteration.
func BenchmarkIDSet(b *testing.B) {
	const n = 1_000_000
	ids := make([]string, n)
	var raw [16]byte
	for i := range ids {
		for j := range raw {
			raw[j] = byte(uint64(i)*0x9E3779B97F4A7C15>>(j*4) ^ uint64(j*31))
		}
		h := hex.EncodeToString(raw[:])
		ids[i] = "user-test-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	b.ReportAllocs()
	for b.Loop() {
		s := newIDSet()
		for _, id := range ids {
			s.add(id)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/id")
}
