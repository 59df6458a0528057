package schemas

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// Key-value metadata keys carried by every staged Parquet file.
const (
	// MetaSchemaName holds the schema name, for example "users".
	MetaSchemaName = "stytch_migrate.schema"
	// MetaSchemaVersion holds the schema version as a decimal integer.
	MetaSchemaVersion = "stytch_migrate.schema_version"
	// MetaToolVersion holds the version of the tool that wrote the file.
	MetaToolVersion = "stytch_migrate.tool_version"
	// MetaRunID holds the id of the run that wrote the file.
	MetaRunID = "stytch_migrate.run_id"
)

// Schema describes one staged file format independently of its Go row type.
type Schema interface {
	// Name is the schema's stable name, for example "users".
	Name() string
	// Version is the schema's version; it changes whenever the columns change.
	Version() int
	// Arrow is the Arrow schema of the file's records.
	Arrow() *arrow.Schema
	// Path is the file's conventional path relative to the run directory.
	Path() string
}

// Spec is the schema of one staged file together with the mapping between its records and the Go
// row type T. Specs are declared once in this package and are read-only.
type Spec[T any] struct {
	name    string
	version int
	path    string
	cols    []column[T]
	schema  *arrow.Schema
}

func newSpec[T any](name string, version int, path string, cols ...column[T]) *Spec[T] {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
	}
	return &Spec[T]{name: name, version: version, path: path, cols: cols, schema: arrow.NewSchema(fields, nil)}
}

// Name is the schema's stable name.
func (s *Spec[T]) Name() string { return s.name }

// Version is the schema's version.
func (s *Spec[T]) Version() int { return s.version }

// Arrow is the Arrow schema of the file's records.
func (s *Spec[T]) Arrow() *arrow.Schema { return s.schema }

// Path is the file's conventional path relative to the run directory.
func (s *Spec[T]) Path() string { return s.path }

// All lists the schema of every file the stages write, in pipeline order; the last is the
// transform stage's temporary spill files.
func All() []Schema {
	return []Schema{
		Users, BadRecords,
		Organizations, Members, MemberPasswords, Rejects, Duplicates, MappingUnmatched,
		Ledger, OrganizationResults, MemberResults,
		Drift,
		SpillMemberships,
	}
}

// Lookup returns the schema with the given name, or nil.
func Lookup(name string) Schema {
	for _, s := range All() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// FileMeta is what a writer records about the run in a file's key-value metadata.
type FileMeta struct {
	// ToolVersion is the version of the tool writing the file.
	ToolVersion string
	// RunID is the id of the run writing the file.
	RunID string
	// Extra holds further key-value pairs to record; keys should be namespaced.
	Extra map[string]string
}

// VersionError reports a staged file whose schema is not the one a reader expects.
type VersionError struct {
	File         string
	WantName     string
	WantVersion  int
	FoundName    string
	FoundVersion string
}

func (e *VersionError) Error() string {
	if e.FoundName == "" {
		return fmt.Sprintf("%s: not a stytch-migrate %q file (no %s metadata)", e.File, e.WantName, MetaSchemaName)
	}
	if e.FoundName != e.WantName {
		return fmt.Sprintf("%s: holds schema %q, expected %q", e.File, e.FoundName, e.WantName)
	}
	return fmt.Sprintf("%s: schema %q version %s, this tool reads version %d", e.File, e.WantName, e.FoundVersion, e.WantVersion)
}

func checkVersion(file string, s Schema, kv map[string]string) error {
	name, ver := kv[MetaSchemaName], kv[MetaSchemaVersion]
	if name != s.Name() || ver != strconv.Itoa(s.Version()) {
		return &VersionError{File: file, WantName: s.Name(), WantVersion: s.Version(), FoundName: name, FoundVersion: ver}
	}
	return nil
}
