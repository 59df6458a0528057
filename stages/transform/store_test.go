package transform

import (
	"fmt"
	"testing"
	"unsafe"
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

// TestStringDictReserve checks that keys added within a reservation move nothing: the keys'
// bytes stay in the same array and the table keeps its size, and every key is still found.
func TestStringDictReserve(t *testing.T) {
	d := newStringDict()
	d.intern("first")
	const n = 3000
	d.reserve(n, n*len("key-0000"))
	data, slots := unsafe.SliceData(d.data), len(d.table)
	if slots < 2*(n+1) {
		t.Fatalf("table of %d slots for %d keys", slots, n+1)
	}
	for i := range n {
		if got := d.intern(fmt.Sprintf("key-%04d", i)); got != uint32(i+1) {
			t.Fatalf("key %d interned as %d", i, got)
		}
	}
	if unsafe.SliceData(d.data) != data || len(d.table) != slots {
		t.Fatalf("adding reserved keys moved the keys or grew the table (%d to %d slots)", slots, len(d.table))
	}
	for i := range n {
		if got, ok := d.lookup(fmt.Sprintf("key-%04d", i)); !ok || got != uint32(i+1) {
			t.Fatalf("lookup of key %d = %d, %v", i, got, ok)
		}
	}
	if _, ok := d.lookup("key-9999"); ok {
		t.Fatal("found a key never added")
	}
}
