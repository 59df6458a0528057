package extract

import "strings"

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
	if len(id) == len(userIDTestPrefix)+uuidTextLen {
		var set map[[16]byte]struct{}
		switch id[:len(userIDTestPrefix)] {
		case userIDTestPrefix:
			set = s.test
		case userIDLivePrefix:
			set = s.live
		}
		if set != nil {
			if key, ok := packUUID(id[len(userIDTestPrefix):]); ok {
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

// packUUID packs a lower-case canonical UUID text (8-4-4-4-12 hex digits) into 16 bytes. Upper
// case and any other form are refused, so that the packing is one-to-one with the text.
func packUUID(s string) ([16]byte, bool) {
	var out [16]byte
	if len(s) != uuidTextLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, false
	}
	n := 0
	for i := 0; i < len(s); i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i-- // skip the dash: the next pair starts right after it
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return out, false
		}
		out[n] = hi<<4 | lo
		n++
	}
	return out, true
}

// lowerHex returns the value of a lower-case hex digit.
func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
