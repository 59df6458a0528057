package transform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// withMeta returns u with trusted and untrusted metadata replaced.
func withMeta(u schemas.User, trusted, untrusted string) schemas.User {
	u.TrustedMetadata, u.UntrustedMetadata = trusted, untrusted
	return u
}

func TestUserRejects(t *testing.T) {
	big := `{"org_ids":["acme"],"k":"` + strings.Repeat("x", 4096) + `"}`
	fits := metaOfLen(4096)
	fitsWithOrg := `{"org_ids":["acme"],"k":"` + strings.Repeat("x", 4096-len(`{"org_ids":["acme"],"k":""}`)) + `"}`
	tooLongWithOrg := strings.Replace(fitsWithOrg, `"k":"`, `"k":"x`, 1)
	keys20 := strings.Replace(metaWithKeys(19), "{", `{"org_ids":"acme",`, 1)
	keys21 := strings.Replace(metaWithKeys(20), "{", `{"org_ids":"acme",`, 1)
	noEmail := user("u", "a@x.io", true, "acme")
	noEmail.Emails = nil
	tests := []struct {
		name   string
		u      schemas.User
		reason string // "" means the user is planned
		field  string
	}{
		{"valid", user("u", "a@x.io", true, "acme"), "", ""},
		{"no email", noEmail, ReasonNoEmail, "emails"},
		{"no email beats too-large metadata", withMeta(noEmail, big, ""), ReasonNoEmail, "emails"},
		{"invalid email", user("u", "a@b@x.io", true, "acme"), ReasonInvalidEmail, "emails[0].email"},
		{"invalid email beats no organization", user("u", "nope", true), ReasonInvalidEmail, "emails[0].email"},
		{"no organization (empty list)", user("u", "a@x.io", true), ReasonNoOrganization, "trusted_metadata.org_ids"},
		{"no organization (no metadata)", withMeta(user("u", "a@x.io", true), "", ""), ReasonNoOrganization, "trusted_metadata.org_ids"},
		{"no organization (null)", withMeta(user("u", "a@x.io", true), `{"org_ids":null}`, ""), ReasonNoOrganization, "trusted_metadata.org_ids"},
		{"no organization (object)", withMeta(user("u", "a@x.io", true), `{"org_ids":{"a":1}}`, ""), ReasonNoOrganization, "trusted_metadata.org_ids"},
		{"no organization beats too large", withMeta(user("u", "a@x.io", true), `{"k":"`+strings.Repeat("x", 5000)+`"}`, ""), ReasonNoOrganization, "trusted_metadata.org_ids"},
		{"trusted 4096 bytes", withMeta(user("u", "a@x.io", true), fitsWithOrg, ""), "", ""},
		{"trusted 4097 bytes", withMeta(user("u", "a@x.io", true), tooLongWithOrg, ""), ReasonMetadataTooLarge, "trusted_metadata"},
		{"untrusted 4096 bytes", withMeta(user("u", "a@x.io", true, "acme"), `{"org_ids":"acme"}`, fits), "", ""},
		{"untrusted 4097 bytes", withMeta(user("u", "a@x.io", true, "acme"), `{"org_ids":"acme"}`, metaOfLen(4097)), ReasonMetadataTooLarge, "untrusted_metadata"},
		{"20 keys", withMeta(user("u", "a@x.io", true), keys20, ""), "", ""},
		{"21 keys", withMeta(user("u", "a@x.io", true), keys21, ""), ReasonMetadataTooLarge, "trusted_metadata"},
		{"untrusted 21 keys", withMeta(user("u", "a@x.io", true, "acme"), `{"org_ids":"acme"}`, metaWithKeys(21)), ReasonMetadataTooLarge, "untrusted_metadata"},
		{"malformed metadata", withMeta(user("u", "a@x.io", true), `{"org_ids":["acme"]`, ""), ReasonInvalidMetadata, "trusted_metadata"},
		{"external id with a space", func() schemas.User { u := user("u", "a@x.io", true, "acme"); u.ExternalID = "a b"; return u }(), ReasonInvalidExternalID, "external_id"},
		{"external id 128 chars", func() schemas.User {
			u := user("u", "a@x.io", true, "acme")
			u.ExternalID = strings.Repeat("e", 128)
			return u
		}(), "", ""},
		{"external id 129 chars", func() schemas.User {
			u := user("u", "a@x.io", true, "acme")
			u.ExternalID = strings.Repeat("e", 129)
			return u
		}(), ReasonInvalidExternalID, "external_id"},
		{"user id as external id with a bad character", user("user/1", "a@x.io", true, "acme"), ReasonInvalidExternalID, "user_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := runPlan(t, DefaultConfig(), writeUsers(t, []schemas.User{tc.u}))
			if tc.reason == "" {
				if len(out.rejects) != 0 || len(out.members) != 1 {
					t.Fatalf("want one member, got members %v rejects %+v", memberKeys(out.members), out.rejects)
				}
				return
			}
			if len(out.rejects) != 1 || len(out.members) != 0 {
				t.Fatalf("want one reject, got members %v rejects %+v", memberKeys(out.members), out.rejects)
			}
			r := out.rejects[0]
			if r.Reason != tc.reason || r.Scope != scopeUser || r.Field != tc.field || r.SourceUserID != tc.u.UserID {
				t.Fatalf("reject = %+v, want reason %s field %s", r, tc.reason, tc.field)
			}
			if !out.res.Partial || out.res.Counts[countRejectPrefix+tc.reason] != 1 {
				t.Fatalf("result = %+v", out.res)
			}
		})
	}
}

func TestDropUntrusted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Members.OversizedMetadata = OversizedDropUntrusted
	users := []schemas.User{
		withMeta(user("u1", "a@x.io", true), `{"org_ids":"acme"}`, metaOfLen(4097)),
		withMeta(user("u2", "b@x.io", true), `{"org_ids":"acme","k":"`+strings.Repeat("x", 4100)+`"}`, ""),
	}
	out := runPlan(t, cfg, writeUsers(t, users))
	if len(out.members) != 1 || out.members[0].UntrustedMetadata != "" || !slices.Equal(out.members[0].Warnings, []string{"untrusted_metadata_dropped"}) {
		t.Fatalf("members = %+v", out.members)
	}
	if got := rejectKeys(out.rejects); !slices.Equal(got, []string{"u2/user//metadata_too_large"}) {
		t.Fatalf("rejects = %v", got)
	}
}

func TestDedupe(t *testing.T) {
	at := func(u schemas.User, d time.Duration) schemas.User { u.CreatedAt = baseTime.Add(d); return u }
	tests := []struct {
		name     string
		users    []schemas.User
		members  []string
		dups     []string // "org/user->survivor:rule"
		rule     string   // survivor_rule of the first member
		mergedOf []string // merged_user_ids of the first member
	}{
		{"verified beats earlier and smaller id",
			[]schemas.User{at(user("u1", "a@x.io", false, "acme"), -time.Hour), at(user("u2", "A@X.IO", true, "acme"), 0)},
			[]string{"acme/a@x.io/u2"}, []string{"acme/u1->u2:verified"}, RuleVerified, []string{"u1"}},
		{"earlier beats smaller id",
			[]schemas.User{at(user("u1", "a@x.io", true, "acme"), time.Hour), at(user("u2", " a@x.io ", true, "acme"), 0)},
			[]string{"acme/a@x.io/u2"}, []string{"acme/u1->u2:earliest_created_at"}, RuleEarliestCreatedAt, []string{"u1"}},
		{"smaller id breaks the tie (byte order)",
			[]schemas.User{user("u2", "a@x.io", true, "acme"), user("U9", "a@x.io", true, "acme"), user("u10", "a@x.io", true, "acme")},
			[]string{"acme/a@x.io/U9"}, []string{"acme/u10->U9:smallest_user_id", "acme/u2->U9:smallest_user_id"}, RuleSmallestUserID, []string{"u10", "u2"}},
		{"missing created_at loses to any date",
			[]schemas.User{at(user("u1", "a@x.io", true, "acme"), 24*time.Hour), func() schemas.User { u := user("u0", "a@x.io", true, "acme"); u.CreatedAt = time.Time{}; return u }()},
			[]string{"acme/a@x.io/u1"}, []string{"acme/u0->u1:earliest_created_at"}, RuleEarliestCreatedAt, []string{"u0"}},
		{"same email in two orgs is two members",
			[]schemas.User{user("u1", "a@x.io", true, "acme"), user("u2", "a@x.io", true, "beta")},
			[]string{"acme/a@x.io/u1", "beta/a@x.io/u2"}, nil, RuleUnique, []string{}},
		{"org listed twice is one membership",
			[]schemas.User{user("u1", "a@x.io", true, "acme", "acme", "beta", "acme")},
			[]string{"acme/a@x.io/u1", "beta/a@x.io/u1"}, nil, RuleUnique, []string{}},
		{"keys are case-sensitive",
			[]schemas.User{user("u1", "a@x.io", true, "acme", "Acme")},
			[]string{"Acme/a@x.io/u1", "acme/a@x.io/u1"}, nil, RuleUnique, []string{}},
		{"Unicode emails dedupe after NFC and lower-casing",
			[]schemas.User{user("u1", "JOSE\u0301@X.IO", false, "acme"), user("u2", "josé@x.io", true, "acme")},
			[]string{"acme/josé@x.io/u2"}, []string{"acme/u1->u2:verified"}, RuleVerified, []string{"u1"}},
		{"survivor rule is against the runner-up",
			[]schemas.User{at(user("u1", "a@x.io", true, "acme"), 0), at(user("u2", "a@x.io", true, "acme"), time.Hour), at(user("u3", "a@x.io", false, "acme"), -time.Hour)},
			[]string{"acme/a@x.io/u1"}, []string{"acme/u2->u1:earliest_created_at", "acme/u3->u1:verified"}, RuleEarliestCreatedAt, []string{"u2", "u3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := runPlan(t, DefaultConfig(), writeUsers(t, tc.users))
			if got := memberKeys(out.members); !slices.Equal(got, tc.members) {
				t.Fatalf("members = %v, want %v", got, tc.members)
			}
			var dups []string
			for _, d := range out.dups {
				dups = append(dups, d.OrgKey+"/"+d.SourceUserID+"->"+d.SurvivorUserID+":"+d.Rule)
			}
			if !slices.Equal(dups, tc.dups) {
				t.Fatalf("duplicates = %v, want %v", dups, tc.dups)
			}
			m := out.members[0]
			if m.SurvivorRule != tc.rule || !slices.Equal(m.MergedUserIDs, tc.mergedOf) {
				t.Fatalf("member rule %q merged %q, want %q %q", m.SurvivorRule, m.MergedUserIDs, tc.rule, tc.mergedOf)
			}
		})
	}
}

func TestMemberFields(t *testing.T) {
	u := user("user-1", " Zoë@Example.com ", true, "acme")
	u.FirstName, u.MiddleName, u.LastName = " Zoë ", "", "Müller-Lüdenscheidt "
	u.Status = "pending"
	u.ExternalID = "crm.42"
	u.PhoneNumbers = []schemas.PhoneNumber{{PhoneNumber: "+15551234567", Verified: false}, {PhoneNumber: "+4930123456", Verified: true}}
	u.UntrustedMetadata = `{"theme": "dark"}`
	u.SourcePosition = 7
	u2 := user("user-2", "x@example.com", true, "acme")
	u2.PhoneNumbers = []schemas.PhoneNumber{{PhoneNumber: "030 123", Verified: true}}
	out := runPlan(t, DefaultConfig(), writeUsers(t, []schemas.User{u, u2}))
	m := out.members[1]
	want := schemas.Member{OrgKey: "acme", SourceUserID: "user-1", EmailAddress: "zoë@example.com", EmailVerified: true,
		Name: "Zoë Müller-Lüdenscheidt", ExternalID: "crm.42", ExternalIDSource: "external_id", Status: "pending",
		MFAPhoneNumber: "+4930123456", TrustedMetadata: u.TrustedMetadata, UntrustedMetadata: `{"theme": "dark"}`,
		MergedUserIDs: []string{}, SurvivorRule: RuleUnique, Warnings: []string{}, SourcePosition: 7}
	if !equalMember(m, want) {
		t.Fatalf("member =\n%+v\nwant\n%+v", m, want)
	}
	m2 := out.members[0]
	if m2.MFAPhoneNumber != "" || !slices.Equal(m2.Warnings, []string{"mfa_phone_not_e164"}) || m2.ExternalID != "user-2" || m2.ExternalIDSource != "user_id" || m2.Status != "active" {
		t.Fatalf("member 2 = %+v", m2)
	}
	cfg := DefaultConfig()
	off := false
	cfg.Members.MFAPhoneFromVerifiedPhone = &off
	out = runPlan(t, cfg, writeUsers(t, []schemas.User{u}))
	if out.members[0].MFAPhoneNumber != "" {
		t.Fatalf("MFA phone set although disabled: %+v", out.members[0])
	}
}

func equalMember(a, b schemas.Member) bool {
	return reflect.DeepEqual(a, b)
}

func TestExternalIDs(t *testing.T) {
	withExt := func(u schemas.User, ext string) schemas.User { u.ExternalID = ext; return u }
	early := func(u schemas.User) schemas.User { u.CreatedAt = baseTime.Add(-time.Hour); return u }
	t.Run("conflict: best-ranked member keeps the id", func(t *testing.T) {
		users := []schemas.User{
			withExt(user("u1", "a@x.io", false, "acme"), "shared"),
			withExt(user("u2", "b@x.io", true, "acme"), "shared"),
			early(withExt(user("u3", "c@x.io", true, "acme"), "shared")),
			withExt(user("u4", "d@x.io", true, "beta"), "shared"),
			user("shared", "e@x.io", false, "beta"),
		}
		out := runPlan(t, DefaultConfig(), writeUsers(t, users))
		if got := memberKeys(out.members); !slices.Equal(got, []string{"acme/c@x.io/u3", "beta/d@x.io/u4"}) {
			t.Fatalf("members = %v", got)
		}
		want := []string{"shared/membership/beta/external_id_conflict", "u1/membership/acme/external_id_conflict", "u2/membership/acme/external_id_conflict"}
		if got := rejectKeys(out.rejects); !slices.Equal(got, want) {
			t.Fatalf("rejects = %v, want %v", got, want)
		}
		if r := out.rejects[1]; r.RawValue != "shared" || r.Detail != "external id kept by member from user u3" {
			t.Fatalf("reject = %+v", r)
		}
	})
	t.Run("from trusted metadata", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Members.ExternalID = "trusted_metadata.crm.id"
		users := []schemas.User{
			withMeta(user("u1", "a@x.io", true), `{"org_ids":"acme","crm":{"id":"CRM-1"}}`, ""),
			withMeta(withExt(user("u2", "b@x.io", true), "ext-2"), `{"org_ids":"acme"}`, ""),
			withMeta(user("u3", "c@x.io", true), `{"org_ids":"acme","crm":{"id":17}}`, ""),
			withMeta(user("u4", "d@x.io", true), `{"org_ids":"acme","crm":{"id":"has space"}}`, ""),
			withMeta(user("u5", "e@x.io", true), `{"org_ids":"acme","crm":{"id":["x"]}}`, ""),
		}
		out := runPlan(t, cfg, writeUsers(t, users))
		var got []string
		for _, m := range out.members {
			got = append(got, m.ExternalID+":"+m.ExternalIDSource)
		}
		if want := []string{"CRM-1:metadata", "ext-2:external_id", "17:metadata"}; !slices.Equal(got, want) {
			t.Fatalf("external ids = %v, want %v", got, want)
		}
		if got := rejectKeys(out.rejects); !slices.Equal(got, []string{"u4/user//invalid_external_id", "u5/user//invalid_external_id"}) {
			t.Fatalf("rejects = %v", got)
		}
	})
}

// writeFile writes content to name in a new temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOrganizationsFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Organizations.File = writeFile(t, "orgs.csv", "\ufeffOrg_Key,name,slug,allowed_domains,notes\n"+
		"acme,Acme Corp,,acme.io; ACME.com ;,ignored\n"+
		"beta,Acme  Corp,,,\n"+
		"gamma,Gamma,acme-corp,,\n"+
		"empty,,,,\n")
	cfg.Organizations.Defaults = OrganizationDefaults{AuthMethods: "RESTRICTED", AllowedAuthMethods: []string{"magic_link", "password"},
		EmailJITProvisioning: "RESTRICTED", EmailInvites: "ALL_ALLOWED", MFAPolicy: "OPTIONAL"}
	users := []schemas.User{user("u1", "a@x.io", true, "acme", "nope"), user("u2", "b@x.io", true, "missing")}
	out := runPlan(t, cfg, writeUsers(t, users))
	if got := memberKeys(out.members); !slices.Equal(got, []string{"acme/a@x.io/u1"}) {
		t.Fatalf("members = %v", got)
	}
	if got := rejectKeys(out.rejects); !slices.Equal(got, []string{"u1/membership/nope/unknown_organization", "u2/membership/missing/unknown_organization"}) {
		t.Fatalf("rejects = %v", got)
	}
	var got []string
	for _, o := range out.orgs {
		got = append(got, strings.Join([]string{o.OrgKey, o.Name, o.Slug, o.SlugSource, o.ExternalID, strings.Join(o.EmailAllowedDomains, ";")}, "|"))
	}
	want := []string{
		"acme|Acme Corp|acme-corp-2|derived_unique|acme|acme.io;acme.com",
		"beta|Acme  Corp|acme-corp-3|derived_unique|beta|",
		"empty|empty|empty|derived|empty|",
		"gamma|Gamma|acme-corp|file|gamma|",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("organizations =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	o := out.orgs[0]
	if o.MemberCount != 1 || o.AuthMethods != "RESTRICTED" || !slices.Equal(o.AllowedAuthMethods, []string{"magic_link", "password"}) ||
		o.EmailJITProvisioning != "RESTRICTED" || o.EmailInvites != "ALL_ALLOWED" || o.MFAPolicy != "OPTIONAL" || out.orgs[1].MemberCount != 0 {
		t.Fatalf("org = %+v", o)
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		name, file, content, want string
		set                       func(*Config, string)
	}{
		{"no org_key column", "orgs.csv", "key,name\na,b\n", "orgs.csv: line 1: no \"org_key\" column", func(c *Config, p string) { c.Organizations.File = p }},
		{"duplicate key", "orgs.csv", "org_key,name\na,A\nb,B\na,C\n", "orgs.csv: line 4, column 1 (org_key): org_key \"a\" already on line 2", func(c *Config, p string) { c.Organizations.File = p }},
		{"bad slug", "orgs.csv", "org_key,slug\na,x\n", "orgs.csv: line 2, column 3 (slug): slug \"x\" must be 2-128 characters", func(c *Config, p string) { c.Organizations.File = p }},
		{"duplicate slug", "orgs.csv", "org_key,slug\na,Same\nb,same\n", "line 3, column 3 (slug): slug \"same\" already on line 2", func(c *Config, p string) { c.Organizations.File = p }},
		{"bad key", "orgs.csv", "org_key\nhas space\n", "line 2, column 1 (org_key)", func(c *Config, p string) { c.Organizations.File = p }},
		{"ragged row", "orgs.csv", "org_key,name\na\n", "orgs.csv: record on line 2: wrong number of fields", func(c *Config, p string) { c.Organizations.File = p }},
		{"bad quote", "orgs.csv", "org_key,name\na,\"b\n", "orgs.csv: parse error on line 2, column 6", func(c *Config, p string) { c.Organizations.File = p }},
		{"mapping without owner column", "map.csv", "org_key\na\n", "needs a user_id or email column", func(c *Config, p string) {
			c.Organizations.Strategy, c.Organizations.MappingFile = StrategyMapping, p
		}},
		{"mapping with bad email", "map.csv", "email,org_key\nnot-an-email,a\n", "map.csv: line 2, column 1 (email): invalid email", func(c *Config, p string) {
			c.Organizations.Strategy, c.Organizations.MappingFile = StrategyMapping, p
		}},
		{"hashes without hash column", "hashes.csv", "user_id,hash_type\nu,bcrypt\n", "no \"hash\" column", func(c *Config, p string) { c.Passwords.HashesFile = p }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			p := writeFile(t, tc.file, tc.content)
			tc.set(&cfg, p)
			env := writeUsers(t, []schemas.User{user("u1", "a@x.io", true, "a")})
			_, err := tryPlan(t, cfg, env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if pipeline.ExitCode(err) != pipeline.ExitConfig {
				t.Fatalf("exit code %d", pipeline.ExitCode(err))
			}
			if _, err := os.Stat(env.Dir.Path(schemas.Members.Path())); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("members file written after an error: %v", err)
			}
		})
	}
}

func TestStrategies(t *testing.T) {
	users := []schemas.User{
		user("u1", "ada@Acme.io", true), user("u2", "bob@gmail.com", true), user("u3", "cy@beta.dev", false),
		user("u4", "dee@acme.io", true),
	}
	tests := []struct {
		name    string
		set     func(*Config)
		members []string
		rejects []string
	}{
		{"email_domain rejects personal", func(c *Config) { c.Organizations.Strategy = StrategyEmailDomain },
			[]string{"acme.io/ada@acme.io/u1", "acme.io/dee@acme.io/u4", "beta.dev/cy@beta.dev/u3"}, []string{"u2/user//no_organization"}},
		{"email_domain personal organization", func(c *Config) {
			c.Organizations.Strategy, c.Organizations.PersonalEmails = StrategyEmailDomain, PersonalOrganization
		}, []string{"acme.io/ada@acme.io/u1", "acme.io/dee@acme.io/u4", "beta.dev/cy@beta.dev/u3", "personal/bob@gmail.com/u2"}, nil},
		{"email_domain no personal domains", func(c *Config) {
			c.Organizations.Strategy, c.Organizations.PersonalDomains = StrategyEmailDomain, []string{}
		}, []string{"acme.io/ada@acme.io/u1", "acme.io/dee@acme.io/u4", "beta.dev/cy@beta.dev/u3", "gmail.com/bob@gmail.com/u2"}, nil},
		{"single", func(c *Config) { c.Organizations.Strategy, c.Organizations.Key = StrategySingle, "all" },
			[]string{"all/ada@acme.io/u1", "all/bob@gmail.com/u2", "all/cy@beta.dev/u3", "all/dee@acme.io/u4"}, nil},
		{"mapping", func(c *Config) {
			c.Organizations.Strategy = StrategyMapping
			c.Organizations.MappingFile = writeFile(t, "map.csv", "user_id,email,org_key\nu1,,acme\n,BOB@gmail.com,acme\n,bob@gmail.com,beta\nu1,,acme\n,nobody@x.io,acme\n")
		}, []string{"acme/ada@acme.io/u1", "acme/bob@gmail.com/u2", "beta/bob@gmail.com/u2"}, []string{"u3/user//no_organization", "u4/user//no_organization"}},
		{"metadata key that cannot be an org external id", func(c *Config) {}, nil, nil},
	}
	for _, tc := range tests[:len(tests)-1] {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg)
			out := runPlan(t, cfg, writeUsers(t, users))
			if got := memberKeys(out.members); !slices.Equal(got, tc.members) {
				t.Fatalf("members = %v, want %v", got, tc.members)
			}
			if got := rejectKeys(out.rejects); !slices.Equal(got, tc.rejects) {
				t.Fatalf("rejects = %v, want %v", got, tc.rejects)
			}
		})
	}
	t.Run("invalid organization key", func(t *testing.T) {
		out := runPlan(t, DefaultConfig(), writeUsers(t, []schemas.User{user("u1", "a@x.io", true, "Acme Corp", "acme")}))
		if got := rejectKeys(out.rejects); !slices.Equal(got, []string{"u1/membership/Acme Corp/invalid_organization_key"}) {
			t.Fatalf("rejects = %v", got)
		}
		if got := memberKeys(out.members); !slices.Equal(got, []string{"acme/a@x.io/u1"}) {
			t.Fatalf("members = %v", got)
		}
	})
	t.Run("email_domain allowed domains", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Organizations.Strategy = StrategyEmailDomain
		out := runPlan(t, cfg, writeUsers(t, users))
		if !slices.Equal(out.orgs[0].EmailAllowedDomains, []string{"acme.io"}) || out.orgs[0].Slug != "acme-io" {
			t.Fatalf("org = %+v", out.orgs[0])
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"strategy", func(c *Config) { c.Organizations.Strategy = "magic" }, `organizations.strategy "magic"`},
		{"metadata field", func(c *Config) { c.Organizations.MetadataField = "untrusted_metadata.org" }, "organizations.metadata_field"},
		{"mapping without file", func(c *Config) { c.Organizations.Strategy = StrategyMapping }, "organizations.mapping_file: required"},
		{"external id", func(c *Config) { c.Members.ExternalID = "email" }, `members.external_id "email"`},
		{"oversized", func(c *Config) { c.Members.OversizedMetadata = "truncate" }, "members.oversized_metadata"},
		{"jit", func(c *Config) { c.Organizations.Defaults.EmailJITProvisioning = "ALL_ALLOWED" }, "email_jit_provisioning"},
		{"auth method", func(c *Config) {
			c.Organizations.Defaults.AuthMethods, c.Organizations.Defaults.AllowedAuthMethods = "RESTRICTED", []string{"carrier_pigeon"}
		}, "allowed_auth_methods"},
		{"memory", func(c *Config) { c.Transform.MemoryLimit = 1024 }, "transform.memory_limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg)
			_, err := Run(context.Background(), cfg, writeUsers(t, nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || pipeline.ExitCode(err) != pipeline.ExitConfig {
				t.Fatalf("err = %v (exit %d), want %q and exit 4", err, pipeline.ExitCode(err), tc.want)
			}
		})
	}
	for s, want := range map[string]ByteSize{"512MiB": 512 << 20, "1GiB": 1 << 30, "800MB": 800e6, "65536": 65536, " 2 GiB ": 2 << 30} {
		if got, err := ParseByteSize(s); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	if _, err := ParseByteSize("lots"); err == nil {
		t.Error("ParseByteSize(lots) did not fail")
	}
}

func TestPasswords(t *testing.T) {
	const secret = "SECRET-HASH-VALUE"
	hashes := "user_id,email,hash_type,hash,salt,iteration_amount,key_length,algorithm,n_parameter,r_parameter,p_parameter,memory,threads,prepend_salt,append_salt,extra\n" +
		"u1,,bcrypt,$2b$10$" + secret + ",,,,,,,,,,,,x\n" +
		",B@X.IO,pbkdf_2,c2VjcmV0,c2FsdA==,100000,32,sha512,,,,,,,,\n" +
		"u3,,scrypt,c2VjcmV0,c2FsdA==,,32,,16384,8,1,,,,,\n" +
		"u4,,rot13," + secret + ",,,,,,,,,,,,\n" +
		"u5,,scrypt,c2VjcmV0,c2FsdA==,,32,,1000,8,1,,,,,\n" +
		"u6,,md_5," + secret + ",pepper,,,,,,,,,,,\n" +
		"u7,,argon_2id," + secret + ",salt,3,,,,,,65536,4,,,\n" +
		"u8,,md_5," + secret + ",,,,,,,,,,pre,post,\n" +
		"u8,,sha_1," + secret + ",,,,,,,,,,,,\n" +
		"nobody,,phpass,$P$" + secret + ",,,,,,,,,,,,\n" +
		"u9,,argon_2i,\"$argon2i$v=19$m=65536,t=3,p=4$" + secret + "\",,,,,,,,,,,,\n"
	cfg := DefaultConfig()
	cfg.Passwords.HashesFile = writeFile(t, "hashes.csv", hashes)
	var users []schemas.User
	for _, id := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"} {
		users = append(users, user(id, string(id[1])+"@x.io", true, "acme"))
	}
	users[1].Emails[0].Email = "b@x.io"
	users = append(users, user("u1b", "u1b@x.io", true, "beta"))
	users[0].TrustedMetadata = `{"org_ids":["acme","beta"]}`
	env := writeUsers(t, users)
	out := runPlan(t, cfg, env)
	var got []string
	for _, p := range out.passwords {
		got = append(got, p.OrgKey+"/"+p.SourceUserID+"/"+p.HashType)
	}
	want := []string{"acme/u1/bcrypt", "acme/u3/scrypt", "acme/u9/argon_2i", "acme/u2/pbkdf_2", "beta/u1/bcrypt"}
	if !slices.Equal(got, want) {
		t.Fatalf("passwords = %v, want %v", got, want)
	}
	p := out.passwords[3]
	if p.Salt != "c2FsdA==" || p.IterationAmount != 100000 || p.KeyLength != 32 || p.Algorithm != "sha512" || p.EmailAddress != "b@x.io" {
		t.Fatalf("pbkdf_2 row = %+v", p)
	}
	if s := out.passwords[1]; s.NParameter != 16384 || s.RParameter != 8 || s.PParameter != 1 {
		t.Fatalf("scrypt row = %+v", s)
	}
	with := map[string]bool{}
	for _, m := range out.members {
		with[m.OrgKey+"/"+m.SourceUserID] = m.HasPassword
	}
	if !with["acme/u1"] || !with["beta/u1"] || with["acme/u4"] || with["acme/u5"] || len(out.members) != 11 {
		t.Fatalf("has_password = %v", with)
	}
	wantRejects := []string{
		"nobody/password//password_owner_not_migrated",
		"u4/password//unknown_hash_type", "u5/password//malformed_hash", "u6/password//malformed_hash",
		"u7/password//malformed_hash", "u8/password//ambiguous_password", "u8/password//ambiguous_password",
	}
	if got := rejectKeys(out.rejects); !slices.Equal(got, wantRejects) {
		t.Fatalf("rejects = %v, want %v", got, wantRejects)
	}
	for _, r := range out.rejects {
		if strings.Contains(r.RawValue+r.Detail+r.Field, secret) || strings.Contains(r.RawValue, "pepper") {
			t.Fatalf("reject leaks a secret: %+v", r)
		}
	}
	if out.rejects[0].RawValue != "nobody" {
		t.Fatalf("unmigrated owner reject = %+v", out.rejects[0])
	}
	info, err := os.Stat(env.Dir.Path(schemas.MemberPasswords.Path()))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("member_passwords mode = %v, %v", info.Mode(), err)
	}
	if out.res.Counts[CountPasswords] != 5 {
		t.Fatalf("counts = %v", out.res.Counts)
	}
}

func TestRunStageRecordsManifest(t *testing.T) {
	env := writeUsers(t, []schemas.User{user("u1", "a@x.io", true, "acme"), user("u2", "", true, "acme")})
	cfg := DefaultConfig()
	cfg.Organizations.File = writeFile(t, "orgs.csv", "org_key\nacme\n")
	res, err := pipeline.RunStage(context.Background(), env, New(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Partial || res.Counts[CountMembers] != 1 || res.Counts[countRejectPrefix+ReasonInvalidEmail] != 1 {
		t.Fatalf("result = %+v", res)
	}
	m, err := pipeline.LoadManifest(env.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := m.Stages[pipeline.StageTransform]
	if rec == nil || rec.Status != pipeline.StatusOK || len(rec.Inputs) != 2 || len(rec.Outputs) != 4 {
		t.Fatalf("manifest record = %+v", rec)
	}
}
