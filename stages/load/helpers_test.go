package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/schemas/schemastest"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// plan is a generated transform output.
type plan struct {
	orgs      []schemas.Organization
	members   []schemas.Member
	passwords []schemas.MemberPassword
}

// genPlan makes nMembers members spread over nOrgs organizations, with a mix of pending members,
// MFA phones, metadata, unverified emails and password hashes.
func genPlan(nOrgs, nMembers int) plan {
	var p plan
	for i := range nOrgs {
		o := schemas.Organization{
			OrgKey: fmt.Sprintf("org-%04d", i), Name: fmt.Sprintf("Org %d", i), Slug: fmt.Sprintf("org-%04d", i),
			ExternalID: fmt.Sprintf("org-%04d", i), SlugSource: "derived", MemberCount: int64(nMembers / nOrgs),
			EmailAllowedDomains: []string{fmt.Sprintf("org%d.example.com", i)},
		}
		if i%3 == 0 {
			o.TrustedMetadata = fmt.Sprintf(`{"tier":"gold","n":%d}`, i)
			o.MFAPolicy = "OPTIONAL"
		}
		p.orgs = append(p.orgs, o)
	}
	for j := range nMembers {
		org := &p.orgs[j%nOrgs]
		m := schemas.Member{
			OrgKey: org.OrgKey, SourceUserID: fmt.Sprintf("user-%07d", j),
			EmailAddress:  fmt.Sprintf("u%07d@org%d.example.com", j, j%nOrgs),
			EmailVerified: j%5 != 0, Name: fmt.Sprintf("User %d", j), ExternalID: fmt.Sprintf("ext-%07d", j),
			ExternalIDSource: "user_id", Status: "active", SurvivorRule: "unique",
			TrustedMetadata: fmt.Sprintf(`{"n":%d}`, j), SourcePosition: int64(j),
		}
		if j%10 == 1 {
			m.Status = "pending"
		}
		if j%7 == 0 {
			m.MFAPhoneNumber = fmt.Sprintf("+1555%07d", j)
		}
		if j%3 == 0 {
			m.UntrustedMetadata = `{"theme":"dark"}`
		}
		if j%4 == 0 {
			m.HasPassword = true
			p.passwords = append(p.passwords, schemas.MemberPassword{
				OrgKey: m.OrgKey, SourceUserID: m.SourceUserID, EmailAddress: m.EmailAddress, ExternalID: m.ExternalID,
				EmailVerified: m.EmailVerified, HashType: "bcrypt",
				Hash: fmt.Sprintf("$2a$10$SECRETHASH%07dabcdefghijklmnopqrstuvwxyz0123456789", j),
			})
		}
		p.members = append(p.members, m)
	}
	return p
}

// writeFile writes rows to the run directory's file for spec.
func writeFile[T any](t testing.TB, dir *pipeline.RunDir, spec *schemas.Spec[T], rows []T, opts ...schemas.WriterOption) {
	t.Helper()
	schemastest.WriteFile(t, dir.Path(spec.Path()), spec, schemas.FileMeta{ToolVersion: "test", RunID: "run-test"}, rows, opts...)
}

// writePlan writes p as transform's outputs in a fresh run directory.
func writePlan(t testing.TB, root string, p plan) *pipeline.RunDir {
	t.Helper()
	dir, err := pipeline.OpenRunDir(root)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, schemas.Organizations, p.orgs)
	writeFile(t, dir, schemas.Members, p.members)
	if len(p.passwords) > 0 {
		writeFile(t, dir, schemas.MemberPasswords, p.passwords)
	}
	return dir
}

// startEmulator starts a stytchtest server on loopback.
func startEmulator(t testing.TB, opts ...stytchtest.Option) *stytchtest.Server {
	t.Helper()
	srv := stytchtest.NewServer(opts...)
	if err := srv.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// fastConfig is a load config for tests: no client-side limit worth mentioning, quick flushes.
func fastConfig() Config {
	return Config{Rate: 50000, Burst: 500, Concurrency: 32, FlushRows: 500, FlushInterval: 200e6, MaxAttempts: 8}
}

// newClient returns a load client for the emulator.
func newClient(t testing.TB, srv *stytchtest.Server, cfg Config) *Client {
	t.Helper()
	c, err := NewClient(srv.B2BConfig(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testEnv returns an Env for dir that logs into buf.
func testEnv(dir *pipeline.RunDir, buf *bytes.Buffer) *pipeline.Env {
	var logger *slog.Logger
	if buf != nil {
		logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &pipeline.Env{Dir: dir, RunID: "run-test", ToolVersion: "test", Logger: logger}
}

// checkedOpts returns stage options using a checked allocator, and the allocator.
func checkedOpts() (*memory.CheckedAllocator, []Option) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	return mem, []Option{WithReaderOptions(schemas.WithReaderAllocator(mem)),
		WithWriterOptions(schemas.WithWriterAllocator(mem))}
}

// runLoad runs the load stage on dir against srv.
func runLoad(t testing.TB, dir *pipeline.RunDir, srv *stytchtest.Server, cfg Config, opts ...Option) (*pipeline.Result, error) {
	t.Helper()
	mem, copts := checkedOpts()
	defer mem.AssertSize(t, 0)
	st := New(cfg, newClient(t, srv, cfg), append(copts, opts...)...)
	return st.Run(context.Background(), testEnv(dir, nil))
}

// canonJSON re-encodes JSON text canonically ("" and "null" and "{}" are all empty).
func canonJSON(t testing.TB, s []byte) string {
	t.Helper()
	if len(bytes.TrimSpace(s)) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(s, &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 || v == nil {
		return ""
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// memberIndex keys a snapshot's members by (organization external id, email).
type memberIndex map[[2]string]stytchtest.MemberState

func indexMembers(st stytchtest.State) memberIndex {
	idx := memberIndex{}
	for _, o := range st.Organizations {
		for _, m := range o.Members {
			idx[[2]string{o.Organization.OrganizationExternalID, m.Member.EmailAddress}] = m
		}
	}
	return idx
}

// checkStateMatchesPlan asserts that the emulator holds exactly the plan: every organization
// with its settings and every member with its fields and password, and nothing else besides
// extra (organization external id → number of pre-existing members to allow).
func checkStateMatchesPlan(t testing.TB, srv *stytchtest.Server, p plan, extraMembers int) {
	t.Helper()
	st := srv.Snapshot()
	planned := 0
	for _, o := range p.orgs {
		got, ok := st.Organization(o.ExternalID)
		if !ok {
			t.Errorf("organization %s missing", o.ExternalID)
			continue
		}
		g := got.Organization
		if g.OrganizationExternalID != o.ExternalID || g.OrganizationName != o.Name || g.OrganizationSlug != o.Slug {
			t.Errorf("organization %s: got %q/%q/%q", o.ExternalID, g.OrganizationExternalID, g.OrganizationName, g.OrganizationSlug)
		}
		if fmt.Sprint(g.EmailAllowedDomains) != fmt.Sprint(o.EmailAllowedDomains) {
			t.Errorf("organization %s: allowed domains %v, want %v", o.ExternalID, g.EmailAllowedDomains, o.EmailAllowedDomains)
		}
		if canonJSON(t, g.TrustedMetadata) != canonJSON(t, []byte(o.TrustedMetadata)) {
			t.Errorf("organization %s: metadata %s, want %s", o.ExternalID, g.TrustedMetadata, o.TrustedMetadata)
		}
		if o.MFAPolicy != "" && g.MFAPolicy != o.MFAPolicy {
			t.Errorf("organization %s: mfa policy %q, want %q", o.ExternalID, g.MFAPolicy, o.MFAPolicy)
		}
	}
	pw := map[[2]string]schemas.MemberPassword{}
	for _, x := range p.passwords {
		pw[[2]string{x.OrgKey, x.SourceUserID}] = x
	}
	idx := indexMembers(st)
	bad := 0
	for _, m := range p.members {
		planned++
		got, ok := idx[[2]string{m.OrgKey, m.EmailAddress}]
		if !ok {
			if bad++; bad < 10 {
				t.Errorf("member %s/%s missing", m.OrgKey, m.EmailAddress)
			}
			continue
		}
		g := got.Member
		wantStatus := m.Status
		errs := ""
		if g.ExternalID != m.ExternalID {
			errs += fmt.Sprintf(" external id %q", g.ExternalID)
		}
		if g.Name != m.Name {
			errs += fmt.Sprintf(" name %q", g.Name)
		}
		if g.Status != wantStatus {
			errs += fmt.Sprintf(" status %q (want %q)", g.Status, wantStatus)
		}
		if g.MFAPhoneNumber != m.MFAPhoneNumber {
			errs += fmt.Sprintf(" phone %q", g.MFAPhoneNumber)
		}
		if canonJSON(t, g.TrustedMetadata) != canonJSON(t, []byte(m.TrustedMetadata)) ||
			canonJSON(t, g.UntrustedMetadata) != canonJSON(t, []byte(m.UntrustedMetadata)) {
			errs += fmt.Sprintf(" metadata %s %s", g.TrustedMetadata, g.UntrustedMetadata)
		}
		x, has := pw[[2]string{m.OrgKey, m.SourceUserID}]
		switch {
		case has && m.EmailVerified:
			if got.PasswordFingerprint != stytchtest.Fingerprint(x.Hash) || got.PasswordHashType != x.HashType {
				errs += " password not migrated"
			}
		case got.PasswordFingerprint != "":
			errs += " unexpected password"
		}
		if errs != "" {
			if bad++; bad < 10 {
				t.Errorf("member %s/%s:%s", m.OrgKey, m.EmailAddress, errs)
			}
		}
	}
	if n := st.MemberCount(); n != planned+extraMembers {
		t.Errorf("emulator holds %d members, want %d planned + %d pre-existing", n, planned, extraMembers)
	}
	if bad > 0 {
		t.Errorf("%d members differ from the plan", bad)
	}
}

// readResults reads load/members.parquet keyed by (org key, source user).
func readResults(t testing.TB, dir *pipeline.RunDir, rel string) map[[2]string]schemas.MemberResult {
	t.Helper()
	rows, err := schemas.ReadAll(dir.Path(rel), schemas.MemberResults)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[[2]string]schemas.MemberResult, len(rows))
	for _, r := range rows {
		k := [2]string{r.OrgKey, r.SourceUserID}
		if _, dup := out[k]; dup {
			t.Errorf("results list %v twice", k)
		}
		out[k] = r
	}
	return out
}

// writeRoutes sums the emulator's request counts of write routes.
func writeRoutes(st stytchtest.Stats) int64 {
	var n int64
	for k, v := range st.Requests {
		if len(k) > 4 && (k[:4] == "POST" && k != "POST /v1/b2b/organizations/search" &&
			k != "POST /v1/b2b/organizations/members/search" && k != "POST /v1/users/search" ||
			k[:3] == "PUT" || k[:6] == "DELETE") {
			n += v
		}
	}
	return n
}

const routeCreateMember = "POST /v1/b2b/organizations/{organization_id}/members"
const routeMigrate = "POST /v1/b2b/passwords/migrate"

// copyFile copies src over dst.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
