package transform

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// randomUsers makes n users drawn from small pools of emails, organizations and dates, so that
// duplicates, ties, conflicts and rejects are frequent.
func randomUsers(r *rand.Rand, n int) []schemas.User {
	emails := []string{"a@x.io", "A@X.IO", " a@x.io", "b@x.io", "josé@x.io", "JOSE\u0301@x.io", "c@y.org", "bad", "d@@x.io", "e@z.dev"}
	orgs := []string{"acme", "beta", "Beta", "gamma", "bad key"}
	users := make([]schemas.User, n)
	for i := range users {
		u := schemas.User{UserID: fmt.Sprintf("u%03d", r.IntN(1000)*1000+i), Status: "active",
			CreatedAt: baseTime.Add(time.Duration(r.IntN(4)) * time.Hour), SourcePosition: int64(i)}
		for range r.IntN(3) {
			u.Emails = append(u.Emails, schemas.Email{Email: emails[r.IntN(len(emails))], Verified: r.IntN(2) == 0})
		}
		var keys []string
		for range r.IntN(4) {
			keys = append(keys, `"`+orgs[r.IntN(len(orgs))]+`"`)
		}
		u.TrustedMetadata = `{"org_ids":[` + strings.Join(keys, ",") + `]}`
		if r.IntN(10) == 0 {
			u.UntrustedMetadata = metaWithKeys(21)
		}
		if r.IntN(5) == 0 {
			u.ExternalID = fmt.Sprintf("ext-%d", r.IntN(5))
		}
		if r.IntN(8) == 0 {
			u.CreatedAt = time.Time{}
		}
		users[i] = u
	}
	return users
}

// candidates counts the (user, org) memberships of users that pass the per-user rules, as the
// contract defines them, independently of the stage's own bookkeeping.
func candidates(t *testing.T, users []schemas.User) (memberships int, userRejects int) {
	p := newPlanner(DefaultConfig(), nil, nil)
	var plan userPlan
	for i := range users {
		p.plan(&users[i], &plan)
		if plan.rejected {
			userRejects++
			continue
		}
		memberships += len(plan.keys)
	}
	return
}

func TestPropertyReconcileAndOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	for iter := range 25 {
		users := randomUsers(r, 20+r.IntN(200))
		out := runPlan(t, DefaultConfig(), writeUsers(t, users))
		memberships, userRejects := candidates(t, users)
		var memberRejects, gotUserRejects int
		for _, rj := range out.rejects {
			switch rj.Scope {
			case scopeMembership:
				memberRejects++
			case scopeUser:
				gotUserRejects++
			}
		}
		if got := len(out.members) + len(out.dups) + memberRejects; got != memberships || gotUserRejects != userRejects {
			t.Fatalf("iteration %d: %d members + %d duplicates + %d membership rejects = %d, want %d; user rejects %d, want %d",
				iter, len(out.members), len(out.dups), memberRejects, got, memberships, gotUserRejects, userRejects)
		}
		seen := map[string]bool{}
		for _, m := range out.members {
			k := m.OrgKey + "\x00" + m.EmailAddress
			if seen[k] {
				t.Fatalf("iteration %d: two members for %q", iter, k)
			}
			seen[k] = true
		}
		for _, d := range out.dups {
			if !seen[d.OrgKey+"\x00"+d.EmailAddress] && !hasConflictReject(out.rejects, d) {
				t.Fatalf("iteration %d: duplicate %+v has no survivor", iter, d)
			}
		}
		// Shuffled input, other batch boundaries, one worker or spilling: the same plan.
		shuffled := append([]schemas.User(nil), users...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var opts []Option
		switch iter % 3 {
		case 1:
			opts = append(opts, WithWorkers(1))
		case 2:
			opts = append(opts, WithSpillThreshold(1))
		}
		again := runPlan(t, DefaultConfig(), writeUsers(t, shuffled, schemas.WithBatchRows(1+r.IntN(50))), opts...)
		a, b := dumps(t, out), dumps(t, again)
		for name := range a {
			if a[name] != b[name] {
				t.Fatalf("iteration %d: %s depends on the input order:\n%s\nvs\n%s", iter, name, a[name], b[name])
			}
		}
	}
}

// hasConflictReject reports whether d's survivor lost its membership to an external-id conflict.
func hasConflictReject(rs []schemas.Reject, d schemas.Duplicate) bool {
	for _, r := range rs {
		if r.SourceUserID == d.SurvivorUserID && r.OrgKey == d.OrgKey && r.Reason == ReasonExternalIDConflict {
			return true
		}
	}
	return false
}
