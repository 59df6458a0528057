package transform

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/schemas/schemastest"
)

// planOut is everything one stage run wrote.
type planOut struct {
	res       *pipeline.Result
	orgs      []schemas.Organization
	members   []schemas.Member
	dups      []schemas.Duplicate
	rejects   []schemas.Reject
	passwords []schemas.MemberPassword
	// unmatched is transform/mapping_unmatched.parquet (strategy mapping).
	unmatched []schemas.UnmatchedMappingRow
}

// writeUsers writes users as extract/users.parquet in a new run directory and returns the Env.
func writeUsers(t testing.TB, users []schemas.User, opts ...schemas.WriterOption) *pipeline.Env {
	t.Helper()
	dir, err := pipeline.OpenRunDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeUsersFile(t, dir.Path(schemas.Users.Path()), users, opts...)
	return &pipeline.Env{Dir: dir, RunID: "test-run", ToolVersion: "test"}
}

func writeUsersFile(t testing.TB, path string, users []schemas.User, opts ...schemas.WriterOption) {
	t.Helper()
	schemastest.WriteFile(t, path, schemas.Users, schemas.FileMeta{ToolVersion: "test", RunID: "test-run"}, users, opts...)
}

// runPlan runs the stage with a checked allocator and reads every output back.
func runPlan(t *testing.T, cfg Config, env *pipeline.Env, opts ...Option) planOut {
	t.Helper()
	out, err := tryPlan(t, cfg, env, opts...)
	if err != nil {
		t.Fatalf("transform: %v", err)
	}
	return out
}

func tryPlan(t *testing.T, cfg Config, env *pipeline.Env, opts ...Option) (planOut, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	res, err := Run(context.Background(), cfg, env, append([]Option{WithAllocator(mem)}, opts...)...)
	if err != nil {
		return planOut{}, err
	}
	out := planOut{res: res}
	read := func(path string, fn func(string) error) {
		if err := fn(env.Dir.Path(path)); err != nil {
			t.Fatal(err)
		}
	}
	ro := schemas.WithReaderAllocator(mem)
	read(schemas.Organizations.Path(), func(p string) (err error) { out.orgs, err = schemas.ReadAll(p, schemas.Organizations, ro); return })
	read(schemas.Members.Path(), func(p string) (err error) { out.members, err = schemas.ReadAll(p, schemas.Members, ro); return })
	read(schemas.Duplicates.Path(), func(p string) (err error) { out.dups, err = schemas.ReadAll(p, schemas.Duplicates, ro); return })
	read(schemas.Rejects.Path(), func(p string) (err error) { out.rejects, err = schemas.ReadAll(p, schemas.Rejects, ro); return })
	if cfg.Passwords.HashesFile != "" {
		read(schemas.MemberPasswords.Path(), func(p string) (err error) {
			out.passwords, err = schemas.ReadAll(p, schemas.MemberPasswords, ro)
			return
		})
	}
	if cfg.Organizations.Strategy == StrategyMapping {
		read(schemas.MappingUnmatched.Path(), func(p string) (err error) {
			out.unmatched, err = schemas.ReadAll(p, schemas.MappingUnmatched, ro)
			return
		})
	}
	checkPasswordOrder(t, out.members, out.passwords)
	// The duplicates and rejects files are sorted, however many runs they were merged from.
	if !slices.IsSortedFunc(out.dups, func(a, b schemas.Duplicate) int { return compareDuplicates(&a, &b) }) {
		t.Errorf("duplicates.parquet is not sorted (details %v)", res.Details)
	}
	if !slices.IsSortedFunc(out.rejects, func(a, b schemas.Reject) int { return compareRejects(&a, &b) }) {
		t.Errorf("rejects.parquet is not sorted (details %v)", res.Details)
	}
	// Members come in input order; tests compare them in (org, email) order.
	byOrgEmail := func(a, b string, c, d string) int { return cmp.Or(strings.Compare(a, c), strings.Compare(b, d)) }
	slices.SortStableFunc(out.members, func(a, b schemas.Member) int {
		return byOrgEmail(a.OrgKey, a.EmailAddress, b.OrgKey, b.EmailAddress)
	})
	slices.SortStableFunc(out.passwords, func(a, b schemas.MemberPassword) int {
		return byOrgEmail(a.OrgKey, a.EmailAddress, b.OrgKey, b.EmailAddress)
	})
	return out, nil
}

// checkPasswordOrder checks that the password rows come in the order of their members, each
// member with a password having exactly one row: load reads the two files side by side.
func checkPasswordOrder(t *testing.T, members []schemas.Member, passwords []schemas.MemberPassword) {
	t.Helper()
	i := 0
	for _, m := range members {
		if !m.HasPassword {
			continue
		}
		if i == len(passwords) || passwords[i].OrgKey != m.OrgKey || passwords[i].SourceUserID != m.SourceUserID {
			t.Fatalf("password row %d is not the one of member %s/%s, the next member with a password", i, m.OrgKey, m.SourceUserID)
		}
		i++
	}
	if i != len(passwords) {
		t.Fatalf("%d password rows, %d members with a password", len(passwords), i)
	}
}

// baseTime is the created_at of test users unless a test sets another.
var baseTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// user builds a test user in organization orgs (metadata strategy) with one email.
func user(id, email string, verified bool, orgs ...string) schemas.User {
	md := `{"org_ids":[`
	for i, o := range orgs {
		if i > 0 {
			md += ","
		}
		md += `"` + o + `"`
	}
	md += `]}`
	return schemas.User{UserID: id, Status: "active", CreatedAt: baseTime,
		Emails:          []schemas.Email{{EmailID: "email-" + id, Email: email, Verified: verified}},
		TrustedMetadata: md, SourceFile: "users.jsonl", SourcePosition: 1}
}

// memberKeys lists "org/email/user" for each member.
func memberKeys(ms []schemas.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.OrgKey+"/"+m.EmailAddress+"/"+m.SourceUserID)
	}
	return out
}

// rejectKeys lists "user/scope/org/reason" for each reject.
func rejectKeys(rs []schemas.Reject) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.SourceUserID+"/"+r.Scope+"/"+r.OrgKey+"/"+r.Reason)
	}
	return out
}
