package report

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Defaults of the report.
const (
	// DefaultTopN is how many organizations the duplicates and largest-organizations charts show.
	DefaultTopN = 10
	// DefaultDriftSample is how many drift rows the report lists.
	DefaultDriftSample = 25
	// DefaultMaxBuckets bounds the number of bars of the request timeline.
	DefaultMaxBuckets = 120
	// ReportFile is the report's run-directory-relative path.
	ReportFile = "report.html"
	// reportPerm is the report's mode.
	reportPerm = 0o644
)

// Load outcomes that mean the planned object is in the target (stages/load's outcome names; stages
// never import each other, so they are repeated here).
var loadedOutcomes = map[string]bool{
	"created": true, "existing": true, "external_id_assigned": true, "external_id_reassigned": true,
	"password_skipped_unverified": true,
}

// Load outcomes counted as failures in the timeline and the error-type table.
var failedOutcomes = map[string]bool{"failed": true, "conflict": true, "skipped_org_failed": true}

// rateLimitedError is Stytch's error type of a 429.
const rateLimitedError = "too_many_requests"

// Folders whose files are listed as one row: the ledgers hold many small segments.
var collapsedDirs = []string{"load/ledger", "load/rollback_ledger", "load/rolled_back"}

// ledgerDir is where the load stage writes its ledger segments.
const ledgerDir = "load/ledger"

// builder gathers a Model. Each collector adds what its file gives and notes what is missing.
type builder struct {
	dir     *pipeline.RunDir
	cfg     buildConfig
	m       *Model
	inputs  []string
	planned int64
	known   map[string]bool
	// memberDrift counts distinct planned members with drift (missing or field drift).
	memberDrift int64
	loaded      int64
}

type buildConfig struct {
	topN, driftSample, maxBuckets int
	ropts                         []schemas.ReaderOption
	now                           func() time.Time
}

// Build reads the run directory and returns the report's model and the run-directory-relative
// paths of the staged files it read. Missing files are not an error: the model says what is
// missing. A staged file that exists but cannot be read is noted in Model.Missing too, so that a
// report can always be made; only a run directory that cannot be listed is an error.
func Build(ctx context.Context, dir *pipeline.RunDir, opts ...Option) (*Model, []string, error) {
	s := New(opts...)
	return s.build(ctx, dir)
}

func (s *Stage) build(ctx context.Context, dir *pipeline.RunDir) (*Model, []string, error) {
	b := &builder{dir: dir, cfg: s.cfg, m: &Model{GeneratedAt: s.cfg.now().UTC()}, known: map[string]bool{}}
	man, err := b.manifest()
	if err != nil {
		return nil, nil, err
	}
	steps := []func() error{b.users, b.rejects, b.mappingUnmatched, b.organizations, b.members, b.duplicates,
		b.loadResults, b.timeline, b.drift}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	b.funnel()
	if err := b.files(ctx, man); err != nil {
		return nil, nil, err
	}
	return b.m, b.inputs, nil
}

// exists reports whether the run-directory-relative file exists.
func (b *builder) exists(rel string) bool {
	_, err := os.Stat(b.dir.Path(rel))
	return err == nil
}

// missing notes a sentence about what the report cannot show.
func (b *builder) missing(format string, args ...any) {
	b.m.Missing = append(b.m.Missing, fmt.Sprintf(format, args...))
}

// unreadable notes a staged file that exists but could not be read.
func (b *builder) unreadable(rel string, err error) {
	b.missing("%s could not be read: %v", rel, err)
}

// manifest reads manifest.json into the stage table.
func (b *builder) manifest() (*pipeline.Manifest, error) {
	var man *pipeline.Manifest
	if b.exists(pipeline.ManifestFile) {
		m, err := pipeline.LoadManifest(b.dir)
		if err != nil {
			b.unreadable(pipeline.ManifestFile, err)
		} else {
			man = m
			b.m.HasManifest = true
			b.m.RunID, b.m.ToolVersion = m.RunID, m.ToolVersion
		}
	} else {
		b.missing("%s is missing: stage statuses, request counters and checksum comparisons are not shown.",
			pipeline.ManifestFile)
	}
	for _, name := range pipeline.StageOrder() {
		info := StageInfo{Name: name, Status: "not run"}
		if man != nil {
			if rec := man.Stages[name]; rec != nil {
				info.Status, info.Partial, info.Stale, info.Error = rec.Status, rec.Partial, rec.Stale, rec.Error
				info.StartedAt = rec.StartedAt
				info.Duration = time.Duration(rec.DurationMS) * time.Millisecond
				if name == pipeline.StageReport && rec.Status == pipeline.StatusRunning {
					info.Status = "writing this report"
				}
			}
		}
		b.m.Stages = append(b.m.Stages, info)
	}
	if man != nil && man.Stages[pipeline.StageLoad] != nil {
		if c := man.Stages[pipeline.StageLoad].Counts; c != nil {
			if _, ok := c["requests"]; ok {
				b.loadSummary().CountersKnown = true
				b.m.Load.Requests, b.m.Load.Retries = c["requests"], c["retries"]
				b.m.Load.RateLimited, b.m.Load.ServerErrors = c["rate_limited"], c["server_errors"]
			}
		}
	}
	return man, nil
}

// loadSummary returns the model's load summary, creating it.
func (b *builder) loadSummary() *LoadSummary {
	if b.m.Load == nil {
		b.m.Load = &LoadSummary{}
	}
	return b.m.Load
}

// noteRun fills RunID and ToolVersion from a staged file when the manifest did not.
func (b *builder) noteRun(info schemas.FileInfo) {
	if b.m.RunID == "" {
		b.m.RunID = info.RunID
	}
	if b.m.ToolVersion == "" {
		b.m.ToolVersion = info.ToolVersion
	}
}

// each streams the rows of the staged file rel (when present) through fn. It reports whether the
// file was read; a missing file gives false and no error, an unreadable one false and a note.
func each[T any](b *builder, spec *schemas.Spec[T], rel string, fn func(*T)) bool {
	if !b.exists(rel) {
		return false
	}
	r, err := schemas.Open(b.dir.Path(rel), spec, b.cfg.ropts...)
	if err != nil {
		b.unreadable(rel, err)
		return false
	}
	defer r.Close()
	b.noteRun(r.Info())
	for r.Next() {
		fn(r.Row())
	}
	if err := r.Err(); err != nil {
		b.unreadable(rel, err)
		return false
	}
	b.inputs = append(b.inputs, rel)
	b.known[rel] = true
	return true
}

// rows returns the row count of a staged file from its footer, and whether it could be read.
func (b *builder) rows(rel string, spec schemas.Schema) (int64, bool) {
	if !b.exists(rel) {
		return 0, false
	}
	info, err := schemas.ReadInfo(b.dir.Path(rel))
	if err != nil {
		b.unreadable(rel, err)
		return 0, false
	}
	if info.Schema != spec.Name() || info.Version != spec.Version() {
		b.unreadable(rel, fmt.Errorf("holds schema %q version %d, expected %q version %d",
			info.Schema, info.Version, spec.Name(), spec.Version()))
		return 0, false
	}
	b.noteRun(info)
	b.inputs = append(b.inputs, rel)
	b.known[rel] = true
	return info.Rows, true
}

func (b *builder) users() error {
	n, ok := b.rows(schemas.Users.Path(), schemas.Users)
	if !ok {
		b.missing("%s is missing: the extract stage has not run, so the funnel starts at the plan.",
			schemas.Users.Path())
		return nil
	}
	b.m.Funnel = append(b.m.Funnel, FunnelStep{Label: "users", Count: n, Known: true,
		Help: "Consumer users extracted"})
	return nil
}

// userRejects counts user-scope rejects, for the eligible step.
func (b *builder) rejects() error {
	rel := schemas.Rejects.Path()
	counts := map[string]int64{}
	var total, userScope int64
	ok := each(b, schemas.Rejects, rel, func(r *schemas.Reject) {
		total++
		counts[r.Scope+": "+r.Reason]++
		if r.Scope == "user" {
			userScope++
		}
	})
	if !ok {
		b.missing("%s is missing: rejects by reason and the eligible step are not shown.", rel)
		return nil
	}
	b.m.Rejects = &RejectSummary{Total: total, ByReason: sortCounts(counts, 0)}
	if len(b.m.Funnel) == 1 {
		b.m.Funnel = append(b.m.Funnel, FunnelStep{Label: "eligible", Count: b.m.Funnel[0].Count - userScope, Known: true,
			Help: "users not rejected as a whole (no_email, invalid_email, no_organization, metadata_too_large)"})
	}
	return nil
}

// mappingUnmatched summarizes the mapping file's rows that name no user. The file is only
// written with strategy mapping, so its absence is not worth a note.
func (b *builder) mappingUnmatched() error {
	s := &MappingUnmatchedSummary{Sample: []MappingUnmatchedSample{}}
	ok := each(b, schemas.MappingUnmatched, schemas.MappingUnmatched.Path(), func(r *schemas.UnmatchedMappingRow) {
		s.Total++
		if len(s.Sample) < b.cfg.driftSample {
			v := r.UserID
			if r.MatchedBy == "email" {
				v = r.Email
			}
			s.Sample = append(s.Sample, MappingUnmatchedSample{Line: r.Line, MatchedBy: r.MatchedBy, Value: v, OrgKey: r.OrgKey})
		}
	})
	if ok {
		b.m.MappingUnmatched = s
	}
	return nil
}

func (b *builder) organizations() error {
	rel := schemas.Organizations.Path()
	var top []OrgSize
	ok := each(b, schemas.Organizations, rel, func(o *schemas.Organization) {
		top = pushTop(top, OrgSize{OrgKey: o.OrgKey, Name: o.Name, Slug: o.Slug, Members: o.MemberCount}, b.cfg.topN)
	})
	if !ok {
		b.missing("%s is missing: the largest organizations are not shown.", rel)
		return nil
	}
	b.m.LargestOrgs = top
	if top == nil {
		b.m.LargestOrgs = []OrgSize{}
	}
	return nil
}

// pushTop keeps the n largest organizations, largest first (ties by org key).
func pushTop(top []OrgSize, o OrgSize, n int) []OrgSize {
	i, _ := slices.BinarySearchFunc(top, o, compareOrgSize)
	if i >= n {
		return top
	}
	top = slices.Insert(top, i, o)
	if len(top) > n {
		top = top[:n]
	}
	return top
}

func compareOrgSize(a, b OrgSize) int {
	if c := cmp.Compare(b.Members, a.Members); c != 0 {
		return c
	}
	return cmp.Compare(a.OrgKey, b.OrgKey)
}

func (b *builder) members() error {
	n, ok := b.rows(schemas.Members.Path(), schemas.Members)
	if !ok {
		b.missing("%s is missing: the transform stage has not run (no planned members).", schemas.Members.Path())
		return nil
	}
	b.planned = n
	b.known["members"] = true
	return nil
}

func (b *builder) duplicates() error {
	rel := schemas.Duplicates.Path()
	byOrg, byRule := map[string]int64{}, map[string]int64{}
	var total int64
	ok := each(b, schemas.Duplicates, rel, func(d *schemas.Duplicate) {
		total++
		byOrg[d.OrgKey]++
		byRule[d.Rule]++
	})
	if !ok {
		b.missing("%s is missing: duplicates per organization are not shown.", rel)
		return nil
	}
	b.m.Duplicates = &DuplicateSummary{Total: total, ByRule: sortCounts(byRule, 0), TopOrgs: sortCounts(byOrg, b.cfg.topN),
		Orgs: len(byOrg)}
	return nil
}

func (b *builder) loadResults() error {
	orgOut, memOut, errTypes := map[string]int64{}, map[string]int64{}, map[string]int64{}
	orgsOK := each(b, schemas.OrganizationResults, schemas.OrganizationResults.Path(), func(r *schemas.OrganizationResult) {
		orgOut[r.Outcome]++
		if r.ErrorType != "" {
			errTypes["organization: "+r.ErrorType]++
		}
	})
	membersOK := each(b, schemas.MemberResults, schemas.MemberResults.Path(), func(r *schemas.MemberResult) {
		memOut[r.Outcome]++
		if loadedOutcomes[r.Outcome] {
			b.loaded++
		}
		if r.ErrorType != "" {
			errTypes["member: "+r.ErrorType]++
		}
	})
	if !orgsOK && !membersOK {
		b.missing("load/organizations.parquet and load/members.parquet are missing: the load stage has not " +
			"finished, so load outcomes and the loaded step are not shown.")
		return nil
	}
	l := b.loadSummary()
	l.Organizations, l.Members, l.ErrorTypes = sortCounts(orgOut, 0), sortCounts(memOut, 0), sortCounts(errTypes, 0)
	if membersOK {
		b.known["loaded"] = true
	}
	return nil
}

// timeline buckets the ledger entries by their timestamps.
func (b *builder) timeline() error {
	segs, err := listParquet(b.dir.Path(ledgerDir))
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	if len(segs) == 0 {
		b.missing("%s/ has no segments: the request timeline is not shown.", ledgerDir)
		return nil
	}
	perSecond := map[int64]*Bucket{}
	var first, last int64
	var entries int64
	for _, seg := range segs {
		rel := ledgerDir + "/" + seg
		each(b, schemas.Ledger, rel, func(e *schemas.LedgerEntry) {
			if e.At.IsZero() {
				return
			}
			sec := e.At.Unix()
			if entries == 0 || sec < first {
				first = sec
			}
			if entries == 0 || sec > last {
				last = sec
			}
			entries++
			bk := perSecond[sec]
			if bk == nil {
				bk = &Bucket{}
				perSecond[sec] = bk
			}
			bk.Outcomes++
			bk.Attempts += int64(e.Attempts)
			if e.Attempts > 1 {
				bk.Retries += int64(e.Attempts - 1)
			}
			if e.ErrorType == rateLimitedError {
				bk.RateLimited++
			}
			if failedOutcomes[e.Outcome] {
				bk.Failed++
			}
		})
	}
	if entries == 0 {
		b.missing("%s/ holds no timestamped entries: the request timeline is not shown.", ledgerDir)
		return nil
	}
	width := bucketWidth(last-first+1, int64(b.cfg.maxBuckets))
	start := first - first%width
	n := (last-start)/width + 1
	t := &Timeline{Start: time.Unix(start, 0).UTC(), BucketSeconds: width, Buckets: make([]Bucket, n),
		Entries: entries, Segments: len(segs)}
	for sec, bk := range perSecond {
		dst := &t.Buckets[(sec-start)/width]
		dst.Outcomes += bk.Outcomes
		dst.Attempts += bk.Attempts
		dst.Retries += bk.Retries
		dst.RateLimited += bk.RateLimited
		dst.Failed += bk.Failed
	}
	b.m.Timeline = t
	return nil
}

// niceWidths are the bucket widths, in seconds, the timeline picks from.
var niceWidths = []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400}

// bucketWidth returns the smallest nice width that cuts span seconds into at most maxBuckets.
func bucketWidth(span, maxBuckets int64) int64 {
	for _, w := range niceWidths {
		if (span+w-1)/w <= maxBuckets {
			return w
		}
	}
	day := niceWidths[len(niceWidths)-1]
	return ((span+maxBuckets-1)/maxBuckets + day - 1) / day * day
}

// listParquet lists the Parquet files of dir by name (ledger segments sort by sequence number).
func listParquet(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".parquet") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (b *builder) drift() error {
	rel := schemas.Drift.Path()
	byKind, byField := map[string]int64{}, map[string]int64{}
	drifted := map[[2]string]bool{}
	d := &DriftSummary{Sample: []DriftSample{}}
	ok := each(b, schemas.Drift, rel, func(r *schemas.DriftRow) {
		d.Total++
		byKind[r.Kind]++
		if r.Field != "" {
			byField[r.Field]++
		}
		if (r.Kind == "member_missing" || r.Kind == "field_drift") && r.SourceUserID != "" {
			drifted[[2]string{r.OrgKey, r.SourceUserID}] = true
		}
		if len(d.Sample) < b.cfg.driftSample {
			d.Sample = append(d.Sample, DriftSample{Kind: r.Kind, OrgKey: r.OrgKey, SourceUserID: r.SourceUserID,
				MemberID: r.MemberID, EmailAddress: r.EmailAddress, Field: r.Field, Expected: r.Expected, Actual: r.Actual})
		}
	})
	if !ok {
		b.missing("%s is missing: the verify stage has not run, so the verified step and drift are not shown.", rel)
		return nil
	}
	d.ByKind, d.ByField = sortCounts(byKind, 0), sortCounts(byField, 0)
	b.m.Drift = d
	b.memberDrift = int64(len(drifted))
	b.known["verified"] = true
	return nil
}

// funnel completes the funnel from what the collectors found.
func (b *builder) funnel() {
	f := b.m.Funnel
	if len(f) == 0 {
		f = append(f, FunnelStep{Label: "users", Help: "Consumer users extracted"})
	}
	if len(f) == 1 {
		f = append(f, FunnelStep{Label: "eligible", Help: "users not rejected as a whole"})
	}
	f = append(f,
		FunnelStep{Label: "members", Count: b.planned, Known: b.known["members"],
			Help: "planned memberships after dedupe (one user may be a member of several organizations)"},
		FunnelStep{Label: "loaded", Count: b.loaded, Known: b.known["loaded"],
			Help: "planned members the load found or created in the target"},
		FunnelStep{Label: "verified", Count: max(0, b.planned-b.memberDrift), Known: b.known["verified"] && b.known["members"],
			Help: "planned members read back from the target without drift"},
	)
	b.m.Funnel = f
}

// files lists every file of the run directory, hashing each and comparing with the manifest.
func (b *builder) files(ctx context.Context, man *pipeline.Manifest) error {
	recorded := map[string]string{}
	if man != nil {
		for _, rec := range man.Stages {
			for _, f := range slices.Concat(rec.Inputs, rec.Outputs) {
				recorded[f.Path] = f.SHA256
			}
		}
	}
	folders := map[string]*FileEntry{}
	var out []FileEntry
	root := b.dir.Root()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if p != root && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // lock file, temporary files
		}
		if d.IsDir() {
			return nil
		}
		rel := filepath.ToSlash(b.dir.Rel(p))
		if rel == ReportFile {
			return nil
		}
		e := FileEntry{Path: rel, Manifest: "not recorded",
			Sensitive: rel == schemas.MemberPasswords.Path()}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e.Size = info.Size()
		if strings.HasSuffix(name, ".parquet") {
			if fi, err := schemas.ReadInfo(p); err != nil {
				e.Error = err.Error()
			} else {
				rows := fi.Rows
				e.Rows = &rows
				if fi.Schema != "" {
					e.Schema = fmt.Sprintf("%s v%d", fi.Schema, fi.Version)
				}
			}
		}
		if folder := collapsedFolder(rel); folder != "" {
			agg := folders[folder]
			if agg == nil {
				agg = &FileEntry{Path: folder + "/", Manifest: "not recorded", Schema: e.Schema}
				folders[folder] = agg
			}
			agg.Files++
			agg.Size += e.Size
			if e.Rows != nil {
				agg.Rows = ptr(deref(agg.Rows) + *e.Rows)
			}
			return nil
		}
		sum, err := sha256File(p)
		if err != nil {
			e.Error = err.Error()
		}
		e.SHA256 = sum
		if want, ok := recorded[rel]; ok {
			e.Manifest = "matches"
			if want != sum {
				e.Manifest = "changed"
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list run directory %s: %w", root, err)
	}
	for _, f := range folders {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, c FileEntry) int { return cmp.Compare(fileOrder(a.Path), fileOrder(c.Path)) })
	b.m.Files = out
	if out == nil {
		b.m.Files = []FileEntry{}
	}
	return nil
}

// fileOrder sorts files by stage folder in pipeline order, then by path.
func fileOrder(p string) string {
	top, _, _ := strings.Cut(p, "/")
	if !strings.Contains(p, "/") {
		return "0" + p
	}
	if i := slices.Index(pipeline.StageOrder(), top); i >= 0 {
		return fmt.Sprintf("%d%s", i+1, p)
	}
	return "9" + p
}

// collapsedFolder returns the collapsed folder holding rel, or "".
func collapsedFolder(rel string) string {
	for _, f := range collapsedDirs {
		if path.Dir(rel) == f || strings.HasPrefix(rel, f+"/") {
			return f
		}
	}
	return ""
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sortCounts turns a map into counts, most frequent first (ties by key), keeping the first n
// (all when n is 0). It never returns nil.
func sortCounts(m map[string]int64, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Key: k, N: v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
