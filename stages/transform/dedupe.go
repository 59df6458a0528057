package transform

import (
	"cmp"
	"slices"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// dkey is a candidate membership as dedupe sorts it.
type dkey struct {
	rank     uint32
	org      uint32
	verified bool
	created  int64
	userID   string
	email    string
	ref      uint64
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

// rowSink receives the rows of the plan in output order: members and their passwords by
// (org_key, email), duplicates by (org_key, email, source_user_id).
type rowSink interface {
	member(m *schemas.Member, pw *schemas.MemberPassword) error
	duplicate(d *schemas.Duplicate) error
	reject(r schemas.Reject)
}

// deduper plans the members of one partition of candidates.
type deduper struct {
	dict   *orgDict
	ranks  []uint32
	pws    *passwordIndex
	sink   rowSink
	counts []int64
	keys   []dkey
	empty  []string
}

// run dedupes entries (whose records live in mem) and hands the rows to the sink.
func (d *deduper) run(entries []entry, mem *arena) error {
	if d.empty == nil {
		d.empty = make([]string, 0)
	}
	keys := slices.Grow(d.keys[:0], len(entries))
	for _, e := range entries {
		created, verified, userID, email := decodeKeys(mem.get(e.ref))
		keys = append(keys, dkey{rank: d.ranks[e.org], org: e.org, verified: verified, created: created,
			userID: userID, email: email, ref: e.ref})
	}
	slices.SortFunc(keys, func(a, b dkey) int {
		if a.rank != b.rank {
			return cmp.Compare(a.rank, b.rank)
		}
		if c := strings.Compare(a.email, b.email); c != 0 {
			return c
		}
		return better(&a, &b)
	})
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].rank == keys[i].rank {
			j++
		}
		if err := d.org(keys[i:j], mem); err != nil {
			return err
		}
		i = j
	}
	d.keys = keys[:0]
	return nil
}

// survivor is one (org, email) group's chosen candidate.
type survivor struct {
	group    []dkey
	extID    string
	conflict int // index of the survivor keeping the external id, or -1
}

// org plans one organization's members from its candidates, sorted by email then rank.
func (d *deduper) org(keys []dkey, mem *arena) error {
	orgKey := d.dict.keys[keys[0].org]
	var survivors []survivor
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].email == keys[i].email {
			j++
		}
		var pl payload
		decodeRecord(mem.get(keys[i].ref), &pl)
		survivors = append(survivors, survivor{group: keys[i:j], extID: pl.extID, conflict: -1})
		i = j
	}
	// External ids are unique within the organization: the best-ranked member keeps a shared
	// one, the others are rejected.
	owner := make(map[string]int, len(survivors))
	for i := range survivors {
		k, taken := owner[survivors[i].extID]
		if !taken || better(&survivors[i].group[0], &survivors[k].group[0]) < 0 {
			owner[survivors[i].extID] = i
		}
	}
	for i := range survivors {
		if k := owner[survivors[i].extID]; k != i {
			survivors[i].conflict = k
		}
	}
	var merged []string
	for i := range survivors {
		s := &survivors[i]
		win := &s.group[0]
		var pl payload
		decodeRecord(mem.get(win.ref), &pl)
		losers := slices.Clone(s.group[1:])
		slices.SortFunc(losers, func(a, b dkey) int { return strings.Compare(a.userID, b.userID) })
		for k := range losers {
			if err := d.sink.duplicate(&schemas.Duplicate{OrgKey: orgKey, EmailAddress: win.email,
				SourceUserID: losers[k].userID, SurvivorUserID: win.userID,
				Rule: decidingRule(win, &losers[k])}); err != nil {
				return err
			}
		}
		if s.conflict >= 0 {
			keeper := &survivors[s.conflict].group[0]
			d.sink.reject(schemas.Reject{SourceUserID: strings.Clone(pl.userID), OrgKey: orgKey,
				Scope: scopeMembership, Reason: ReasonExternalIDConflict,
				Field: extSourceNames[pl.extSrc], RawValue: strings.Clone(pl.extID),
				Detail:         "external id kept by member from user " + strings.Clone(keeper.userID),
				SourcePosition: pl.position})
			continue
		}
		rule := RuleUnique
		if len(s.group) > 1 {
			rule = decidingRule(win, &s.group[1])
		}
		merged = merged[:0]
		for k := range losers {
			merged = append(merged, losers[k].userID)
		}
		m := memberRow(orgKey, &pl, merged, rule, d.empty)
		var pw *schemas.MemberPassword
		if e := d.pws.lookup(pl.userID, pl.email); e != nil {
			e.used.Store(true)
			m.HasPassword = true
			p := e.pw
			p.OrgKey, p.SourceUserID, p.EmailAddress, p.ExternalID, p.EmailVerified =
				orgKey, pl.userID, pl.email, pl.extID, pl.verified
			pw = &p
		}
		if err := d.sink.member(&m, pw); err != nil {
			return err
		}
		d.counts[win.org]++
	}
	return nil
}

// memberRow builds a member from its payload. Its strings alias the payload's.
// empty is the shared empty, non-null list for members without merged users or warnings (a
// zero-capacity slice: nobody can write through it).
func memberRow(orgKey string, pl *payload, merged []string, rule string, empty []string) schemas.Member {
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
	} else {
		merged = slices.Clone(merged)
	}
	return schemas.Member{
		OrgKey: orgKey, SourceUserID: pl.userID, EmailAddress: pl.email, EmailVerified: pl.verified,
		Name: pl.name, ExternalID: pl.extID, ExternalIDSource: extSourceNames[pl.extSrc], Status: status,
		MFAPhoneNumber: pl.phone, TrustedMetadata: pl.trusted, UntrustedMetadata: pl.untrusted,
		MergedUserIDs: merged, SurvivorRule: rule, Warnings: warnings,
		SourcePosition: pl.position,
	}
}
