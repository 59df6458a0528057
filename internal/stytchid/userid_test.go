package stytchid

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestPackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for i := range 2000 {
		env := []string{"user-test-", "user-live-"}[i%2]
		ids = append(ids, fmt.Sprintf("%s%08x-%04x-%04x-%04x-%012x", env, r.Uint32(), r.Uint32()&0xffff,
			r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff))
	}
	ids = append(ids, "user-live-00000000-0000-0000-0000-000000000000", "user-test-ffffffff-ffff-ffff-ffff-ffffffffffff")
	var packed [][]byte
	for _, id := range ids {
		p, ok := AppendPacked(nil, id)
		if !ok || len(p) != PackedLen {
			t.Fatalf("AppendPacked(%q) = %x, %v", id, p, ok)
		}
		if got := string(AppendUnpacked(nil, p)); got != id {
			t.Fatalf("unpacked %q, want %q", got, id)
		}
		packed = append(packed, p)
	}
	// Packed ids sort like their text.
	order := func(less func(i, j int) int) []int {
		idx := make([]int, len(ids))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, less)
		return idx
	}
	byText := order(func(i, j int) int { return strings.Compare(ids[i], ids[j]) })
	byPacked := order(func(i, j int) int { return bytes.Compare(packed[i], packed[j]) })
	if !slices.Equal(byText, byPacked) {
		t.Fatal("packed ids do not sort like their text")
	}
}

func TestPackRefusesOtherForms(t *testing.T) {
	for _, id := range []string{
		"", "user-test-", "user-test-0D9E9A5C-1234-4ABC-9DEF-0123456789AB",
		"user-prod-0d9e9a5c-1234-4abc-9def-0123456789ab", "user-test-0d9e9a5c-1234-4abc-9def-0123456789a",
		"user-test-0d9e9a5c-1234-4abc-9def-0123456789abc", "user-test-0d9e9a5c_1234-4abc-9def-0123456789ab",
		"user-test-0d9e9a5c-1234-4abc-9def-0123456789ag", "u1", "user-test-0d9e9a5c-1234-4abc-9def0-123456789ab",
	} {
		if p, ok := AppendPacked([]byte("x"), id); ok || string(p) != "x" {
			t.Errorf("AppendPacked(%q) = %q, %v; want refused and dst unchanged", id, p, ok)
		}
	}
	// Every digit position, with the bytes just outside each hex range and others.
	const good = "0d9e9a5c-1234-4abc-9def-0123456789ab"
	for i := range len(good) {
		if good[i] == '-' {
			continue
		}
		for _, c := range []byte("/:`gGA \x00\xff") {
			id := TestPrefix + good[:i] + string(c) + good[i+1:]
			if _, ok := AppendPacked(nil, id); ok {
				t.Errorf("AppendPacked(%q) accepted byte %q at %d", id, c, i)
			}
		}
	}
	if _, ok := AppendPacked(nil, TestPrefix+good); !ok {
		t.Errorf("AppendPacked refused %q", TestPrefix+good)
	}
}

// BenchmarkPack measures packing and unpacking random canonical user ids, whose hex digits are
// as unpredictable as real ones.
func BenchmarkPack(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-test-%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
	}
	var buf []byte
	b.Run("pack", func(b *testing.B) {
		i := 0
		for b.Loop() {
			buf, _ = AppendPacked(buf[:0], ids[i%len(ids)])
			i++
		}
	})
	packed, _ := AppendPacked(nil, ids[0])
	b.Run("unpack", func(b *testing.B) {
		for b.Loop() {
			buf = AppendUnpacked(buf[:0], packed)
		}
	})
}
