package report

import "time"

// Model is everything the report shows, gathered from a run directory by [Build]. It is plain
// data: the HTML is rendered from it, and its JSON form is what the golden tests compare.
type Model struct {
	// RunID and ToolVersion come from the manifest, else from a staged file's metadata.
	RunID       string `json:"run_id"`
	ToolVersion string `json:"tool_version"`
	// GeneratedAt is when the report was built; it is left out of the JSON form.
	GeneratedAt time.Time `json:"-"`
	// HasManifest says whether manifest.json was found.
	HasManifest bool `json:"has_manifest"`
	// Stages lists every pipeline stage in run order with what the manifest says of it.
	Stages []StageInfo `json:"stages"`
	// Missing explains, one sentence each, what the report cannot show and why.
	Missing []string `json:"missing"`
	// Funnel is users → eligible → members → loaded → verified.
	Funnel []FunnelStep `json:"funnel"`
	// Rejects counts transform rejects by scope and reason; nil when rejects.parquet is absent.
	Rejects *RejectSummary `json:"rejects,omitempty"`
	// MappingUnmatched summarizes transform/mapping_unmatched.parquet (strategy mapping); nil
	// when it is absent.
	MappingUnmatched *MappingUnmatchedSummary `json:"mapping_unmatched,omitempty"`
	// Duplicates summarizes duplicates.parquet; nil when it is absent.
	Duplicates *DuplicateSummary `json:"duplicates,omitempty"`
	// Load summarizes the load result files and the load stage's request counters; nil when
	// load/members.parquet and load/organizations.parquet are both absent.
	Load *LoadSummary `json:"load,omitempty"`
	// Timeline is the load's activity over time from the ledger segments; nil without a ledger.
	Timeline *Timeline `json:"timeline,omitempty"`
	// LargestOrgs are the planned organizations with the most members; nil without a plan.
	LargestOrgs []OrgSize `json:"largest_orgs,omitempty"`
	// Drift summarizes verify/drift.parquet; nil when it is absent.
	Drift *DriftSummary `json:"drift,omitempty"`
	// Files lists every file of the run directory with its size, checksum and rows.
	Files []FileEntry `json:"files"`
}

// StageInfo is one stage's status as recorded in the manifest.
type StageInfo struct {
	Name string `json:"name"`
	// Status is the manifest's status ("ok", "failed", "running"), or "not run".
	Status  string `json:"status"`
	Partial bool   `json:"partial,omitempty"`
	Stale   bool   `json:"stale,omitempty"`
	// StartedAt and Duration time the last run; they are left out of the JSON form.
	StartedAt time.Time     `json:"-"`
	Duration  time.Duration `json:"-"`
	Error     string        `json:"error,omitempty"`
}

// FunnelStep is one step of the funnel. Known is false when the files behind it are missing.
type FunnelStep struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
	Known bool   `json:"known"`
	// Help says how the step is counted.
	Help string `json:"help"`
}

// Count is a number of rows with one key (a reason, an outcome, an organization).
type Count struct {
	Key string `json:"key"`
	N   int64  `json:"n"`
}

// RejectSummary counts rejects.
type RejectSummary struct {
	Total int64 `json:"total"`
	// ByReason keys are "scope: reason", most frequent first.
	ByReason []Count `json:"by_reason"`
}

// DuplicateSummary counts duplicates.
type DuplicateSummary struct {
	Total  int64   `json:"total"`
	ByRule []Count `json:"by_rule"`
	// TopOrgs are the organizations with the most duplicates (keys are org keys).
	TopOrgs []Count `json:"top_orgs"`
	// Orgs is the number of organizations with at least one duplicate.
	Orgs int `json:"orgs"`
}

// LoadSummary counts load outcomes and requests.
type LoadSummary struct {
	Organizations []Count `json:"organizations"`
	Members       []Count `json:"members"`
	// ErrorTypes counts the error types of failed or conflicting members and organizations.
	ErrorTypes []Count `json:"error_types"`
	// Requests, Retries, RateLimited and ServerErrors are the load stage's counters from the
	// manifest; CountersKnown is false without them.
	CountersKnown bool  `json:"counters_known"`
	Requests      int64 `json:"requests"`
	Retries       int64 `json:"retries"`
	RateLimited   int64 `json:"rate_limited"`
	ServerErrors  int64 `json:"server_errors"`
}

// Timeline is the load's activity over time, bucketed from the ledger entries' timestamps.
type Timeline struct {
	// Start is the first bucket's start; BucketSeconds the width of every bucket.
	Start         time.Time `json:"start"`
	BucketSeconds int64     `json:"bucket_seconds"`
	Buckets       []Bucket  `json:"buckets"`
	// Entries is the number of ledger entries read, Segments the number of segments.
	Entries  int64 `json:"entries"`
	Segments int   `json:"segments"`
}

// Bucket is one time slice of the timeline.
type Bucket struct {
	// Outcomes is the number of ledger entries recorded in the bucket.
	Outcomes int64 `json:"outcomes"`
	// Attempts sums the entries' HTTP attempts: the requests of the outcomes recorded then.
	Attempts int64 `json:"attempts"`
	// Retries sums attempts beyond each outcome's first: lookups before a create and retries
	// after a 429, a 5xx or a network error (the ledger does not tell them apart).
	Retries int64 `json:"retries"`
	// RateLimited counts entries that failed with too_many_requests (the client gave up on 429s).
	RateLimited int64 `json:"rate_limited"`
	// Failed counts entries whose outcome is failed or conflict.
	Failed int64 `json:"failed"`
}

// OrgSize is a planned organization and its member count.
type OrgSize struct {
	OrgKey  string `json:"org_key"`
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	Members int64  `json:"members"`
}

// DriftSummary counts verify's findings.
type DriftSummary struct {
	Total   int64   `json:"total"`
	ByKind  []Count `json:"by_kind"`
	ByField []Count `json:"by_field"`
	// Sample holds the first rows of drift.parquet, for a look without a Parquet reader.
	Sample []DriftSample `json:"sample"`
}

// MappingUnmatchedSummary counts the mapping file's rows that name no user of the extract.
type MappingUnmatchedSummary struct {
	Total int64 `json:"total"`
	// Sample holds the first rows of mapping_unmatched.parquet.
	Sample []MappingUnmatchedSample `json:"sample"`
}

// MappingUnmatchedSample is one row of mapping_unmatched.parquet: Value is its user_id, or its
// email when it was matched by email.
type MappingUnmatchedSample struct {
	Line      int64  `json:"line"`
	MatchedBy string `json:"matched_by"`
	Value     string `json:"value"`
	OrgKey    string `json:"org_key"`
}

// DriftSample is one row of drift.parquet.
type DriftSample struct {
	Kind         string `json:"kind"`
	OrgKey       string `json:"org_key"`
	SourceUserID string `json:"source_user_id"`
	MemberID     string `json:"member_id"`
	EmailAddress string `json:"email_address"`
	Field        string `json:"field"`
	Expected     string `json:"expected"`
	Actual       string `json:"actual"`
}

// FileEntry is one file (or a collapsed folder of ledger segments) of the run directory.
type FileEntry struct {
	// Path is run-directory-relative with forward slashes; folders end with "/".
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is the hex checksum of the content; empty for a folder.
	SHA256 string `json:"sha256,omitempty"`
	// Rows is the row count of a Parquet file or folder of Parquet files; nil for other files.
	Rows *int64 `json:"rows,omitempty"`
	// Schema is the staged file's schema name and version, e.g. "members v1".
	Schema string `json:"schema,omitempty"`
	// Files is the number of files of a collapsed folder.
	Files int `json:"files,omitempty"`
	// Manifest says how the file compares with the manifest's record of it: "matches",
	// "changed" or "not recorded".
	Manifest string `json:"manifest"`
	// Sensitive marks files holding secrets (password hashes).
	Sensitive bool `json:"sensitive,omitempty"`
	// Error is set when the file could not be read.
	Error string `json:"error,omitempty"`
}
