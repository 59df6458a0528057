package extract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source types accepted in Config.Type (the config's source.type).
const (
	// SourceStytchAPI reads users from the Consumer project's Search Users endpoint.
	SourceStytchAPI = "stytch_api"
	// SourceExportJSON reads the export utility's users.json: one JSON array of User objects.
	SourceExportJSON = "export_json"
	// SourceExportCSV reads the export utility's users.csv, whose header repeats on every page.
	SourceExportCSV = "export_csv"
	// SourceJSONL reads one User object per line.
	SourceJSONL = "jsonl"
)

// Bad-record policies accepted in Config.OnBadRecord.
const (
	// OnBadRecordFail stops the stage at the first malformed record; nothing is committed.
	OnBadRecordFail = "fail"
	// OnBadRecordQuarantine writes malformed records to extract/bad_records.parquet and goes on;
	// the stage result is then partial.
	OnBadRecordQuarantine = "quarantine"
)

// SinceLast is the Config.Since value that resumes after the newest created_at of the last
// successful extract recorded in the run directory.
const SinceLast = "last"

// Defaults of the API source.
const (
	// DefaultPageSize is the Search Users page size: Stytch's maximum.
	DefaultPageSize = 1000
	// MaxPageSize is the largest page size Stytch accepts.
	MaxPageSize = 1000
	// DefaultRequestsPerMinute keeps under Stytch's 150 requests/minute limit on Search Users,
	// with headroom for other clients of the same project.
	DefaultRequestsPerMinute = 120
)

// DefaultMemoryLimit is the soft Go memory limit the extract command runs the stage under
// (unless GOMEMLIMIT is set). The stage's live data is the Parquet writer's buffered row group,
// the duplicate-id set and a few blocks of input, about 200 MB for Stytch-shaped users; without a
// limit, garbage lets the heap grow to twice that.
const DefaultMemoryLimit = 320 << 20

// Config is the extract stage's configuration: the source section of migrate.yaml.
type Config struct {
	// Type is the source type: stytch_api, export_json, export_csv or jsonl.
	Type string `yaml:"type" json:"type"`
	// Path is the export file to read (file sources only).
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Since turns on incremental mode (stytch_api only): an RFC 3339 time, or "last" for the
	// newest created_at of the last successful extract in the run directory. Only users created
	// strictly after it are read.
	Since string `yaml:"since,omitempty" json:"since,omitempty"`
	// PageSize is the Search Users page size, 1–1000 (stytch_api only; 0 means 1000).
	PageSize int `yaml:"page_size,omitempty" json:"page_size,omitempty"`
	// RequestsPerMinute paces Search Users calls (stytch_api only; 0 means 120). Stytch allows
	// 150 per minute.
	RequestsPerMinute float64 `yaml:"requests_per_minute,omitempty" json:"requests_per_minute,omitempty"`
	// OnBadRecord is "fail" (the default) or "quarantine".
	OnBadRecord string `yaml:"on_bad_record,omitempty" json:"on_bad_record,omitempty"`
}

// ErrConfig marks every error returned by Config.Validate, so commands can map it to the
// configuration exit code.
var ErrConfig = errors.New("invalid extract config")

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if c.OnBadRecord == "" {
		c.OnBadRecord = OnBadRecordFail
	}
	return c
}

// Validate checks the config after defaults are applied; its errors wrap ErrConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	c = c.WithDefaults()
	switch c.Type {
	case SourceStytchAPI:
		if c.Path != "" {
			return bad("source.path is for file sources; source.type %s reads the API", c.Type)
		}
	case SourceExportJSON, SourceExportCSV, SourceJSONL:
		if c.Path == "" {
			return bad("source.path is required for source.type %s", c.Type)
		}
		if c.Since != "" {
			return bad("source.since (incremental mode) needs source.type %s", SourceStytchAPI)
		}
	case "":
		return bad("source.type is required (%s)", strings.Join(SourceTypes(), ", "))
	default:
		return bad("source.type %q is not one of %s", c.Type, strings.Join(SourceTypes(), ", "))
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		return bad("source.page_size %d is not in 1..%d", c.PageSize, MaxPageSize)
	}
	if c.RequestsPerMinute < 0 {
		return bad("source.requests_per_minute %v is negative", c.RequestsPerMinute)
	}
	switch c.OnBadRecord {
	case OnBadRecordFail, OnBadRecordQuarantine:
	default:
		return bad("on_bad_record %q is not %s or %s", c.OnBadRecord, OnBadRecordFail, OnBadRecordQuarantine)
	}
	if c.Since != "" && c.Since != SinceLast {
		if _, err := time.Parse(time.RFC3339Nano, c.Since); err != nil {
			return bad("source.since %q is neither %q nor an RFC 3339 time", c.Since, SinceLast)
		}
	}
	return nil
}

// SourceTypes lists the accepted source types.
func SourceTypes() []string {
	return []string{SourceStytchAPI, SourceExportJSON, SourceExportCSV, SourceJSONL}
}

// isFileSource reports whether t reads a file.
func isFileSource(t string) bool {
	return t == SourceExportJSON || t == SourceExportCSV || t == SourceJSONL
}
