package transform

import (
	"fmt"
	"math/bits"
)

// tally counts (user, org) pairs and sums a 64-bit hash of each, so that two tallies over the
// same pairs agree and a pair lost or counted twice almost surely makes them differ.
type tally struct {
	n   int64
	sum uint64
}

func (t *tally) add(userID, orgKey string) {
	t.n++
	t.sum += pairHash(userID, orgKey)
}

func (t *tally) merge(o tally) { t.n += o.n; t.sum += o.sum }

// Multipliers of the xxHash64 round.
const (
	hashPrime1 = 0x9e3779b185ebca87
	hashPrime2 = 0xc2b2ae3d27d4eb4f
)

// pairHash is a 64-bit hash of the pair (a, b). It takes both lengths, then a and b eight bytes
// at a time (the last word of each zero-padded) through xxHash64 rounds, and finishes with
// mix64. The lengths keep the boundary between a and b, so distinct pairs feed distinct word
// sequences, and each round is a bijection of the state for a given word: two pairs collide only
// by chance. The hash is the same in every process and allocates nothing.
func pairHash(a, b string) uint64 {
	h := uint64(len(a))<<32 ^ uint64(len(b))
	h = hashWords(h, a)
	h = hashWords(h, b)
	return mix64(h)
}

// hashWords runs one round per eight-byte little-endian word of s.
func hashWords(h uint64, s string) uint64 {
	for ; len(s) >= 8; s = s[8:] {
		h = hashRound(h, uint64(s[0])|uint64(s[1])<<8|uint64(s[2])<<16|uint64(s[3])<<24|
			uint64(s[4])<<32|uint64(s[5])<<40|uint64(s[6])<<48|uint64(s[7])<<56)
	}
	if len(s) > 0 {
		var w uint64
		for i := 0; i < len(s); i++ {
			w |= uint64(s[i]) << (8 * i)
		}
		h = hashRound(h, w)
	}
	return h
}

// hashRound is the xxHash64 round: it mixes the word w into the state h.
func hashRound(h, w uint64) uint64 {
	return bits.RotateLeft64(h+w*hashPrime2, 31) * hashPrime1
}

// mix64 is the splitmix64 finalizer; it spreads the rounds' bits before summing.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// ledger holds the reconciliation tallies: what the scan saw and what the outputs hold.
type ledger struct {
	// users is every user read; planned is the users with at least one candidate membership;
	// candidates is every (user, org) candidate.
	users, planned, candidates tally
	// userRejects, members, duplicates and membershipRejects are the output rows.
	userRejects, members, duplicates, membershipRejects tally
}

func (l *ledger) merge(o *ledger) {
	l.users.merge(o.users)
	l.planned.merge(o.planned)
	l.candidates.merge(o.candidates)
}

// check verifies DESIGN rule 9: every candidate membership is in exactly one of members,
// duplicates or membership rejects, and every user is either planned or has one user reject.
func (l *ledger) check() error {
	out := l.members
	out.merge(l.duplicates)
	out.merge(l.membershipRejects)
	if out != l.candidates {
		return fmt.Errorf("reconciliation failed: %d candidate memberships, but %d members + %d duplicates + %d membership rejects = %d (or their fingerprints differ)",
			l.candidates.n, l.members.n, l.duplicates.n, l.membershipRejects.n, out.n)
	}
	users := l.planned
	users.merge(l.userRejects)
	if users != l.users {
		return fmt.Errorf("reconciliation failed: %d users read, but %d planned + %d user rejects = %d (or their fingerprints differ)",
			l.users.n, l.planned.n, l.userRejects.n, users.n)
	}
	return nil
}
