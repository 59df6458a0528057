package transform

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	// 254 bytes: 64 + 1 + 189 (labels of 63 bytes: 63+1+63+1+57+".com")
	domain189 := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	email254 := local64 + "@" + domain189
	if len(email254) != 254 {
		t.Fatalf("setup: %d bytes", len(email254))
	}
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "ada@example.com", "ada@example.com", true},
		{"lower-cased", "Ada.Lovelace@Example.COM", "ada.lovelace@example.com", true},
		{"trim ASCII space", "  ada@example.com\t\n", "ada@example.com", true},
		{"trim Unicode space", "\u00a0\u3000ada@example.com\u2003", "ada@example.com", true},
		{"NFC composes", "jose\u0301@example.com", "jos\u00e9@example.com", true},
		{"Unicode lower-case", "ÉMILE@ÉCOLE.FR", "émile@école.fr", true},
		{"254 bytes", email254, email254, true},
		{"255 bytes", local64 + "@" + domain189 + "m", "", false},
		{"local 64 bytes", local64 + "@x.io", local64 + "@x.io", true},
		{"local 65 bytes", local64 + "a@x.io", "", false},
		{"local 64 bytes of Unicode", strings.Repeat("é", 32) + "@x.io", strings.Repeat("é", 32) + "@x.io", true},
		{"local 66 bytes of Unicode", strings.Repeat("é", 33) + "@x.io", "", false},
		{"empty local part", "@example.com", "", false},
		{"no at", "ada.example.com", "", false},
		{"two ats", "ada@lab@example.com", "", false},
		{"domain without dot", "ada@localhost", "", false},
		{"empty label inside", "ada@example..com", "", false},
		{"empty first label", "ada@.example.com", "", false},
		{"trailing dot", "ada@example.com.", "", false},
		{"inner space", "ada lovelace@example.com", "", false},
		{"inner no-break space", "ada\u00a0l@example.com", "", false},
		{"line separator", "ada\u2028@example.com", "", false},
		{"control character", "ada\x01@example.com", "", false},
		{"DEL control character", "ada\x7f@example.com", "", false},
		{"zero-width space is not White_Space", "ada\u200b@example.com", "ada\u200b@example.com", true},
		{"invalid UTF-8", "ada\xff@example.com", "", false},
		{"empty", "", "", false},
		{"only space", " \u00a0 ", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, why := normalizeEmail(tc.in)
			if ok != tc.ok {
				t.Fatalf("normalizeEmail(%q) ok = %v (%s), want %v", tc.in, ok, why, tc.ok)
			}
			if ok && got != tc.want {
				t.Fatalf("normalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestPrimaryEmail(t *testing.T) {
	e := func(v ...bool) []schemas.Email {
		var out []schemas.Email
		for i, b := range v {
			out = append(out, schemas.Email{Email: fmt.Sprintf("e%d@x.io", i), Verified: b})
		}
		return out
	}
	tests := []struct {
		name   string
		emails []schemas.Email
		want   int
	}{
		{"none", nil, -1},
		{"one unverified", e(false), 0},
		{"first verified wins", e(false, true, true), 1},
		{"no verified takes first", e(false, false), 0},
		{"verified first", e(true, false), 0},
	}
	for _, tc := range tests {
		if got := primaryEmail(tc.emails); got != tc.want {
			t.Errorf("%s: primaryEmail = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// metaOfLen returns a compact JSON object of exactly n bytes.
func metaOfLen(n int) string { return `{"k":"` + strings.Repeat("x", n-8) + `"}` }

// metaWithKeys returns a JSON object with n top-level keys.
func metaWithKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":{"nested":1,"more":[1,2]}`, i)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestScanMetadata(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		present  bool
		compact  int
		keys     int
		tooLarge bool
		err      bool
	}{
		{"empty", "", false, 0, 0, false, false},
		{"null", "null", false, 0, 0, false, false},
		{"empty object", "{}", true, 2, 0, false, false},
		{"white space not counted", "{ \"a\" : 1 ,\n\t\"b\" : [ 1 , 2 ] }", true, len(`{"a":1,"b":[1,2]}`), 2, false, false},
		{"white space in strings counted", `{"a b": " x : { "}`, true, len(`{"a b":" x : { "}`), 1, false, false},
		{"escaped quote", `{"a":"say \"hi\": {"}`, true, len(`{"a":"say \"hi\": {"}`), 1, false, false},
		{"4096 bytes", metaOfLen(4096), true, 4096, 1, false, false},
		{"4097 bytes", metaOfLen(4097), true, 4097, 1, true, false},
		{"4097 bytes with spaces is 4096 compact", strings.Replace(metaOfLen(4096), ":", " : ", 1), true, 4096, 1, false, false},
		{"20 keys", metaWithKeys(20), true, len(metaWithKeys(20)), 20, false, false},
		{"21 keys", metaWithKeys(21), true, len(metaWithKeys(21)), 21, true, false},
		{"array", "[1,2]", false, 0, 0, false, true},
		{"string", `"x"`, false, 0, 0, false, true},
		{"unbalanced", `{"a":[1}`, false, 0, 0, false, true},
		{"unterminated string", `{"a":"x}`, false, 0, 0, false, true},
		{"trailing garbage", `{"a":1} x`, false, 0, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := scanMetadata(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if m.present != tc.present || m.compactLen != tc.compact || m.keys != tc.keys || m.tooLarge() != tc.tooLarge {
				t.Fatalf("scanMetadata = %+v (tooLarge %v), want present %v compact %d keys %d tooLarge %v",
					m, m.tooLarge(), tc.present, tc.compact, tc.keys, tc.tooLarge)
			}
		})
	}
}

func TestOrgKeysFromMetadata(t *testing.T) {
	tests := []struct {
		name, md string
		path     []string
		want     []string
		found    bool
		err      bool
	}{
		{"string", `{"org_ids":"acme"}`, []string{"org_ids"}, []string{"acme"}, true, false},
		{"list", `{"org_ids":["acme","beta"]}`, []string{"org_ids"}, []string{"acme", "beta"}, true, false},
		{"number", `{"org_ids":42}`, []string{"org_ids"}, []string{"42"}, true, false},
		{"null", `{"org_ids":null}`, []string{"org_ids"}, nil, true, false},
		{"missing", `{"other":"x"}`, []string{"org_ids"}, nil, false, false},
		{"nested", `{"a":{"b":{"c":["x"]}},"org_ids":"no"}`, []string{"a", "b", "c"}, []string{"x"}, true, false},
		{"key inside a string is not a key", `{"note":"\"org_ids\":\"evil\"","org_ids":"good"}`, []string{"org_ids"}, []string{"good"}, true, false},
		{"escaped key", `{"org\u005fids":"acme"}`, []string{"org_ids"}, []string{"acme"}, true, false},
		{"escaped value", `{"org_ids":["caf\u00e9"]}`, []string{"org_ids"}, []string{"café"}, true, false},
		{"null and empty elements skipped", `{"org_ids":[null,"","acme"]}`, []string{"org_ids"}, []string{"acme"}, true, false},
		{"object is an error", `{"org_ids":{"a":1}}`, []string{"org_ids"}, nil, true, true},
		{"bool element is an error", `{"org_ids":["a",true]}`, []string{"org_ids"}, nil, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, found := lookupPath(tc.md, tc.path)
			if found != tc.found {
				t.Fatalf("found = %v, want %v", found, tc.found)
			}
			keys, err := orgKeysFromValue(v, nil)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && !slices.Equal(keys, tc.want) {
				t.Fatalf("keys = %q, want %q", keys, tc.want)
			}
		})
	}
}

func TestSmallRules(t *testing.T) {
	for _, tc := range []struct{ first, middle, last, want string }{
		{"Ada", "", "Lovelace", "Ada Lovelace"},
		{" Ada ", " King ", " Lovelace\u00a0", "Ada King Lovelace"},
		{"", "", "", ""},
		{"", "", "Müller", "Müller"},
		{"José", "María", "García", "José María García"},
		{"\u3000", " ", "\tLi\u2003", "Li"},
		{"Zoë\u00a0", "", "", "Zoë"},
	} {
		got := appendMemberName([]byte("prefix:"), tc.first, tc.middle, tc.last)
		if want := "prefix:" + tc.want; string(got) != want {
			t.Errorf("appendMemberName(%q, %q, %q) = %q, want %q", tc.first, tc.middle, tc.last, got, want)
		}
	}
	for s, want := range map[string]bool{
		"+14155552671": true, "+1": false, "+12": true, "+123456789012345": true, "+1234567890123456": false,
		"14155552671": false, "+04155552671": false, "+1 415 555": false, "": false,
	} {
		if got := validE164(s); got != want {
			t.Errorf("validE164(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{
		"user-test-1": true, "A.b_c-9": true, strings.Repeat("x", 128): true, strings.Repeat("x", 129): false,
		"": false, "a b": false, "a/b": false, "a|b": false, "é": false, "a@b": false,
	} {
		if got := validExternalID(s); got != want {
			t.Errorf("validExternalID(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"acme": true, "a|b": true, "a b": false, "": false, strings.Repeat("k", 129): false} {
		if got := validOrgKey(s); got != want {
			t.Errorf("validOrgKey(%q) = %v, want %v", s, got, want)
		}
	}
	// Every byte, alone and after a valid one, against the charsets spelled out.
	for c := range 256 {
		b := byte(c)
		id := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("._-", b) >= 0
		for _, s := range []string{string([]byte{b}), "x" + string([]byte{b}), string([]byte{b}) + "x"} {
			if got := validExternalID(s); got != id {
				t.Errorf("validExternalID(%q) = %v, want %v", s, got, id)
			}
			if got := validOrgKey(s); got != (id || b == '|') {
				t.Errorf("validOrgKey(%q) = %v, want %v", s, got, id || b == '|')
			}
		}
	}
}

func TestDeriveSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Acme Corp", "acme-corp"},
		{"  Acme -- Corp!! ", "acme-corp"},
		{"ACME", "acme"},
		{"Zoë's Café", "zo-s-caf"},
		{"日本", ""},
		{"a_b.c~d", "a-b-c-d"},
		{strings.Repeat("ab ", 100), strings.TrimSuffix(strings.Repeat("ab-", 43), "-")[:128]},
	} {
		if got := deriveSlug(tc.in); got != tc.want {
			t.Errorf("deriveSlug(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPlanSlugs(t *testing.T) {
	orgs := []schemas.Organization{
		{OrgKey: "a", Name: "Acme"},
		{OrgKey: "b", Name: "ACME"},
		{OrgKey: "c", Name: "acme!"},
		{OrgKey: "d", Name: "Taken"},
		{OrgKey: "e", Name: "日本"},
		{OrgKey: "ee", Name: "!"},
		{OrgKey: "ef", Name: "EE"},
		{OrgKey: "f", Name: "x"},
		{OrgKey: "日本", Name: "日本"},
		{OrgKey: "z", Name: "Acme"},
	}
	planSlugs(orgs, map[string]string{"z": "Acme-2", "d": "my-slug"})
	got := map[string]string{}
	for _, o := range orgs {
		got[o.OrgKey] = o.Slug + " " + o.SlugSource
	}
	want := map[string]string{
		"a": "acme derived", "b": "acme-3 derived_unique", "c": "acme-4 derived_unique",
		"d": "my-slug file", "e": "org-" + fmt.Sprintf("%08x", fnv32("e")) + " derived", "f": "org-" + fmt.Sprintf("%08x", fnv32("f")) + " derived",
		"ee": "ee derived", "ef": "ee-2 derived_unique",
		"日本": "org-" + fmt.Sprintf("%08x", fnv32("日本")) + " derived", "z": "Acme-2 file",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("slug of %s = %q, want %q", k, got[k], w)
		}
	}
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
