package extract

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// goodLine is a well-formed JSON Lines user.
func goodLine(id string) string {
	return fmt.Sprintf(`{"user_id":%q,"status":"active","created_at":"2024-01-01T00:00:00Z","emails":[{"email_id":"e-%s","email":"%s@x.example","verified":true}]}`, id, id, id)
}

// badCase is one malformed record in a small file: users u1 and u3 (or u2) are good, the bad
// record is at line (or row) badLine.
type badCase struct {
	name, kind, content string
	badLine             int64 // the record's position
	errLine             int64 // the line in the error message (0: badLine)
	field, msg          string
	raw                 string // the raw text quarantined
}

func badCases() []badCase {
	csvHeader := `"user_id","status","created_at","name","emails","phone_numbers","trusted_metadata","untrusted_metadata","providers","webauthn_registrations","biometric_registrations","totps","crypto_wallets","password"`
	csvRow := func(id, emails string) string {
		return fmt.Sprintf(`"%s","active","2024-01-01T00:00:00Z",,"%s","[]",,,"[]","[]","[]","[]","[]",`, id, strings.ReplaceAll(emails, `"`, `""`))
	}
	okEmails := `[{"email_id":"e","email":"a@x.example","verified":true}]`
	jsonl := func(bad string) string { return goodLine("u1") + "\n" + bad + "\n" + goodLine("u3") + "\n" }
	pretty := "[\n  {\n    \"user_id\": \"u1\",\n    \"status\": \"active\"\n  },\n  {\n    \"user_id\": \"u2\",\n    \"status\": \"active\",\n    \"emails\": [\n      {\n        \"email\": \"a@x.example\",\n        \"verified\": \"yes\"\n      }\n    ]\n  },\n  {\n    \"user_id\": \"u3\",\n    \"status\": \"active\"\n  }\n]\n"
	return []badCase{
		{name: "jsonl/broken_json", kind: SourceJSONL, content: jsonl(`{"user_id":"u2","status":}`), badLine: 2,
			field: "record", msg: "invalid JSON: invalid character '}'", raw: `{"user_id":"u2","status":}`},
		{name: "jsonl/wrong_type", kind: SourceJSONL, content: jsonl(`{"user_id":"u2","status":"active","emails":[{"email":"a@x.example","verified":"yes"}]}`), badLine: 2,
			field: "emails.verified", msg: "want a boolean, got JSON string"},
		{name: "jsonl/wrong_type_user_id", kind: SourceJSONL, content: jsonl(`{"user_id":2,"status":"active"}`), badLine: 2,
			field: "user_id", msg: "want a string, got JSON number"},
		{name: "jsonl/not_an_object", kind: SourceJSONL, content: jsonl(`["u2"]`), badLine: 2,
			field: "record", msg: "want an object, got JSON array"},
		{name: "jsonl/missing_user_id", kind: SourceJSONL, content: jsonl(`{"status":"active","emails":[]}`), badLine: 2,
			field: "user_id", msg: "missing or empty"},
		{name: "jsonl/duplicate_user_id", kind: SourceJSONL, content: goodLine("u1") + "\n" + goodLine("u2") + "\n" + goodLine("u1") + "\n", badLine: 3,
			field: "user_id", msg: `duplicate "u1" (its first occurrence is kept)`, raw: goodLine("u1")},
		{name: "jsonl/bad_created_at", kind: SourceJSONL, content: jsonl(`{"user_id":"u2","status":"active","created_at":"yesterday"}`), badLine: 2,
			field: "created_at", msg: `"yesterday" is not an RFC 3339 time`},
		{name: "jsonl/metadata_not_object", kind: SourceJSONL, content: jsonl(`{"user_id":"u2","status":"active","trusted_metadata":"x"}`), badLine: 2,
			field: "trusted_metadata", msg: "want an object, got JSON string"},
		{name: "jsonl/unknown_status", kind: SourceJSONL, content: jsonl(`{"user_id":"u2","status":"deleted"}`), badLine: 2,
			field: "status", msg: `"deleted" is not "active" or "pending"`},

		{name: "json/wrong_type_line_of_field", kind: SourceExportJSON, content: pretty, badLine: 6, errLine: 12,
			field: "emails.verified", msg: "want a boolean, got JSON string"},
		{name: "json/broken_json_inside_element", kind: SourceExportJSON,
			content: "[\n  {\"user_id\": \"u1\", \"status\": \"active\"},\n  {\"user_id\": \"u2\", \"status\": },\n  {\"user_id\": \"u3\", \"status\": \"active\"}\n]\n",
			badLine: 3, field: "record", msg: "invalid JSON", raw: `{"user_id": "u2", "status": }`},
		{name: "json/missing_user_id", kind: SourceExportJSON,
			content: "[\n  {\"user_id\": \"u1\", \"status\": \"active\"},\n  {\"status\": \"active\"},\n  {\"user_id\": \"u3\", \"status\": \"active\"}\n]\n",
			badLine: 3, field: "user_id", msg: "missing or empty"},
		{name: "json/duplicate_user_id", kind: SourceExportJSON,
			content: "[\n  {\"user_id\": \"u1\", \"status\": \"active\"},\n  {\"user_id\": \"u2\", \"status\": \"active\"},\n  {\"user_id\": \"u1\", \"status\": \"pending\"}\n]\n",
			badLine: 4, field: "user_id", msg: "duplicate"},

		{name: "csv/broken_json_in_cell", kind: SourceExportCSV,
			content: csvHeader + "\n" + csvRow("u1", okEmails) + "\n" + csvRow("u2", `[{"email":"a@x.example",`) + "\n" + csvRow("u3", okEmails) + "\n",
			badLine: 3, field: "emails", msg: "invalid JSON"},
		{name: "csv/wrong_type_in_cell", kind: SourceExportCSV,
			content: csvHeader + "\n" + csvRow("u1", okEmails) + "\n" + csvRow("u2", `[{"email":"a@x.example","verified":"yes"}]`) + "\n" + csvRow("u3", okEmails) + "\n",
			badLine: 3, field: "emails.verified", msg: "want a boolean, got JSON string"},
		{name: "csv/missing_user_id", kind: SourceExportCSV,
			content: csvHeader + "\n" + csvRow("u1", okEmails) + "\n" + csvRow("", okEmails) + "\n" + csvRow("u3", okEmails) + "\n",
			badLine: 3, field: "user_id", msg: "missing or empty"},
		{name: "csv/duplicate_user_id", kind: SourceExportCSV,
			content: csvHeader + "\n" + csvRow("u1", okEmails) + "\n" + csvHeader + "\n" + csvRow("u2", okEmails) + "\n" + csvRow("u1", okEmails) + "\n",
			badLine: 5, field: "user_id", msg: "duplicate"},
		{name: "csv/field_count", kind: SourceExportCSV,
			content: csvHeader + "\n" + csvRow("u1", okEmails) + "\n" + `"u2","active"` + "\n" + csvRow("u3", okEmails) + "\n",
			badLine: 3, field: "record", msg: "has 2 fields, the header has 14", raw: `"u2","active"`},
	}
}

func TestBadRecordsFailFast(t *testing.T) {
	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "users."+tc.kind, tc.content)
			d := runDir(t)
			_, err := runExtract(t, d, Config{Type: tc.kind, Path: path})
			if err == nil {
				t.Fatal("no error")
			}
			line := tc.errLine
			if line == 0 {
				line = tc.badLine
			}
			want := fmt.Sprintf("%s:%d: %s: %s", path, line, tc.field, tc.msg)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error\n %v\nwant it to contain\n %s", err, want)
			}
			if code := pipeline.ExitCode(err); code != pipeline.ExitFailed {
				t.Errorf("exit code %d", code)
			}
			assertNothingCommitted(t, d)
		})
	}
}

func TestBadRecordsQuarantine(t *testing.T) {
	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "users."+tc.kind, tc.content)
			d := runDir(t)
			res, err := runExtract(t, d, Config{Type: tc.kind, Path: path, OnBadRecord: OnBadRecordQuarantine})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Partial || res.Counts[CountBadRecords] != 1 || res.Counts[CountUsers] != 2 {
				t.Errorf("partial %v counts %v, want 2 users and 1 bad record", res.Partial, res.Counts)
			}
			if n := len(readUsers(t, d)); n != 2 {
				t.Errorf("%d users written", n)
			}
			bad := readBad(t, d)
			if len(bad) != 1 {
				t.Fatalf("%d bad records", len(bad))
			}
			b := bad[0]
			if b.SourceFile != path || b.SourcePosition != tc.badLine || b.Field != tc.field || !strings.Contains(b.Error, tc.msg) {
				t.Errorf("bad record %+v", b)
			}
			if tc.raw != "" && b.Raw != tc.raw {
				t.Errorf("raw %q, want %q", b.Raw, tc.raw)
			}
			if !strings.Contains(tc.content, b.Raw) || b.Raw == "" {
				t.Errorf("raw %q is not the source text", b.Raw)
			}
		})
	}
}

// TestMalformedFile checks that a file whose structure is broken stops the stage even when
// quarantining: no record boundary can be trusted after the fault.
func TestMalformedFile(t *testing.T) {
	for _, tc := range []struct{ name, kind, content, want string }{
		{"json/unclosed_array", SourceExportJSON, "[\n  {\"user_id\": \"u1\", \"status\": \"active\"},\n", ":3: record: unexpected end of file: the JSON array is not closed"},
		{"json/unclosed_element", SourceExportJSON, "[\n  {\"user_id\": \"u1\", \"status\": \"active\"\n", ":2: record: unexpected end of file inside an array element"},
		{"json/not_an_array", SourceExportJSON, "{\"user_id\": \"u1\"}\n", ":1: record: want a JSON array"},
		{"json/after_array", SourceExportJSON, "[]\n[]\n", ":2: record: unexpected '['"},
		{"json/missing_comma", SourceExportJSON, "[\n {\"user_id\": \"u1\", \"status\": \"active\"}\n {\"user_id\": \"u2\", \"status\": \"active\"}\n]", ":3: record: want , or ]"},
		{"csv/unterminated_quote", SourceExportCSV, "\"user_id\",\"status\"\n\"u1,\"active\"\n", ":2: record: unexpected end of file inside a quoted field"},
		{"csv/bare_quote", SourceExportCSV, "\"user_id\",\"status\"\nu\"1,active\"\n", ":2: record: malformed CSV"},
		{"csv/unknown_column", SourceExportCSV, "\"user_id\",\"favourite_colour\"\n", ":1: header: column 2 \"favourite_colour\" is not a User field"},
	} {
		for _, mode := range []string{OnBadRecordFail, OnBadRecordQuarantine} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				path := writeFile(t, "users."+tc.kind, tc.content)
				d := runDir(t)
				_, err := runExtract(t, d, Config{Type: tc.kind, Path: path, OnBadRecord: mode})
				if err == nil || !strings.Contains(err.Error(), path+tc.want) {
					t.Fatalf("error %v, want %s%s", err, path, tc.want)
				}
				assertNothingCommitted(t, d)
			})
		}
	}
}
