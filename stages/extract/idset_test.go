package extract

import (
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
