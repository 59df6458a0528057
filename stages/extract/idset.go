package extract

import (
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
// kept as its 16 UUID bytes in the set of its environment (about 30 bytes per id with the map's
// overhead, so 10M users take about 300 MB); any other id is kept as a string (its length plus
// about 40 bytes). There are no false positives: two ids collide only if they are equal. It is
// not safe for concurrent use.
type idSet struct {
	test, live map[[16]byte]struct{}
	other      map[string]struct{}
}

func newIDSet() *idSet {
	return &idSet{
		test:  map[[16]byte]struct{}{},
		live:  map[[16]byte]struct{}{},
		other: map[string]struct{}{},
	}
}

// add records id and reports whether it was new.
func (s *idSet) add(id string) bool {
	if len(id) == len(userIDTestPrefix)+uuidTextLen {
		var set map[[16]byte]struct{}
		switch id[:len(userIDTestPrefix)] {
		case userIDTestPrefix:
			set = s.test
		case userIDLivePrefix:
			set = s.live
		}
		if set != nil {
			if key, ok := stytchid.PackUUID(id[len(userIDTestPrefix):]); ok {
				n := len(set)
				set[key] = struct{}{} // one hash lookup: the set grows only for a new id
				return len(set) > n
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
func (s *idSet) len() int { return len(s.test) + len(s.live) + len(s.other) }
