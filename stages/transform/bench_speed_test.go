package transform

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchEmails returns addresses shaped like the benchmark generator's: mostly lower-case ASCII,
// some with a capital first letter or an "alt" prefix, a few invalid, and a few non-ASCII ones.
func benchEmails() []string {
	r := rand.New(rand.NewPCG(7, 8))
	first := []string{"ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "john"}
	last := []string{"lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "backus"}
	domains := []string{"gmail.com", "acme.io", "example.com", "corp.example.org", "mail.beta.co.uk"}
	out := make([]string, 1024)
	for i := range out {
		e := fmt.Sprintf("%s.%s%d@%s", first[r.IntN(len(first))], last[r.IntN(len(last))], r.IntN(1_000_000), domains[r.IntN(len(domains))])
		switch x := r.IntN(200); {
		case x < 1:
			e = "not-an-email"
		case x < 3:
			e = "Zoë." + e
		case x < 13:
			e = strings.ToUpper(e[:1]) + e[1:]
		case x < 33:
			e = "alt" + e
		}
		out[i] = e
	}
	return out
}

// benchMetadata returns trusted and untrusted metadata shaped like the benchmark generator's.
func benchMetadata() []string {
	r := rand.New(rand.NewPCG(9, 10))
	plans := []string{"free", "pro", "enterprise"}
	out := make([]string, 1024)
	for i := range out {
		if i%3 == 2 {
			out[i] = fmt.Sprintf(`{"theme":%q,"locale":"en-US","onboarding":{"step":%d,"done":%t}}`,
				[]string{"dark", "light"}[r.IntN(2)], r.IntN(8), r.IntN(2) == 0)
			continue
		}
		var md strings.Builder
		md.WriteString(`{"org_ids":[`)
		for k := range 1 + r.IntN(3) {
			if k > 0 {
				md.WriteByte(',')
			}
			fmt.Fprintf(&md, `"org-%d"`, r.IntN(5000))
		}
		fmt.Fprintf(&md, `],"plan":%q,"seats":%d,"region":"eu-west-%d","signup":{"source":"campaign-%d","at":"2024-0%d-1%dT10:00:00Z"}}`,
			plans[r.IntN(len(plans))], r.IntN(500), r.IntN(3), r.IntN(1000), 1+r.IntN(9), r.IntN(10))
		out[i] = md.String()
	}
	return out
}

// BenchmarkNormalizeEmail measures one normalizeEmail call on generator-like addresses.
func BenchmarkNormalizeEmail(b *testing.B) {
	in := benchEmails()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		normalizeEmail(in[i%len(in)])
	}
}

// BenchmarkScanMetadata measures one scanMetadata call on generator-like metadata.
func BenchmarkScanMetadata(b *testing.B) {
	in := benchMetadata()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := scanMetadata(in[i%len(in)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTallyAdd measures one tally.add of a generator-like user id and org key.
func BenchmarkTallyAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	users := make([]string, 1024)
	orgs := make([]string, len(users))
	for i := range users {
		users[i] = randomUserID(r)
		if i%2 == 0 {
			orgs[i] = fmt.Sprintf("org-%d", r.IntN(5000))
		}
	}
	var t tally
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(users)
		t.add(users[k], orgs[k])
	}
	if t.n != int64(b.N) {
		b.Fatal("lost adds")
	}
}

// BenchmarkStringDict measures the dictionary as the stage uses it: insert adds 1M distinct
// password owners (Stytch user ids, all the same length) from empty, as readHashFile does;
// intern looks up organization keys already added, as the scan does for every membership.
func BenchmarkStringDict(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	owners := make([]string, 1_000_000)
	for i := range owners {
		owners[i] = "u" + randomUserID(r)
	}
	b.Run("insert", func(b *testing.B) {
		for b.Loop() {
			d := newStringDict()
			for _, k := range owners {
				d.insert(k)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(owners)), "ns/key")
	})
	orgs := make([]string, 50_000)
	d := newStringDict()
	for i := range orgs {
		orgs[i] = fmt.Sprintf("org-%d", i)
		d.intern(orgs[i])
	}
	b.Run("intern", func(b *testing.B) {
		i := 0
		for b.Loop() {
			d.intern(orgs[i%len(orgs)])
			i += 7919
		}
	})
}

// BenchmarkValidExternalID measures the external-id check on random Stytch user ids, the
// default external id of every user.
func BenchmarkValidExternalID(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 16))
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = randomUserID(r)
	}
	i := 0
	for b.Loop() {
		if !validExternalID(ids[i%len(ids)]) {
			b.Fatal("refused a user id")
		}
		i++
	}
}
