package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/schemas/schemastest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/report")

const (
	goldenDir = "../../testdata/report"
	hostile   = "<script>alert(1)</script>"
	fixedRun  = "20260102T150405Z-0badc0de"
)

var fixedNow = time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC)

// writeRows writes rows as the staged file rel of dir.
func writeRows[T any](t testing.TB, mem memory.Allocator, dir, rel string, spec *schemas.Spec[T], rows []T) {
	t.Helper()
	schemastest.WriteFile(t, filepath.Join(dir, filepath.FromSlash(rel)), spec,
		schemas.FileMeta{ToolVersion: "v0.test", RunID: fixedRun}, rows, schemas.WithWriterAllocator(mem))
}

// fixture writes a run directory holding the given stages' files (extract, transform, load,
// verify) and, when withManifest, a manifest recording them.
func fixture(t testing.TB, mem memory.Allocator, stages ...string) string {
	t.Helper()
	dir := t.TempDir()
	has := map[string]bool{}
	for _, s := range stages {
		has[s] = true
	}
	base := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	if has["extract"] {
		users := make([]schemas.User, 10)
		for i := range users {
			users[i] = schemas.User{UserID: "user-" + string(rune('a'+i)), Status: "active", CreatedAt: base,
				SourceFile: "users.csv", SourcePosition: int64(i + 2)}
		}
		writeRows(t, mem, dir, schemas.Users.Path(), schemas.Users, users)
	}
	if has["transform"] {
		writeRows(t, mem, dir, schemas.Organizations.Path(), schemas.Organizations, []schemas.Organization{
			{OrgKey: "acme", Name: "Acme", Slug: "acme", ExternalID: "acme", SlugSource: "file", MemberCount: 4},
			{OrgKey: "evil", Name: hostile, Slug: "evil", ExternalID: "evil", SlugSource: "derived", MemberCount: 2},
			{OrgKey: "tiny", Name: "Tiny & Co", Slug: "tiny-co", ExternalID: "tiny", SlugSource: "derived", MemberCount: 1},
		})
		var members []schemas.Member
		for i, m := range []struct{ org, user string }{{"acme", "user-a"}, {"acme", "user-b"}, {"acme", "user-c"},
			{"acme", "user-d"}, {"evil", "user-a"}, {"evil", "user-e"}, {"tiny", "user-f"}} {
			members = append(members, schemas.Member{OrgKey: m.org, SourceUserID: m.user, EmailAddress: m.user + "@x.com",
				ExternalID: m.user, ExternalIDSource: "user_id", Status: "active", SurvivorRule: "unique",
				SourcePosition: int64(i + 2)})
		}
		writeRows(t, mem, dir, schemas.Members.Path(), schemas.Members, members)
		writeRows(t, mem, dir, schemas.Rejects.Path(), schemas.Rejects, []schemas.Reject{
			{SourceUserID: "user-g", Scope: "user", Reason: "no_email", SourcePosition: 8},
			{SourceUserID: "user-h", Scope: "user", Reason: "invalid_email", Field: "emails[0].email", RawValue: hostile, SourcePosition: 9},
			{SourceUserID: "user-i", Scope: "user", Reason: "invalid_email", SourcePosition: 10},
			{SourceUserID: "user-f", OrgKey: "umbrella", Scope: "membership", Reason: "unknown_organization", SourcePosition: 7},
		})
		writeRows(t, mem, dir, schemas.MappingUnmatched.Path(), schemas.MappingUnmatched, []schemas.UnmatchedMappingRow{
			{Line: 5, MatchedBy: "user_id", UserID: "user-typo", OrgKey: "acme"},
			{Line: 9, MatchedBy: "email", UserID: "", Email: hostile + "@x.com", OrgKey: "evil"},
		})
		writeRows(t, mem, dir, schemas.Duplicates.Path(), schemas.Duplicates, []schemas.Duplicate{
			{OrgKey: "acme", EmailAddress: "user-a@x.com", SourceUserID: "user-j", SurvivorUserID: "user-a", Rule: "verified"},
			{OrgKey: "acme", EmailAddress: "user-b@x.com", SourceUserID: "user-k", SurvivorUserID: "user-b", Rule: "earliest_created_at"},
			{OrgKey: "evil", EmailAddress: "user-e@x.com", SourceUserID: "user-l", SurvivorUserID: "user-e", Rule: "verified"},
		})
	}
	if has["load"] {
		var ledger []schemas.LedgerEntry
		outcomes := []string{"created", "created", "created", "existing", "created", "failed", "created"}
		for i, o := range outcomes {
			e := schemas.LedgerEntry{Kind: "member", OrgKey: "acme", SourceUserID: "user-" + string(rune('a'+i)),
				Outcome: o, Attempts: 1, At: base.Add(time.Duration(i*700) * time.Millisecond)}
			if i == 2 {
				e.Attempts = 3
			}
			if o == "failed" {
				e.ErrorType, e.Attempts = "too_many_requests", 8
			}
			ledger = append(ledger, e)
		}
		writeRows(t, mem, dir, "load/ledger/00000000.parquet", schemas.Ledger, ledger[:4])
		writeRows(t, mem, dir, "load/ledger/00000001.parquet", schemas.Ledger, ledger[4:])
		writeRows(t, mem, dir, schemas.OrganizationResults.Path(), schemas.OrganizationResults, []schemas.OrganizationResult{
			{OrgKey: "acme", ExternalID: "acme", OrganizationID: "organization-test-1", Outcome: "created", Attempts: 1},
			{OrgKey: "evil", ExternalID: "evil", OrganizationID: "organization-test-2", Outcome: "created", Attempts: 1},
			{OrgKey: "tiny", ExternalID: "tiny", OrganizationID: "organization-test-3", Outcome: "existing", Attempts: 1},
		})
		var results []schemas.MemberResult
		for i, m := range []struct{ org, user, outcome, errType string }{{"acme", "user-a", "created", ""},
			{"acme", "user-b", "created", ""}, {"acme", "user-c", "created", ""}, {"acme", "user-d", "existing", ""},
			{"evil", "user-a", "created", ""}, {"evil", "user-e", "failed", "too_many_requests"},
			{"tiny", "user-f", "conflict", "external_id_mismatch"}} {
			results = append(results, schemas.MemberResult{SourceUserID: m.user, OrgKey: m.org, EmailAddress: m.user + "@x.com",
				ExternalID: m.user, MemberID: "member-test-" + string(rune('0'+i)), Outcome: m.outcome, ErrorType: m.errType, Attempts: 1})
		}
		writeRows(t, mem, dir, schemas.MemberResults.Path(), schemas.MemberResults, results)
	}
	if has["verify"] {
		writeRows(t, mem, dir, schemas.Drift.Path(), schemas.Drift, []schemas.DriftRow{
			{Kind: "member_missing", OrgKey: "evil", SourceUserID: "user-e", EmailAddress: "user-e@x.com"},
			{Kind: "member_missing", OrgKey: "tiny", SourceUserID: "user-f", EmailAddress: "user-f@x.com"},
			{Kind: "field_drift", OrgKey: "acme", SourceUserID: "user-b", MemberID: "member-test-1", EmailAddress: "user-b@x.com",
				Field: "name", Expected: "Bea", Actual: hostile},
			{Kind: "member_unexpected", OrgKey: "acme", MemberID: "member-test-x", EmailAddress: "intruder@x.com"},
		})
	}
	if has["manifest"] {
		writeManifest(t, dir, stages)
	}
	return dir
}

// writeManifest writes a manifest with fixed times recording every file present, with one sha256
// deliberately wrong so the report shows "changed".
func writeManifest(t testing.TB, dir string, stages []string) {
	t.Helper()
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	m := &pipeline.Manifest{Format: pipeline.ManifestFormat, RunID: fixedRun, ToolVersion: "v0.test",
		CreatedAt: start, UpdatedAt: start, Stages: map[string]*pipeline.StageRecord{}}
	record := func(rel string) pipeline.FileRecord {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		return pipeline.FileRecord{Path: rel, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	}
	outputs := map[string][]string{
		"extract":   {schemas.Users.Path()},
		"transform": {schemas.Organizations.Path(), schemas.Members.Path(), schemas.Rejects.Path(), schemas.Duplicates.Path()},
		"load":      {schemas.OrganizationResults.Path(), schemas.MemberResults.Path()},
		"verify":    {schemas.Drift.Path()},
	}
	for i, s := range stages {
		outs, ok := outputs[s]
		if !ok {
			continue
		}
		rec := &pipeline.StageRecord{Status: pipeline.StatusOK, ConfigHash: "h", StartedAt: start.Add(time.Duration(i) * time.Minute),
			DurationMS: int64(1500 * (i + 1))}
		for _, o := range outs {
			rec.Outputs = append(rec.Outputs, record(o))
		}
		if s == "load" {
			rec.Partial = true
			rec.Counts = map[string]int64{"requests": 31, "retries": 9, "rate_limited": 7, "server_errors": 2}
		}
		if s == "verify" {
			rec.Outputs[0].SHA256 = strings.Repeat("0", 64)
		}
		m.Stages[s] = rec
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pipeline.ManifestFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func openDir(t *testing.T, dir string) *pipeline.RunDir {
	t.Helper()
	d, err := pipeline.OpenRunDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cases are the fixture run directories the golden tests cover.
var cases = []struct {
	name   string
	stages []string
}{
	{"full", []string{"extract", "transform", "load", "verify", "manifest"}},
	{"plan_only", []string{"extract", "transform"}},
	{"empty", nil},
}

func TestModelGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			dir := fixture(t, mem, tc.stages...)
			m, _, err := Build(context.Background(), openDir(t, dir), WithReaderOptions(schemas.WithReaderAllocator(mem)),
				WithClock(func() time.Time { return fixedNow }))
			if err != nil {
				t.Fatal(err)
			}
			// Parquet bytes are not reproducible (the writer's metadata order varies), so the
			// checksums are checked by TestFunnelNumbers, not kept in the golden file.
			for i := range m.Files {
				if len(m.Files[i].SHA256) == sha256.Size*2 {
					m.Files[i].SHA256 = "<sha256>"
				}
			}
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(goldenDir, tc.name+".model.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./stages/report -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("model differs from %s (run with -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

func TestFunnelNumbers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := fixture(t, mem, "extract", "transform", "load", "verify", "manifest")
	m, inputs, err := Build(context.Background(), openDir(t, dir), WithReaderOptions(schemas.WithReaderAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"users": 10, "eligible": 7, "members": 7, "loaded": 5, "verified": 4}
	for _, s := range m.Funnel {
		if !s.Known || s.Count != want[s.Label] {
			t.Errorf("funnel %s = %d (known %v), want %d", s.Label, s.Count, s.Known, want[s.Label])
		}
	}
	if m.Timeline == nil || m.Timeline.BucketSeconds != 1 || len(m.Timeline.Buckets) != 5 || m.Timeline.Entries != 7 {
		t.Fatalf("timeline = %+v", m.Timeline)
	}
	var attempts, limited int64
	for _, b := range m.Timeline.Buckets {
		attempts += b.Attempts
		limited += b.RateLimited
	}
	if attempts != 1+1+3+1+1+8+1 || limited != 1 {
		t.Errorf("timeline attempts=%d rate limited=%d", attempts, limited)
	}
	if len(m.Missing) != 0 {
		t.Errorf("full run reports missing: %q", m.Missing)
	}
	if u := m.MappingUnmatched; u == nil || u.Total != 2 || len(u.Sample) != 2 || u.Sample[1].Value != hostile+"@x.com" {
		t.Errorf("unmatched mapping rows = %+v, want 2, the second keyed by its email", u)
	}
	if len(inputs) != 11 {
		t.Errorf("inputs = %q", inputs)
	}
	var changed bool
	for _, f := range m.Files {
		if f.Path == schemas.Drift.Path() && f.Manifest == "changed" {
			changed = true
		}
		if f.Path == "load/ledger/" && (f.Files != 2 || f.Rows == nil || *f.Rows != 7) {
			t.Errorf("ledger row = %+v", f)
		}
	}
	if !changed {
		t.Error("drift.parquet's wrong manifest checksum not reported as changed")
	}
}

// renderFixture renders the report of a fixture run directory through the stage, as a command
// would, and returns the HTML.
func renderFixture(t *testing.T, stages ...string) string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := fixture(t, mem, stages...)
	d := openDir(t, dir)
	env := &pipeline.Env{Dir: d, ToolVersion: "v0.test"}
	res, err := pipeline.RunStage(context.Background(), env, New(WithReaderOptions(schemas.WithReaderAllocator(mem))))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outputs) != 1 || res.Outputs[0] != ReportFile {
		t.Fatalf("outputs = %q", res.Outputs)
	}
	data, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("REPORT_KEEP") != "" { // make report-screenshot uses this to get a sample report
		keep := filepath.Join(os.Getenv("REPORT_KEEP"), t.Name())
		if err := os.MkdirAll(filepath.Dir(keep), 0o755); err == nil {
			_ = os.WriteFile(keep+".html", data, 0o644)
		}
	}
	return string(data)
}

// checkWellFormed parses the page with encoding/xml in its lenient HTML mode and fails on a
// syntax error or unbalanced elements.
func checkWellFormed(t *testing.T, page string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("report does not parse: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tk.Name.Local)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != tk.Name.Local {
				t.Fatalf("unbalanced </%s>, open: %v", tk.Name.Local, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements: %v", stack)
	}
}

// externalRef finds src/href attributes and url() references that leave the page.
var externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:|//|data:|javascript:)|url\(|@import|https?://`)

func TestReportHTML(t *testing.T) {
	page := renderFixture(t, "extract", "transform", "load", "verify", "manifest")
	checkWellFormed(t, page)
	if strings.Contains(page, hostile) || strings.Contains(strings.ToLower(page), "<script") {
		t.Error("hostile organization name reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("hostile organization name not shown escaped")
	}
	if loc := externalRef.FindStringIndex(page); loc != nil {
		t.Errorf("external reference: %q", page[max(0, loc[0]-40):min(len(page), loc[1]+40)])
	}
	for _, want := range []string{
		`<svg class="chart"`, "Funnel", "no_email", "invalid_email", "unknown_organization",
		"too_many_requests", "external_id_mismatch", "member_missing", "field_drift", "Tiny &amp; Co",
		`href="extract/users.parquet"`, `href="load/ledger/"`, "(2 files)", "holds password hashes",
		">31<", ">7<", // requests and 429s from the manifest counters
		"per second", "changed", "matches",
		"Mapping rows that name no user", "user-typo", "All of them",
	} {
		if want == "holds password hashes" {
			continue // the fixture has no member_passwords.parquet
		}
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestReportWithOnlyThePlan(t *testing.T) {
	page := renderFixture(t, "extract", "transform")
	checkWellFormed(t, page)
	for _, want := range []string{"Not shown", "The load stage has not run.", "The verify stage has not run.",
		"not known", "not run"} {
		if !strings.Contains(page, want) {
			t.Errorf("plan-only report lacks %q", want)
		}
	}
}

func TestReportOfEmptyRunDir(t *testing.T) {
	page := renderFixture(t)
	checkWellFormed(t, page)
	if !strings.Contains(page, "extract stage has not run") {
		t.Error("empty report does not say extract has not run")
	}
}

func TestUnreadableFileIsReportedNotFatal(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := fixture(t, mem, "extract")
	if err := os.MkdirAll(filepath.Join(dir, "transform"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, schemas.Members.Path()), []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _, err := Build(context.Background(), openDir(t, dir), WithReaderOptions(schemas.WithReaderAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range m.Missing {
		found = found || strings.Contains(s, "transform/members.parquet could not be read")
	}
	if !found {
		t.Errorf("missing = %q", m.Missing)
	}
}

func TestBucketWidth(t *testing.T) {
	for _, tc := range []struct{ span, want int64 }{{1, 1}, {120, 1}, {121, 2}, {3600, 30}, {86400, 900}, {10 * 86400, 7200}, {100 * 86400, 86400}} {
		if got := bucketWidth(tc.span, 120); got != tc.want {
			t.Errorf("bucketWidth(%d) = %d, want %d", tc.span, got, tc.want)
		}
	}
}

func BenchmarkBuildAndRender(b *testing.B) {
	dir := fixture(b, memory.DefaultAllocator, "extract", "transform", "load", "verify", "manifest")
	d, err := pipeline.OpenRunDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m, _, err := Build(context.Background(), d)
		if err != nil {
			b.Fatal(err)
		}
		if err := Render(io.Discard, m); err != nil {
			b.Fatal(err)
		}
	}
}
