package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Manifest file settings.
const (
	// ManifestFile is the run-directory-relative path of the manifest.
	ManifestFile = "manifest.json"
	// ManifestFormat is the version of the manifest's JSON layout.
	ManifestFormat = 1
	// manifestPerm is the manifest's permission.
	manifestPerm = 0o644
	// runIDRandomBytes is how many random bytes follow the time in a new run id.
	runIDRandomBytes = 4
)

// Stage statuses recorded in the manifest.
const (
	// StatusRunning means the stage started and has not finished; after a crash it stays so.
	StatusRunning = "running"
	// StatusOK means the stage's last run finished (possibly partial, see StageRecord.Partial).
	StatusOK = "ok"
	// StatusFailed means the stage's last run returned an error.
	StatusFailed = "failed"
)

// Manifest is the record of a run: manifest.json in the run directory. It is not safe for
// concurrent use; the process holding the run directory's lock owns it.
type Manifest struct {
	// Format is the manifest layout version, ManifestFormat.
	Format int `json:"format"`
	// RunID identifies the run; it is made when the manifest is first created.
	RunID string `json:"run_id"`
	// ToolVersion is the version of the tool that last ran a stage.
	ToolVersion string `json:"tool_version"`
	// CreatedAt and UpdatedAt are when the manifest was created and last saved.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Stages holds the last run of each stage, by stage name.
	Stages map[string]*StageRecord `json:"stages"`
	// History lists every stage run, oldest first; it is only appended to.
	History []HistoryEntry `json:"history"`
}

// StageRecord is the manifest's record of a stage's last run.
type StageRecord struct {
	// Status is StatusRunning, StatusOK or StatusFailed.
	Status string `json:"status"`
	// Stale is true when an earlier stage reran after this one succeeded; StaleBecause says
	// which and when.
	Stale        bool   `json:"stale"`
	StaleBecause string `json:"stale_because,omitempty"`
	// Partial is true when the run finished but rejected or failed some records.
	Partial bool `json:"partial,omitempty"`
	// ConfigHash is the hash of the stage's config section (see HashConfig).
	ConfigHash string `json:"config_hash"`
	// ToolVersion is the version of the tool that ran the stage.
	ToolVersion string `json:"tool_version,omitempty"`
	// StartedAt, FinishedAt and DurationMS time the run; FinishedAt is zero while running.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	DurationMS int64     `json:"duration_ms"`
	// Inputs and Outputs describe the files the run read and wrote, as they were when it ended.
	Inputs  []FileRecord `json:"inputs"`
	Outputs []FileRecord `json:"outputs"`
	// Counts and Details are what the stage reported (see Result).
	Counts  map[string]int64 `json:"counts,omitempty"`
	Details map[string]any   `json:"details,omitempty"`
	// Error is the error text of a failed run.
	Error string `json:"error,omitempty"`
}

// FileRecord describes a file a stage read or wrote.
type FileRecord struct {
	// Path is run-directory-relative with forward slashes (absolute for outside files).
	Path string `json:"path"`
	// SHA256 is the hex sha256 of the file's content, and Size its length in bytes.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Rows is the row count of a Parquet file; nil for other files.
	Rows *int64 `json:"rows,omitempty"`
	// Schema and SchemaVersion come from a staged Parquet file's key-value metadata.
	Schema        string `json:"schema,omitempty"`
	SchemaVersion int    `json:"schema_version,omitempty"`
}

// HistoryEntry is one stage run in the manifest's history.
type HistoryEntry struct {
	// Stage is the stage's name and Status how its run ended.
	Stage   string `json:"stage"`
	Status  string `json:"status"`
	Partial bool   `json:"partial,omitempty"`
	// ConfigHash and ToolVersion are the run's, as in StageRecord.
	ConfigHash  string `json:"config_hash"`
	ToolVersion string `json:"tool_version,omitempty"`
	// StartedAt, FinishedAt and DurationMS time the run.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS int64     `json:"duration_ms"`
	// Outputs are the files the run wrote.
	Outputs []FileRecord `json:"outputs,omitempty"`
	// Counts are the stage's totals.
	Counts map[string]int64 `json:"counts,omitempty"`
	// Error is the error text of a failed run.
	Error string `json:"error,omitempty"`
	// MarkedStale lists the later stages this run marked stale.
	MarkedStale []string `json:"marked_stale,omitempty"`
}

// NewManifest returns an empty manifest with a new run id.
func NewManifest() *Manifest {
	now := time.Now().UTC()
	return &Manifest{
		Format:    ManifestFormat,
		RunID:     newRunID(now),
		CreatedAt: now,
		UpdatedAt: now,
		Stages:    map[string]*StageRecord{},
	}
}

// LoadManifest reads the run directory's manifest. A missing manifest gives a new one (see
// NewManifest), not yet saved.
func LoadManifest(d *RunDir) (*Manifest, error) {
	path := d.Path(ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewManifest(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("open manifest %s: %w", path, err)
	}
	if m.Format > ManifestFormat {
		return nil, fmt.Errorf("open manifest %s: format %d is newer than this tool's %d",
			path, m.Format, ManifestFormat)
	}
	if m.RunID == "" {
		return nil, fmt.Errorf("open manifest %s: no run_id", path)
	}
	if m.Stages == nil {
		m.Stages = map[string]*StageRecord{}
	}
	return m, nil
}

// Save writes the manifest to the run directory atomically, setting UpdatedAt.
func (m *Manifest) Save(d *RunDir) error {
	m.UpdatedAt = time.Now().UTC()
	if m.Format == 0 {
		m.Format = ManifestFormat
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	if err := WriteFileAtomic(d.Path(ManifestFile), append(data, '\n'), manifestPerm); err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	return nil
}

// UpToDate reports whether stage can be skipped: its last run succeeded, it is not stale, its
// config hash equals configHash, every recorded input still has its recorded sha256 and every
// recorded output still exists with its recorded sha256. When it is not, why says so in a few
// words ("config changed", "input extract/users.parquet changed"). The error is for files that
// exist but cannot be read. A partial run counts as succeeded; callers that want to retry
// partial stages check StageRecord.Partial.
func (m *Manifest) UpToDate(stage, configHash string, dir *RunDir) (ok bool, why string, err error) {
	rec := m.Stages[stage]
	switch {
	case rec == nil:
		return false, "never run", nil
	case rec.Status != StatusOK:
		return false, "last run " + rec.Status, nil
	case rec.Stale:
		return false, "stale: " + rec.StaleBecause, nil
	case rec.ConfigHash != configHash:
		return false, "config changed", nil
	}
	check := func(kind string, files []FileRecord) (string, error) {
		for _, f := range files {
			sum, _, err := fileSHA256(dir.Path(f.Path))
			if errors.Is(err, fs.ErrNotExist) {
				return kind + " " + f.Path + " missing", nil
			}
			if err != nil {
				return "", fmt.Errorf("check %s %s: %w", stage, kind, err)
			}
			if sum != f.SHA256 {
				return kind + " " + f.Path + " changed", nil
			}
		}
		return "", nil
	}
	for _, files := range []struct {
		kind string
		list []FileRecord
	}{{"input", rec.Inputs}, {"output", rec.Outputs}} {
		why, err := check(files.kind, files.list)
		if err != nil || why != "" {
			return false, why, err
		}
	}
	return true, "", nil
}

// markLaterStale marks every stage after stage in StageOrder that had succeeded as stale,
// saying because, and returns their names.
func (m *Manifest) markLaterStale(stage, because string) []string {
	i := stageIndex(stage)
	if i < 0 {
		return nil
	}
	var marked []string
	for _, later := range StageOrder()[i+1:] {
		rec := m.Stages[later]
		if rec == nil || rec.Status != StatusOK || rec.Stale {
			continue
		}
		rec.Stale = true
		rec.StaleBecause = because
		marked = append(marked, later)
	}
	return marked
}

// newRunID returns a run id made of the time and random bytes: "20260102T150405Z-1a2b3c4d".
func newRunID(now time.Time) string {
	b := make([]byte, runIDRandomBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// describeFile records the file at rel in d: its sha256 (sum when the caller already has it, else
// read from the file) and size, and for a Parquet file its rows and schema from the footer.
func describeFile(d *RunDir, rel, sum string) (FileRecord, error) {
	path := d.Path(rel)
	var size int64
	if sum != "" {
		info, err := os.Stat(path)
		if err != nil {
			return FileRecord{}, err
		}
		size = info.Size()
	} else {
		var err error
		if sum, size, err = fileSHA256(path); err != nil {
			return FileRecord{}, err
		}
	}
	rec := FileRecord{Path: d.Rel(path), SHA256: sum, Size: size}
	isPQ, err := isParquetFile(path)
	if err != nil {
		return FileRecord{}, err
	}
	if !isPQ {
		return rec, nil
	}
	meta, err := ReadParquetMeta(path)
	if err != nil {
		return FileRecord{}, err
	}
	rows := meta.Rows
	rec.Rows = &rows
	rec.Schema = meta.Schema
	rec.SchemaVersion = meta.SchemaVersion
	return rec, nil
}
