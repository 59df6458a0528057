package extract

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
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
	s.expect(5)
	for _, tc := range []struct {
		id  string
		new bool
	}{
		{"user-test-" + u, true}, {"user-test-" + u, false}, {"user-live-" + u, true}, {"user-live-" + u, false},
		{"user-test-" + strings.ToUpper(u), true}, {"user-test-" + strings.ToUpper(u), false},
		{"user-other-" + u, true}, {"user-other-" + u, false}, {"", true}, {"", false}, {"u1", true},
	} {
		k := packID(tc.id)
		s.warm(slices.Values([]idKey{k}))
		if got := s.addKey(tc.id, k); got != tc.new {
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
	for _, expect := range []int{0, 1_000, 40_000, 1_000_000} {
		t.Run(fmt.Sprint("expect=", expect), func(t *testing.T) { testUUIDSet(t, expect) })
	}
}

// testUUIDSet runs TestUUIDSet on a set told to expect that many keys; the table must grow
// straight to a size that holds them once it grows past its first one.
func testUUIDSet(t *testing.T, expect int) {
	u := uuidSet{expect: expect}
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
		if len(u.slots) > minUUIDSlots && len(u.slots)*3 < expect*4 {
			t.Fatalf("after %d keys the table has %d slots, too few for the %d expected", i, len(u.slots), expect)
		}
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

// TestIDGuess checks the guess of a file's users from its first chunks, and its bound.
func TestIDGuess(t *testing.T) {
	for _, tc := range []struct {
		size             int64
		chunkBytes, recs int
		want             int
	}{
		{size: 1 << 30, chunkBytes: 1 << 20, recs: 1000, want: 1024 * 1000 * 21 / 20},
		{size: 1 << 30, chunkBytes: 1 << 19, recs: 500, want: 1024 * 1000 * 21 / 20}, // two chunks
		{size: 1 << 30, chunkBytes: 1 << 20, recs: 100_000, want: (1 << 30) / guessMinRecordBytes * 21 / 20},
		{size: 0, chunkBytes: 1 << 20, recs: 1000, want: 0},     // size unknown: no guess
		{size: 1 << 20, chunkBytes: 1 << 10, recs: 10, want: 0}, // too little seen
	} {
		s := newIDSet()
		g := idGuess{size: tc.size}
		for range 2 {
			g.see(&chunk{data: make([]byte, tc.chunkBytes), items: make([]item, tc.recs)}, s)
		}
		if s.test.expect != tc.want || s.live.expect != tc.want {
			t.Errorf("%+v: expect %d/%d, want %d", tc, s.test.expect, s.live.expect, tc.want)
		}
	}
	// The guess follows the file: a start of small records, then larger ones.
	s := newIDSet()
	g := idGuess{size: 1 << 30}
	g.see(&chunk{data: make([]byte, 1<<20), items: make([]item, 4_000)}, s)
	if want := 1024 * 4_000 * 21 / 20; s.test.expect != want {
		t.Errorf("after a first chunk: expect %d, want %d", s.test.expect, want)
	}
	g.see(&chunk{data: make([]byte, 1<<20), items: make([]item, 500)}, s)
	if want := 512 * 4_500 * 21 / 20; s.test.expect != want {
		t.Errorf("after a second, different chunk: expect %d, want %d", s.test.expect, want)
	}
}

// BenchmarkIDSet adds 1M distinct canonical user ids to a new set per iteration: one at a time
// ("add"), and the way the file merger does it ("chunks": ids packed beforehand, a chunk of 1,000
// warmed at a time, the total expected after the first chunk), timing only the set's own work.
func BenchmarkIDSet(b *testing.B) {
	const n, chunk = 1_000_000, 1_000
	ids := make([]string, n)
	var raw [16]byte
	for i := range ids {
		for j := range raw {
			raw[j] = byte(uint64(i)*0x9E3779B97F4A7C15>>(j*4) ^ uint64(j*31))
		}
		h := hex.EncodeToString(raw[:])
		ids[i] = "user-test-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	b.Run("add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := newIDSet()
			for _, id := range ids {
				s.add(id)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/id")
	})
	b.Run("chunks", func(b *testing.B) {
		keys := make([]idKey, n)
		for i, id := range ids {
			keys[i] = packID(id)
		}
		b.ReportAllocs()
		for b.Loop() {
			s := newIDSet()
			for start := 0; start < n; start += chunk {
				if start == chunk {
					s.expect(n)
				}
				part := keys[start : start+chunk]
				s.warm(slices.Values(part))
				for i, k := range part {
					if !s.addKey(ids[start+i], k) {
						b.Fatal("a distinct id was taken for a duplicate")
					}
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/id")
	})
}
