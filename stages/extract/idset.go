package extract

import (
	"encoding/binary"
	"iter"
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
//
// Its cost is the table's cache misses, paid on the goroutine that checks users in order. So a
// caller that can see ids coming packs them ahead ([packID], on any goroutine), lets the set
// read their slots together ([idSet.warm]: the misses overlap instead of following each other),
// and tells it how many ids to expect ([idSet.expect]: the table is not rehashed as it grows).
type idSet struct {
	test, live uuidSet
	other      map[string]struct{}
	sink       byte // what warm read, kept so that its reads are not dropped
}

// idKey is an id as the set keeps it: the UUID bytes of a canonical test or live id, or
// nothing for any other id.
type idKey struct {
	env idEnv
	key [16]byte
}

// idEnv tells which table an idKey belongs to.
type idEnv uint8

const (
	idOther idEnv = iota // not a canonical id: kept as a string
	idTest
	idLive
)

// packID returns id's key. It is pure, so it can run on any goroutine.
func packID(id string) idKey {
	if len(id) != len(userIDTestPrefix)+uuidTextLen {
		return idKey{}
	}
	env := idOther
	switch id[:len(userIDTestPrefix)] {
	case userIDTestPrefix:
		env = idTest
	case userIDLivePrefix:
		env = idLive
	}
	if env == idOther {
		return idKey{}
	}
	key, ok := stytchid.PackUUID(id[len(userIDTestPrefix):])
	if !ok {
		return idKey{}
	}
	return idKey{env: env, key: key}
}

func newIDSet() *idSet {
	return &idSet{other: map[string]struct{}{}}
}

// add records id and reports whether it was new.
func (s *idSet) add(id string) bool {
	return s.addKey(id, packID(id))
}

// addKey is add with id's key already packed (k must be packID(id)).
func (s *idSet) addKey(id string, k idKey) bool {
	if set := s.table(k.env); set != nil {
		return set.add(k.key)
	}
	n := len(s.other)
	// A clone: id may be a substring of its whole record's text (see the fast path).
	if _, dup := s.other[id]; dup {
		return false
	}
	s.other[strings.Clone(id)] = struct{}{}
	return len(s.other) > n
}

// table returns the UUID table of env, or nil for idOther.
func (s *idSet) table(env idEnv) *uuidSet {
	switch env {
	case idTest:
		return &s.test
	case idLive:
		return &s.live
	}
	return nil
}

// warm reads the table slots of keys about to be added, all at once, so that their cache misses
// overlap. It changes nothing the set holds.
func (s *idSet) warm(keys iter.Seq[idKey]) {
	sink := s.sink
	for k := range keys {
		if set := s.table(k.env); set != nil && len(set.slots) > 0 {
			sink ^= set.slots[uuidHash(k.key)&uint64(len(set.slots)-1)][0]
		}
	}
	s.sink = sink
}

// expect tells the set that about n ids will be added in all, so that a table growing past its
// first size grows straight to hold them. A wrong guess costs memory or a rehash, never a wrong
// answer.
func (s *idSet) expect(n int) {
	s.test.expect, s.live.expect = n, n
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
	// expect is how many keys the set is told to expect (see idSet.expect).
	expect int
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

// grow doubles the table (or makes the first one), or past the first one makes it big enough
// for the keys expected, and moves every key into it.
func (u *uuidSet) grow() {
	old := u.slots
	size := max(2*len(old), minUUIDSlots)
	if len(old) > 0 {
		for size*3 < u.expect*4 {
			size *= 2
		}
	}
	u.slots = make([][16]byte, size)
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
