package extract

import "encoding/hex"

// Canonical Stytch user ids: "user-test-<uuid>" or "user-live-<uuid>" (stytch-api.md §10).
const (
	userIDTestPrefix = "user-test-"
	userIDLivePrefix = "user-live-"
	uuidTextLen      = 36
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
	set := s.test
	rest, ok := cutPrefix(id, userIDTestPrefix)
	if !ok {
		set = s.live
		rest, ok = cutPrefix(id, userIDLivePrefix)
	}
	if ok {
		if key, ok := packUUID(rest); ok {
			if _, dup := set[key]; dup {
				return false
			}
			set[key] = struct{}{}
			return true
		}
	}
	if _, dup := s.other[id]; dup {
		return false
	}
	s.other[id] = struct{}{}
	return true
}

// len returns the number of ids recorded.
func (s *idSet) len() int { return len(s.test) + len(s.live) + len(s.other) }

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// packUUID packs a lower-case canonical UUID text (8-4-4-4-12 hex digits) into 16 bytes. Upper
// case and any other form are refused, so that the packing is one-to-one with the text.
func packUUID(s string) ([16]byte, bool) {
	var out [16]byte
	if len(s) != uuidTextLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, false
	}
	var hexDigits [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
			hexDigits[n] = c
			n++
		default:
			return out, false
		}
	}
	if _, err := hex.Decode(out[:], hexDigits[:]); err != nil {
		return out, false
	}
	return out, true
}
