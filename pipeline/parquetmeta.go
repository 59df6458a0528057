package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/parquet/file"
)

// Parquet key-value metadata keys that every staged file carries. The schemas package writes
// them; these literals must stay equal to its own.
const (
	// MetaSchema is the key of the staged file's schema name, such as "users".
	MetaSchema = "stytch_migrate.schema"
	// MetaSchemaVersion is the key of the schema version, a decimal integer.
	MetaSchemaVersion = "stytch_migrate.schema_version"
	// MetaToolVersion is the key of the version of the tool that wrote the file.
	MetaToolVersion = "stytch_migrate.tool_version"
	// MetaRunID is the key of the run id of the run that wrote the file.
	MetaRunID = "stytch_migrate.run_id"
)

// parquetMagic starts and ends every Parquet file.
var parquetMagic = []byte("PAR1")

// ParquetMeta is what a Parquet file's footer says about it.
type ParquetMeta struct {
	// Rows is the number of rows in the file.
	Rows int64
	// RowGroups is the number of row groups.
	RowGroups int
	// Schema and SchemaVersion name the staged-file schema; empty and 0 for a file that is not
	// one of ours.
	Schema        string
	SchemaVersion int
	// ToolVersion and RunID tell which tool version and run wrote the file; empty if unknown.
	ToolVersion string
	RunID       string
	// KeyValue holds all key-value metadata, ours and the writer's (such as ARROW:schema).
	KeyValue map[string]string
}

// ReadParquetMeta reads the footer of the Parquet file at path. It reads no row data.
func ReadParquetMeta(path string) (ParquetMeta, error) {
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		return ParquetMeta{}, fmt.Errorf("read Parquet metadata %s: %w", path, err)
	}
	defer r.Close()
	meta := ParquetMeta{
		Rows:      r.NumRows(),
		RowGroups: r.NumRowGroups(),
		KeyValue:  map[string]string{},
	}
	kv := r.MetaData().KeyValueMetadata()
	keys, values := kv.Keys(), kv.Values()
	for i := range keys {
		meta.KeyValue[keys[i]] = values[i]
	}
	meta.Schema = meta.KeyValue[MetaSchema]
	meta.ToolVersion = meta.KeyValue[MetaToolVersion]
	meta.RunID = meta.KeyValue[MetaRunID]
	if v, ok := meta.KeyValue[MetaSchemaVersion]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return ParquetMeta{}, fmt.Errorf("read Parquet metadata %s: %s is %q, not an integer",
				path, MetaSchemaVersion, v)
		}
		meta.SchemaVersion = n
	}
	return meta, nil
}

// hasParquetMagic reports whether the open file f of size bytes starts and ends with the
// Parquet magic.
func hasParquetMagic(f io.ReaderAt, size int64) bool {
	if size < 2*int64(len(parquetMagic)) {
		return false
	}
	head := make([]byte, len(parquetMagic))
	tail := make([]byte, len(parquetMagic))
	if _, err := f.ReadAt(head, 0); err != nil {
		return false
	}
	if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return false
	}
	return bytes.Equal(head, parquetMagic) && bytes.Equal(tail, parquetMagic)
}

// isParquetFile reports whether path looks like a Parquet file (magic at both ends).
func isParquetFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	return hasParquetMagic(f, info.Size()), nil
}
