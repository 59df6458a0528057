package transform

import (
	"fmt"
	"hash/fnv"
)

// tally counts (user, org) pairs and sums a 64-bit hash of each, so that two tallies over the
// same pairs agree and a pair lost or counted twice almost surely makes them differ.
type tally struct {
	n   int64
	sum uint64
}

func (t *tally) add(userID, orgKey string) {
	h := fnv.New64a()
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(orgKey))
	t.n++
	t.sum += mix64(h.Sum64())
}

func (t *tally) merge(o tally) { t.n += o.n; t.sum += o.sum }

// mix64 is the splitmix64 finalizer; it spreads FNV's bits before summing.
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
