package extract

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// The fast path (userjson.go) is checked against encoding/json (decodeJSONSlow, decodeCSVSlow):
// whenever it takes a record, its user must equal the slow path's, and the slow path must not
// reject the record.

// diffJSON decodes text on both paths and fails on a difference; it reports whether the fast path
// took the record.
func diffJSON(t testing.TB, text string) bool {
	t.Helper()
	var fd, sd decoder
	var fast, slow schemas.User
	ok := fd.fastJSON(text, &fast)
	derr := sd.decodeJSONSlow([]byte(text), &slow)
	if !ok {
		return false
	}
	if derr != nil {
		t.Fatalf("fast path took a record encoding/json rejects (%s: %s):\n%q", derr.field, derr.msg, text)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast and slow paths differ on\n%q\nfast: %#v\nslow: %#v", text, fast, slow)
	}
	return true
}

// csvJSONColumns are the CSV columns holding JSON text.
var csvJSONColumns = []string{"name", "emails", "phone_numbers", "providers", "webauthn_registrations",
	"biometric_registrations", "totps", "crypto_wallets", "password", "roles", "is_locked",
	"trusted_metadata", "untrusted_metadata"}

// diffCSV decodes one CSV record of the given columns on both paths and fails on a difference; it
// reports whether the fast path took the record.
func diffCSV(t testing.TB, header, rec []string) bool {
	t.Helper()
	l, err := newCSVLayout(header)
	if err != nil {
		t.Fatal(err)
	}
	var fd, sd decoder
	var fast, slow schemas.User
	ok := fd.fastCSV(rec, l, &fast)
	derr, _ := sd.decodeCSVSlow(rec, l, &slow)
	if !ok {
		return false
	}
	if derr != nil {
		t.Fatalf("fast path took a CSV record encoding/json rejects (%s: %s):\n%q", derr.field, derr.msg, rec)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast and slow paths differ on CSV\n%q\nfast: %#v\nslow: %#v", rec, fast, slow)
	}
	return true
}

// fixtureRecords returns the JSON records of the JSON Lines and export JSON fixtures.
func fixtureRecords(t testing.TB) []string {
	t.Helper()
	var recs []string
	for _, tc := range []struct {
		file string
		sp   splitter
	}{{"users.jsonl", newLineSplitter()}, {"users.json", newArraySplitter()}} {
		data, err := os.ReadFile(fixture(tc.file))
		if err != nil {
			t.Fatal(err)
		}
		spans, _, err := tc.sp.split(data, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range spans {
			recs = append(recs, string(data[s.start:s.end]))
		}
	}
	return recs
}

// csvRecords parses CSV text into its header and the records that do not repeat it.
func csvRecords(t testing.TB, text []byte) (header []string, recs [][]string) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(text))
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range all[1:] {
		if !reflect.DeepEqual(rec, all[0]) {
			recs = append(recs, rec)
		}
	}
	return all[0], recs
}

// benchRecords returns n benchmark users as JSON Lines records, pretty-printed export elements
// and export CSV text.
func benchRecords(t testing.TB, n int) (lines, pretty []string, csvText []byte) {
	t.Helper()
	for _, kind := range []string{SourceJSONL, SourceExportJSON, SourceExportCSV} {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if err := writeBenchUsers(w, kind, n); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		switch kind {
		case SourceJSONL:
			lines = strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		case SourceExportJSON:
			data := b.Bytes()
			spans, _, err := newArraySplitter().split(data, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range spans {
				pretty = append(pretty, string(data[s.start:s.end]))
			}
		case SourceExportCSV:
			csvText = b.Bytes()
		}
	}
	return lines, pretty, csvText
}

func TestFastDecoderMatchesFixturesAndBenchUsers(t *testing.T) {
	recs := fixtureRecords(t)
	lines, pretty, csvText := benchRecords(t, 2000)
	recs = append(append(recs, lines...), pretty...)
	for _, rec := range recs {
		if !diffJSON(t, rec) {
			t.Errorf("fast path refused a well-formed record:\n%s", rec)
		}
	}
	for _, text := range [][]byte{readBytes(t, fixture("users.csv")), csvText} {
		header, rows := csvRecords(t, text)
		for _, rec := range rows {
			if !diffCSV(t, header, rec) {
				t.Errorf("fast path refused a well-formed CSV record:\n%q", rec)
			}
		}
	}
}

func readBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edgeRecords are hand-written records around the fast path's edges; fast reports whether the
// fast path must take the record (true), must refuse it (false), or may do either (nil).
func edgeRecords() []struct {
	name string
	text string
	fast *bool
} {
	yes, no := new(true), new(false)
	base := func(extra string) string {
		return `{"user_id":"user-test-16d9ba61-97a1-4ba4-9720-b03761dc50c6","status":"active","created_at":"2023-01-15T09:30:00Z"` + extra + `}`
	}
	long := strings.Repeat("abcdefghij", 10_000)
	var meta10k strings.Builder
	meta10k.WriteString("{\n  \"items\": [")
	for i := range 300 {
		if i > 0 {
			meta10k.WriteString(", ")
		}
		fmt.Fprintf(&meta10k, "{\"k\": %d, \"v\": \"value %d\\n\"}", i, i)
	}
	meta10k.WriteString("]\n}")
	baseAt := func(created string) string {
		return `{"user_id":"u1","status":"active","created_at":` + created + `}`
	}
	deep := func(n int) string { return strings.Repeat(`{"a":[`, n) + "1" + strings.Repeat(`]}`, n) }
	type rec = struct {
		name string
		text string
		fast *bool
	}
	recs := []rec{
		{"minimal", base(""), yes},
		{"empty object", `{}`, no},
		{"not an object", `[]`, no},
		{"null record", `null`, no},
		{"string record", `"x"`, no},
		{"leading and trailing space", " \t\r\n" + base("") + " \r\n", yes},
		{"trailing garbage", base("") + "x", no},
		{"two objects", base("") + base(""), no},
		{"vertical tab", base("") + "\v", no},
		{"nbsp", "\u00a0" + base(""), no},
		{"escapes", base(`,"name":{"first_name":"a\"b\\c\/d\b\f\n\r\t","last_name":"\u00e9\u00E9\u0000x"}`), yes},
		{"surrogate pair", base(`,"name":{"first_name":"\ud83d\ude00 smile"}`), yes},
		{"lone high surrogate", base(`,"name":{"first_name":"\ud83d"}`), yes},
		{"high then letter", base(`,"name":{"first_name":"\ud83d\u0041"}`), yes},
		{"high then high pair", base(`,"name":{"first_name":"\ud83d\ud83d\ude00"}`), yes},
		{"lone low surrogate", base(`,"name":{"first_name":"\ude00x"}`), yes},
		{"high then plain", base(`,"name":{"first_name":"\ud83dabc"}`), yes},
		{"high then bad escape", base(`,"name":{"first_name":"\ud83d\x"}`), no},
		{"bad escape", base(`,"name":{"first_name":"\x"}`), no},
		{"single-quote escape", base(`,"name":{"first_name":"\'"}`), no},
		{"short \\u", base(`,"name":{"first_name":"\u12"}`), no},
		{"raw unicode", base(`,"name":{"first_name":"Zoë ☕ 😀"}`), yes},
		{"invalid UTF-8", base(",\"name\":{\"first_name\":\"a\xffb\"}"), no},
		{"truncated UTF-8", base(",\"name\":{\"first_name\":\"a\xc3\"}"), no},
		{"overlong UTF-8", base(",\"name\":{\"first_name\":\"\xc0\xaf\"}"), no},
		{"encoded surrogate", base(",\"name\":{\"first_name\":\"\xed\xa0\x80\"}"), no},
		{"invalid UTF-8 with escape", base(",\"name\":{\"first_name\":\"\\n\xff\"}"), no},
		{"invalid UTF-8 in metadata", base(",\"trusted_metadata\":{\"a\":\"\xff\"}"), yes},
		{"invalid UTF-8 in unknown", base(",\"x\":\"\xff\""), yes},
		{"control char", base(",\"name\":{\"first_name\":\"a\tb\"}"), no},
		{"control char in metadata", base(",\"trusted_metadata\":{\"a\":\"\t\"}"), no},
		{"nulls everywhere", base(`,"external_id":null,"name":null,"emails":null,"phone_numbers":null,"providers":null,` +
			`"webauthn_registrations":null,"biometric_registrations":null,"totps":null,"crypto_wallets":null,"password":null,` +
			`"roles":null,"is_locked":null,"lock_created_at":null,"lock_expires_at":null,"trusted_metadata":null,"untrusted_metadata":null`), yes},
		{"null user_id", `{"user_id":null,"status":"active"}`, no},
		{"null status", `{"user_id":"u1","status":null}`, no},
		{"nested nulls", base(`,"name":{"first_name":null,"middle_name":null,"last_name":null},"password":{"password_id":null,"requires_reset":null},` +
			`"emails":[{"email_id":null,"email":null,"verified":null}]`), yes},
		{"null list element", base(`,"emails":[null]`), no},
		{"null role", base(`,"roles":[null]`), no},
		{"empty lists", base(`,"emails":[],"phone_numbers":[ ],"providers":[` + "\n" + `],"webauthn_registrations":[],"biometric_registrations":[],"totps":[],"crypto_wallets":[],"roles":[]`), yes},
		{"empty objects", base(`,"name":{},"password":{},"trusted_metadata":{},"untrusted_metadata":{ }`), yes},
		{"all lists", base(`,"emails":[{"email_id":"e1","email":"a@b","verified":true},{"email_id":"e2","email":"c@d","verified":false}],` +
			`"phone_numbers":[{"phone_id":"p","phone_number":"+1","verified":true}],` +
			`"providers":[{"provider_type":"Google","provider_subject":"s","profile_picture_url":"u","locale":"en","oauth_user_registration_id":"o"}],` +
			`"webauthn_registrations":[{"webauthn_registration_id":"w","domain":"d","user_agent":"ua","verified":true,"authenticator_type":"platform","name":"n"}],` +
			`"biometric_registrations":[{"biometric_registration_id":"b","verified":true}],"totps":[{"totp_id":"t","verified":false}],` +
			`"crypto_wallets":[{"crypto_wallet_id":"c","crypto_wallet_address":"0x","crypto_wallet_type":"ethereum","verified":true}],` +
			`"password":{"password_id":"pw","requires_reset":true},"roles":["a","b"],"is_locked":true,` +
			`"lock_created_at":"2024-02-29T23:59:59.5+01:00","lock_expires_at":"2024-03-01T00:00:00.123456789-07:30","external_id":"ext"`), yes},
		{"unknown fields in elements", base(`,"emails":[{"email_id":"e1","x":{"y":[1,2,{"z":null}]},"email":"a"}],"name":{"q":1,"first_name":"f"},"password":{"z":[]}`), yes},
		{"metadata numbers", base(`,"trusted_metadata":{"a":1.0,"b":1e3,"c":-0,"d":1E+2,"e":-0.5e-3,"f":0,"g":123456789012345678901234567890}`), yes},
		{"bad number 01", base(`,"trusted_metadata":{"a":01}`), no},
		{"bad number 1.", base(`,"trusted_metadata":{"a":1.}`), no},
		{"bad number .5", base(`,"trusted_metadata":{"a":.5}`), no},
		{"bad number +1", base(`,"trusted_metadata":{"a":+1}`), no},
		{"bad number -", base(`,"trusted_metadata":{"a":-}`), no},
		{"bad number 1e", base(`,"trusted_metadata":{"a":1e}`), no},
		{"bad literal", base(`,"trusted_metadata":{"a":tru}`), no},
		{"literal run-on", base(`,"trusted_metadata":{"a":truex}`), no},
		{"metadata whitespace", base(",\"trusted_metadata\" : {\n  \"a\" : [ 1 , 2 ],\r\n\t\"b c\" : \" x  y \" , \"e\":\"\\\" \\\\\" }"), yes},
		{"metadata escapes kept", base(`,"untrusted_metadata":{"a":"\u00e9\n\"","b":"\ud83d"}`), yes},
		{"metadata duplicate keys kept", base(`,"trusted_metadata":{"a":1,"a":2}`), yes},
		{"metadata array", base(`,"trusted_metadata":[1]`), no},
		{"metadata string", base(`,"trusted_metadata":"{}"`), no},
		{"metadata number", base(`,"trusted_metadata":1`), no},
		{"metadata true", base(`,"trusted_metadata":true`), no},
		{"metadata unclosed", base(`,"trusted_metadata":{"a":1`), no},
		{"metadata trailing comma", base(`,"trusted_metadata":{"a":1,}`), no},
		{"10 KB metadata", base(`,"trusted_metadata":` + meta10k.String()), yes},
		{"deep metadata", base(`,"trusted_metadata":` + deep(50)), yes},
		{"very deep metadata", base(`,"trusted_metadata":` + deep(400)), no},
		{"long string", base(`,"name":{"first_name":"` + long + `"}`), yes},
		{"long escaped string", base(`,"name":{"first_name":"` + long + `\n` + long + `"}`), yes},
		{"duplicate user_id key", `{"user_id":"a","user_id":"b","status":"active"}`, no},
		{"duplicate list key", base(`,"emails":[{"email_id":"a","email":"x"}],"emails":[{"email_id":"b"}]`), no},
		{"duplicate nested key", base(`,"name":{"first_name":"a","first_name":"b"}`), no},
		{"duplicate unknown key", base(`,"x":1,"x":2`), yes},
		{"key case", `{"User_ID":"a","status":"active"}`, no},
		{"key upper case", base(`,"EMAILS":[]`), no},
		{"nested key case", base(`,"name":{"First_Name":"a"}`), no},
		{"key long s", base(`,"uſer_id":"x"`), no},
		{"key kelvin", base(`,"name":{"first_name":"a","\u212a":1}`), no},
		{"escaped key", `{"user\u005fid":"a","status":"active"}`, no},
		{"unknown key", base(`,"future_field":{"a":[true,false,null,"s",-1.5e3]}`), yes},
		{"empty key", base(`,"":1`), yes},
		{"wrong type is_locked", base(`,"is_locked":"true"`), no},
		{"wrong type emails", base(`,"emails":{}`), no},
		{"wrong type role", base(`,"roles":[1]`), no},
		{"wrong type name", base(`,"name":"x"`), no},
		{"wrong type password", base(`,"password":true`), no},
		{"wrong type user_id", `{"user_id":1,"status":"active"}`, no},
		{"wrong type element", base(`,"emails":["a"]`), no},
		{"wrong type verified", base(`,"emails":[{"verified":"yes"}]`), no},
		{"missing user_id", `{"status":"active"}`, no},
		{"empty status", `{"user_id":"u1","status":""}`, no},
		{"status pending", `{"user_id":"u1","status":"pending"}`, yes},
		{"status upper", `{"user_id":"u1","status":"ACTIVE"}`, no},
		{"time offset", baseAt(`"2023-01-15T09:30:00+05:30"`), yes},
		{"time nanos", baseAt(`"2023-01-15T09:30:00.123456789Z"`), yes},
		{"time 10 digits", baseAt(`"2023-01-15T09:30:00.1234567891Z"`), nil},
		{"time comma", baseAt(`"2023-01-15T09:30:00,5Z"`), nil},
		{"time lower t", baseAt(`"2023-01-15t09:30:00Z"`), nil},
		{"time space", baseAt(`"2023-01-15 09:30:00Z"`), no},
		{"time leap second", baseAt(`"2016-12-31T23:59:60Z"`), no},
		{"time 24h", baseAt(`"2023-01-15T24:00:00Z"`), no},
		{"time Feb 30", baseAt(`"2023-02-30T00:00:00Z"`), no},
		{"time no zone", baseAt(`"2023-01-15T09:30:00"`), no},
		{"time escaped", baseAt(`"2023-01-15T09:30:00\u005a"`), yes},
		{"missing comma", `{"user_id":"a" "status":"active"}`, no},
		{"missing colon", `{"user_id" "a","status":"active"}`, no},
		{"trailing comma", base(`,`), no},
		{"unterminated string", `{"user_id":"a`, no},
		{"unterminated record", `{"user_id":"a","status":"active"`, no},
		{"whitespace everywhere", "{ \"user_id\" :\t\"u1\" ,\r\n \"status\" : \"active\" , \"emails\" : [ { \"email_id\" : \"e\" , \"verified\" : true } ] , \"roles\" : [ \"r\" ] }", yes},
		{"NUL byte after", base("") + "\x00", no},
	}
	return recs
}

func TestFastDecoderEdgeCases(t *testing.T) {
	for _, tc := range edgeRecords() {
		t.Run(tc.name, func(t *testing.T) {
			got := diffJSON(t, tc.text)
			if tc.fast != nil && got != *tc.fast {
				t.Errorf("fast path took the record: %v, want %v", got, *tc.fast)
			}
		})
	}
}

// TestFastCSVEdgeCases puts JSON values into CSV cells of every JSON column.
func TestFastCSVEdgeCases(t *testing.T) {
	cells := []string{"", "null", " null ", "nul", "[]", "{}", " {} ", "[1]", `{"a":1} x`, "true", "false", `"s"`, "1",
		`[{"email_id":"e","email":"a@b","verified":true}]`, `[null]`, `["a","b"]`, `{"first_name":"a","last_name":"\u00e9"}`,
		`{"password_id":"p","requires_reset":true}`, "{\n \"a\" : [ 1.0 , 1e3 ] }", "\v{}", `{"a":"\ud83d"}`, "[\"\xff\"]"}
	for _, col := range csvJSONColumns {
		for _, cell := range cells {
			header := []string{"user_id", "status", "created_at", col}
			rec := []string{"user-test-1", "active", "2023-01-15T09:30:00Z", cell}
			diffCSV(t, header, rec)
		}
	}
	// Plain columns are taken as they are, invalid UTF-8 included.
	header := []string{"user_id", "status", "created_at", "external_id", "lock_created_at", "lock_expires_at"}
	for _, rec := range [][]string{
		{"u\xff", "active", "2023-01-15T09:30:00Z", "e\"x", "", ""},
		{"u", "pending", "2023-01-15T09:30:00+02:00", "", "2023-01-15T09:30:00Z", "2023-01-16T09:30:00Z"},
		{"u", "pending", "bad", "", "", ""},
		{"", "active", "", "", "", ""},
		{"u", "other", "", "", "", ""},
	} {
		diffCSV(t, header, rec)
	}
}

// TestFastDecoderRandomized mutates well-formed records byte by byte and checks both paths agree.
func TestFastDecoderRandomized(t *testing.T) {
	recs := fixtureRecords(t)
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("{}[]\":,\\ \t\n0123456789-+.eEtrufalsn\xff\xc3aA_u")
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	for range n {
		b := []byte(recs[rng.IntN(len(recs))])
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			case 2:
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			}
		}
		diffJSON(t, string(b))
	}
}

// FuzzUserDecoder checks that whenever the fast path takes a record, as a JSON record or as the
// cell of a CSV column, its user equals encoding/json's.
// Run: go test -run '^$' -fuzz=FuzzUserDecoder -fuzztime=120s ./stages/extract/
func FuzzUserDecoder(f *testing.F) {
	for _, rec := range fixtureRecords(f) {
		f.Add(rec, uint8(0))
	}
	for i, tc := range edgeRecords() {
		if len(tc.text) < 4096 {
			f.Add(tc.text, uint8(i))
		}
	}
	for i, cell := range []string{`[{"email_id":"e","email":"a@b","verified":true}]`, `{"first_name":"a"}`, "{\n \"a\" : 1e3 }", `["r"]`, "true"} {
		f.Add(cell, uint8(i))
	}
	f.Fuzz(func(t *testing.T, text string, col uint8) {
		diffJSON(t, text)
		header := []string{"user_id", "status", "created_at", csvJSONColumns[int(col)%len(csvJSONColumns)]}
		diffCSV(t, header, []string{"user-test-1", "active", "2023-01-15T09:30:00Z", text})
	})
}

func TestUserFieldKeys(t *testing.T) {
	for f, k := range userKeys {
		if got := userField(k); got != f {
			t.Errorf("userField(%q) = %d, want %d", k, got, f)
		}
	}
	if userField("User_ID") != -1 || userField("") != -1 {
		t.Error("userField matched a key that is not a field")
	}
}
