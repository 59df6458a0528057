package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Output formats.
const (
	// FormatTable is for people: a summary, then the rows as an aligned table.
	FormatTable Format = "table"
	// FormatJSON is for scripts: one JSON object describing the file, then one per row.
	FormatJSON Format = "json"
)

// Defaults.
const (
	// DefaultLimit is how many rows are shown when no limit is given.
	DefaultLimit = 10
	// maxBatchRows caps the rows read per batch.
	maxBatchRows = 1024
)

// parquetMagic starts and ends every Parquet file.
var parquetMagic = []byte("PAR1")

// Format is an output format: FormatTable or FormatJSON.
type Format string

// ParseFormat returns the Format named s, or an error listing the formats.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatTable, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want %s or %s)", s, FormatTable, FormatJSON)
}

// Option changes how File describes a file.
type Option func(*options)

// options are File's settings.
type options struct {
	limit  int
	format Format
	mem    memory.Allocator
}

// WithLimit shows the first n rows (DefaultLimit by default; 0 shows none).
func WithLimit(n int) Option { return func(o *options) { o.limit = max(n, 0) } }

// WithFormat picks the output format (FormatTable by default).
func WithFormat(f Format) Option { return func(o *options) { o.format = f } }

// WithAllocator reads with mem instead of the default Go allocator.
func WithAllocator(mem memory.Allocator) Option { return func(o *options) { o.mem = mem } }

// Summary is what a file's footer says about it.
type Summary struct {
	// Path and Size are the file's path and length in bytes.
	Path string `json:"file"`
	Size int64  `json:"size"`
	// Rows is the number of rows and RowGroups the rows in each row group.
	Rows      int64   `json:"rows"`
	RowGroups []int64 `json:"row_groups"`
	// CreatedBy names the writer library.
	CreatedBy string `json:"created_by,omitempty"`
	// KeyValue is the key-value metadata, in file order.
	KeyValue []KeyValue `json:"key_value_metadata"`
	// Schema is the file's Arrow schema.
	Schema []Field `json:"schema"`
}

// KeyValue is one key-value metadata entry.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Field is a top-level field of the Arrow schema.
type Field struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// File writes a description of the Parquet file at path to w. Errors name the file and are a
// single line; a file that is not Parquet, or is truncated, gives
// "inspect PATH: not a Parquet file (REASON)".
func File(ctx context.Context, w io.Writer, path string, opts ...Option) error {
	o := options{limit: DefaultLimit, format: FormatTable, mem: memory.DefaultAllocator}
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := ParseFormat(string(o.format)); err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, openReason(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, openReason(err))
	}
	if info.IsDir() {
		return fmt.Errorf("inspect %s: is a directory", path)
	}
	if reason := checkMagic(f, info.Size()); reason != "" {
		return notParquet(path, reason)
	}
	rdr, err := openReader(f, o.mem)
	if err != nil {
		return notParquet(path, "unreadable footer: "+oneLine(err.Error()))
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{
		BatchSize: int64(min(max(o.limit, 1), maxBatchRows)),
	}, o.mem)
	if err != nil {
		return fmt.Errorf("inspect %s: read schema: %s", path, oneLine(err.Error()))
	}
	sc, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("inspect %s: read schema: %s", path, oneLine(err.Error()))
	}
	sum := summarize(path, info.Size(), rdr, sc)
	rows, err := readRows(ctx, fr, sc, o.limit)
	if err != nil {
		return fmt.Errorf("inspect %s: read rows: %s", path, oneLine(err.Error()))
	}
	var buf bytes.Buffer
	if o.format == FormatJSON {
		err = writeJSON(&buf, sum, sc, rows)
	} else {
		writeTable(&buf, sum, sc, rows)
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("inspect %s: write: %w", path, err)
	}
	return nil
}

// openReason turns an open or stat error into a reason without the path (the caller adds it).
func openReason(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// notParquet is the error for a file that is not (or no longer) a Parquet file.
func notParquet(path, reason string) error {
	return fmt.Errorf("inspect %s: not a Parquet file (%s)", path, reason)
}

// checkMagic returns why f is not a Parquet file judging by its magic bytes, or "".
func checkMagic(f io.ReaderAt, size int64) string {
	n := int64(len(parquetMagic))
	head := make([]byte, n)
	if size < n {
		return fmt.Sprintf("only %d bytes", size)
	}
	if _, err := f.ReadAt(head, 0); err != nil {
		return "read: " + err.Error()
	}
	if !bytes.Equal(head, parquetMagic) {
		return "no PAR1 magic at the start"
	}
	if size < 2*n+4 { // magic, footer length, magic
		return fmt.Sprintf("only %d bytes; truncated?", size)
	}
	tail := make([]byte, n)
	if _, err := f.ReadAt(tail, size-n); err != nil {
		return "read: " + err.Error()
	}
	if !bytes.Equal(tail, parquetMagic) {
		return "no PAR1 magic at the end; truncated?"
	}
	return ""
}

// openReader parses the footer, turning a panic on a corrupt one into an error.
func openReader(f *os.File, mem memory.Allocator) (rdr *file.Reader, err error) {
	defer func() {
		if r := recover(); r != nil {
			rdr, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
}

// summarize collects the footer facts.
func summarize(path string, size int64, rdr *file.Reader, sc *arrow.Schema) Summary {
	md := rdr.MetaData()
	sum := Summary{Path: path, Size: size, Rows: rdr.NumRows(), CreatedBy: md.GetCreatedBy(),
		RowGroups: make([]int64, rdr.NumRowGroups()), KeyValue: []KeyValue{}, Schema: []Field{}}
	for i := range sum.RowGroups {
		sum.RowGroups[i] = md.RowGroup(i).NumRows()
	}
	kv := md.KeyValueMetadata()
	keys, values := kv.Keys(), kv.Values()
	for i := range keys {
		sum.KeyValue = append(sum.KeyValue, KeyValue{Key: keys[i], Value: values[i]})
	}
	for _, f := range sc.Fields() {
		sum.Schema = append(sum.Schema, Field{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable})
	}
	return sum
}

// oneLine replaces line breaks so an error stays on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
