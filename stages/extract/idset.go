package extract

import (
	"encoding/binary"
	"math/bits"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/internal/stytchid"
)

// Canonical Stytch user ids: "user-test-<uuid>" or "user-live-<uuid>" (stytch-api.md §10).
const (
	userIDTestPrefix = stytchid.TestPrefix
	userIDLivePrefix = stytchid.LivePrefix
	uuidTextLen      = stytchid.UUIDLen
)

// idSet remembers user ids to find duplicates, exactly and cheaply: a canonical Stytch id is
// kept as its 16 UUID bytes in the set of its environment (a flat table of at most 32 bytes
// per id, so 10M users take at most 320 MB); any other id is kept as a string (its length plus
// about 40 bytes). There are no false positives: two ids collide only if they are equal. It is
// not safe for concurrent use.
type idSet struct {
	test, live uuidSet
	other      map[string]struct{}
}

func newIDSet() *idSet {
	return &idSet{other: map[string]struct{}{}}
}

// add records id and reports whether it was new.
func (s *idSet) add(id string) bool {
	if len(id) == len(userIDTestPrefix)+uuidTextLen {
		var set *uuidSet
		switch id[:len(userIDTestPrefix)] {
		case userIDTestPrefix:
			set = &s.test
		case userIDLivePrefix:
			set = &s.live
		}
		if set != nil {
			if key, ok := stytchid.PackUUID(id[len(userIDTestPrefix):]); ok {
				return set.add(key)
			}
		}
	}
	n := len(s.other)
	// A clone: id may be a substring of its whole record's text (see the fast path).
	if _, dup := s.other[id]; dup {
		return false
	}
	s.other[strings.Clone(id)] = struct{}{}
	return len(s.other) > n
}

// len returns the number of ids recorded.
func (s *idSet) len() int { return s.test.n + s.live.n + len(s.other) }

// minUUIDSlots is the size of a uuidSet's first table.
const minUUIDSlots = 1 << 12

// uuidSet is a set of 16-byte keys in one open-addressing table with linear probing, kept at
// most three quarters full. The all-zero key marks an empty slot, so it is remembered apart. A
// Go map of [16]byte keys costs about four times as much per insert, most of it in hashing and
// growing; UUID bytes are nearly random already, so mixing their two halves is hash enough.
type uuidSet struct {
	slots [][16]byte
	n     int
	zero  bool
}

// add records key and reports whether it was new.
func (u *uuidSet) add(key [16]byte) bool {
	if key == ([16]byte{}) {
		if u.zero {
			return false
		}
		u.zero = true
		u.n++
		return true
	}
	if (u.n+1)*4 > len(u.slots)*3 {
		u.grow()
	}
	if !u.insert(key) {
		return false
	}
	u.n++
	return true
}

// insert puts a non-zero key in the table, unless it is there already; it reports which.
func (u *uuidSet) insert(key [16]byte) bool {
	mask := uint64(len(u.slots) - 1)
	for i := uuidHash(key) & mask; ; i = (i + 1) & mask {
		switch u.slots[i] {
		case key:
			return false
		case [16]byte{}:
			u.slots[i] = key
			return true
		}
	}
}

// grow doubles the table (or makes the first one) and moves every key into it.
func (u *uuidSet) grow() {
	old := u.slots
	u.slots = make([][16]byte, max(2*len(old), minUUIDSlots))
	for _, k := range old {
		if k != ([16]byte{}) {
			u.insert(k)
		}
	}
}

// uuidHash mixes the two halves of key (a multiply and a fold), so that UUIDs whose leading
// bytes are a timestamp (versions 1, 6 and 7) still spread over the table.
func uuidHash(key [16]byte) uint64 {
	hi, lo := bits.Mul64(binary.LittleEndian.Uint64(key[:8])^0x9E3779B97F4A7C15, binary.LittleEndian.Uint64(key[8:])^0xC2B2AE3D27D4EB4F)
	return hi ^ lo
}
