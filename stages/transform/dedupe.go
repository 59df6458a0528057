package transform

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// dkey is a candidate membership as dedupe sorts it within its organization.
type dkey struct {
	org      uint32
	verified bool
	created  int64
	userID   string
	email    string
	ref      uint64
	gid      uint32
}

// better orders two candidates of one (org, email) group: verified primary email first, then
// earliest created_at, then smallest user_id in byte order (DESIGN rule 6).
func better(a, b *dkey) int {
	if a.verified != b.verified {
		if a.verified {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return strings.Compare(a.userID, b.userID)
}

// decidingRule names the rule that puts winner before loser.
func decidingRule(winner, loser *dkey) string {
	switch {
	case winner.verified != loser.verified:
		return RuleVerified
	case winner.created != loser.created:
		return RuleEarliestCreatedAt
	default:
		return RuleSmallestUserID
	}
}

// Membership outcomes, by membership id: a survivor's outcome is outSurvivor plus the index of
// its rule in survivorRules.
const (
	outUndecided uint8 = iota
	outDuplicate
	outConflict
	outSurvivor
)

// survivorRules are the survivor rules, indexed as in the outcomes.
var survivorRules = [...]string{RuleUnique, RuleVerified, RuleEarliestCreatedAt, RuleSmallestUserID}

// survivorOutcome is the outcome of a survivor chosen by rule.
func survivorOutcome(rule string) uint8 {
	for i, r := range survivorRules {
		if r == rule {
			return outSurvivor + uint8(i)
		}
	}
	panic("transform: unknown survivor rule " + rule)
}

// decisions is what deduplication decided, for the member rows written afterwards.
type decisions struct {
	// outcome is every membership's outcome, by membership id.
	outcome []uint8
	// merged holds the user ids merged into each survivor that has duplicates (sorted).
	merged mergedLists
	// counts is the number of members of each organization, by organization index.
	counts []int64
}

func newDecisions(memberships, orgs int) *decisions {
	return &decisions{outcome: make([]uint8, memberships), counts: make([]int64, orgs)}
}

// rowSink receives the rows deduplication produces: duplicates by (org_key, email_address,
// source_user_id), and external-id conflict rejects.
type rowSink interface {
	duplicate(d *schemas.Duplicate) error
	reject(r schemas.Reject) error
}

// deduper decides the memberships of one partition of candidates at a time, splitting each
// partition between workers goroutines by organization.
type deduper struct {
	dict    *stringDict
	ranks   []uint32 // by organization, its rank in key order
	order   []uint32 // by rank, the organization
	scratch []entry
	dec     *decisions
	sink    rowSink
	workers int
}

// run dedupes entries (whose key records live in mem), records the decisions and hands the
// duplicates and rejects to the sink in order. It sorts entries in place by organization, cuts
// them into one range of whole organizations per worker, decides the ranges in parallel, then
// hands over each range's rows in turn.
func (d *deduper) run(entries []entry, mem *arena) error {
	sortByRank(entries, d.ranks, d.order, &d.scratch)
	n := max(d.workers, 1)
	var g errgroup.Group
	parts := make([]*orgDecider, 0, n)
	for start := 0; start < len(entries); {
		end := min(start+(len(entries)+n-1)/n, len(entries))
		for end < len(entries) && entries[end].org == entries[end-1].org {
			end++
		}
		od := &orgDecider{dict: d.dict, dec: d.dec}
		parts = append(parts, od)
		part := entries[start:end]
		g.Go(func() error { return od.decide(part, mem) })
		start = end
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, od := range parts {
		for i := range od.dups {
			if err := d.sink.duplicate(&od.dups[i]); err != nil {
				return err
			}
		}
		for _, r := range od.rejects {
			if err := d.sink.reject(r); err != nil {
				return err
			}
		}
		d.dec.merged.addAll(&od.merged)
	}
	return nil
}

// sortByRank orders entries by their organization's rank (ranks[org]; order is its inverse),
// in place, with scratch (grown as needed, reused between calls) as the second buffer. It reads
// each entry's rank once, a random access into ranks, then sorts on the rank with a stable LSD
// radix sort, every pass of which reads and writes memory in sequence. (A counting sort with a
// bucket per rank made two more random accesses per entry; at 10M memberships in 500K
// organizations, hash partitions spread over every rank, that was most of its time.)
func sortByRank(entries []entry, ranks, order []uint32, scratch *[]entry) {
	for i := range entries {
		entries[i].org = ranks[entries[i].org]
	}
	width := bits.Len32(uint32(max(len(ranks)-1, 1)))
	passes := (width + maxRadixBits - 1) / maxRadixBits
	digit := (width + passes - 1) / passes
	if cap(*scratch) < len(entries) {
		*scratch = make([]entry, len(entries))
	}
	src, dst := entries, (*scratch)[:len(entries)]
	counts := make([]int, 1<<digit)
	for p := range passes {
		shift, mask := uint(p*digit), uint32(1)<<digit-1
		clear(counts)
		for _, e := range src {
			counts[e.org>>shift&mask]++
		}
		at := 0
		for d, c := range counts {
			counts[d], at = at, at+c
		}
		for _, e := range src {
			d := e.org >> shift & mask
			dst[counts[d]] = e
			counts[d]++
		}
		src, dst = dst, src
	}
	if passes%2 == 1 {
		copy(entries, src)
	}
	for i := range entries {
		entries[i].org = order[entries[i].org]
	}
}

// maxRadixBits bounds the digit of sortByRank's passes: 2^11 counters stay in the first-level
// cache.
const maxRadixBits = 11

// orgDecider decides a range of whole organizations, keeping the rows it makes until the range
// is done. Deciders of different ranges share the decisions: they write different memberships'
// outcomes and different organizations' counts.
type orgDecider struct {
	dict      *stringDict
	dec       *decisions
	keys      []dkey
	survivors []survivor
	// scratch holds the unpacked user ids of the organization being decided.
	scratch []byte
	dups    []schemas.Duplicate
	rejects []schemas.Reject
	merged  mergedLists
	ids     []string
}

// decide decides entries, sorted by organization.
func (d *orgDecider) decide(entries []entry, mem *arena) error {
	var k keyRecord
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].org == entries[i].org {
			j++
		}
		keys := d.keys[:0]
		// The unpacked user ids of the previous organization are no longer used.
		d.scratch = d.scratch[:0]
		for _, e := range entries[i:j] {
			decodeKeyRecord(mem.get(e.ref), &k, &d.scratch)
			keys = append(keys, dkey{org: e.org, verified: k.verified, created: k.created,
				userID: k.userID, email: k.email, ref: e.ref, gid: e.gid})
		}
		slices.SortFunc(keys, func(a, b dkey) int {
			if c := strings.Compare(a.email, b.email); c != 0 {
				return c
			}
			return better(&a, &b)
		})
		d.org(keys, mem)
		d.keys = keys[:0]
		i = j
	}
	return nil
}

// survivor is one (org, email) group's chosen candidate.
type survivor struct {
	group    []dkey
	key      keyRecord
	conflict int // index of the survivor keeping the external id, or -1
}

// org decides one organization's candidates, sorted by email then by rule 6.
func (d *orgDecider) org(keys []dkey, mem *arena) {
	orgKey := d.dict.key(keys[0].org)
	survivors := d.survivors[:0]
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].email == keys[i].email {
			j++
		}
		s := survivor{group: keys[i:j], conflict: -1}
		decodeKeyRecord(mem.get(keys[i].ref), &s.key, &d.scratch)
		survivors = append(survivors, s)
		i = j
	}
	d.survivors = survivors[:0]
	// External ids are unique within the organization: the best-ranked member keeps a shared
	// one, the others are rejected.
	owner := make(map[string]int, len(survivors))
	for i := range survivors {
		k, taken := owner[survivors[i].key.extID]
		if !taken || better(&survivors[i].group[0], &survivors[k].group[0]) < 0 {
			owner[survivors[i].key.extID] = i
		}
	}
	for i := range survivors {
		if k := owner[survivors[i].key.extID]; k != i {
			survivors[i].conflict = k
		}
	}
	for i := range survivors {
		s := &survivors[i]
		win := &s.group[0]
		losers := s.group[1:]
		rule := RuleUnique
		if len(losers) > 0 {
			rule = decidingRule(win, &losers[0]) // the runner-up, before losers are re-sorted
		}
		slices.SortFunc(losers, func(a, b dkey) int { return strings.Compare(a.userID, b.userID) })
		for k := range losers {
			d.dec.outcome[losers[k].gid] = outDuplicate
			// Kept past this organization: the strings must not alias the scratch space.
			d.dups = append(d.dups, schemas.Duplicate{OrgKey: orgKey, EmailAddress: strings.Clone(win.email),
				SourceUserID: strings.Clone(losers[k].userID), SurvivorUserID: strings.Clone(win.userID),
				Rule: decidingRule(win, &losers[k])})
		}
		if s.conflict >= 0 {
			keeper := &survivors[s.conflict].group[0]
			d.dec.outcome[win.gid] = outConflict
			d.rejects = append(d.rejects, schemas.Reject{SourceUserID: strings.Clone(win.userID), OrgKey: orgKey,
				Scope: scopeMembership, Reason: ReasonExternalIDConflict,
				Field: extSourceNames[s.key.extSrc], RawValue: strings.Clone(s.key.extID),
				Detail:         "external id kept by member from user " + keeper.userID,
				SourcePosition: s.key.position})
			continue
		}
		if len(losers) > 0 {
			d.ids = d.ids[:0]
			for k := range losers {
				d.ids = append(d.ids, losers[k].userID)
			}
			d.merged.add(win.gid, d.ids)
		}
		d.dec.outcome[win.gid] = survivorOutcome(rule)
		d.dec.counts[win.org]++
	}
}

// fillMember makes *m the member built from its payload, in place (m is reused for every row).
// Its strings alias the payload's. empty is the shared empty, non-null list for members without
// merged users or warnings (a zero-capacity slice: nobody can write through it).
func fillMember(m *schemas.Member, orgKey string, pl *payload, merged []string, rule string, empty []string) {
	status := "active"
	if pl.pending {
		status = "pending"
	}
	warnings := empty
	if pl.warnings != 0 {
		warnings = nil
		for bit, name := range warningNames {
			if pl.warnings&(1<<bit) != 0 {
				warnings = append(warnings, name)
			}
		}
	}
	if len(merged) == 0 {
		merged = empty
	}
	*m = schemas.Member{
		OrgKey: orgKey, SourceUserID: pl.userID, EmailAddress: pl.email, EmailVerified: pl.verified,
		Name: pl.name, ExternalID: pl.extID, ExternalIDSource: extSourceNames[pl.extSrc], Status: status,
		MFAPhoneNumber: pl.phone, TrustedMetadata: pl.trusted, UntrustedMetadata: pl.untrusted,
		MergedUserIDs: merged, SurvivorRule: rule, Warnings: warnings,
		SourcePosition: pl.position,
	}
}
