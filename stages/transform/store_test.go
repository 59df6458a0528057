package transform

import (
	"fmt"
	"testing"
)

// TestOrgDictInterns checks the organization dictionary through several table growths: every
// key keeps its first index, reads back byte for byte (keys returned before a growth included),
// and the empty key and keys that differ only at the end are told apart.
func TestOrgDictInterns(t *testing.T) {
	d := newStringDict()
	var keys []string
	var early []string
	for i := range 5000 {
		k := fmt.Sprintf("org-%d", i%2500)
		if i%7 == 0 {
			k += "é"
		}
		keys = append(keys, k)
	}
	keys = append(keys, "", "org-1", "org-10", "org-100")
	want := map[string]uint32{}
	for _, k := range keys {
		i := d.intern(k)
		if w, ok := want[k]; ok && w != i {
			t.Fatalf("intern(%q) = %d, first %d", k, i, w)
		}
		if _, ok := want[k]; !ok {
			if int(i) != len(want) {
				t.Fatalf("intern(%q) = %d for the key number %d", k, i, len(want))
			}
			want[k] = i
			if len(early) < 10 {
				early = append(early, d.key(i))
			}
		}
	}
	if d.len() != len(want) {
		t.Fatalf("len %d, want %d", d.len(), len(want))
	}
	for k, i := range want {
		if got := d.key(i); got != k {
			t.Errorf("key(%d) = %q, want %q", i, got, k)
		}
	}
	for i, k := range early {
		if k != d.key(uint32(i)) {
			t.Errorf("key %d returned before growth now reads %q, want %q", i, k, d.key(uint32(i)))
		}
	}
}
