package schemas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

type readerConfig struct {
	mem       memory.Allocator
	batchRows int64
	name      string
}

// ReaderOption configures a Reader.
type ReaderOption func(*readerConfig)

// WithReaderAllocator sets the Arrow allocator of a Reader (tests use a checked allocator).
func WithReaderAllocator(mem memory.Allocator) ReaderOption {
	return func(c *readerConfig) { c.mem = mem }
}

// WithReadBatchRows sets the record batch size the reader asks the Parquet reader for.
func WithReadBatchRows(n int64) ReaderOption {
	return func(c *readerConfig) { c.batchRows = n }
}

// WithFileName sets the name used in errors when reading from a ReaderAtSeeker.
func WithFileName(name string) ReaderOption {
	return func(c *readerConfig) { c.name = name }
}

// FileInfo is what a staged file's footer says about it.
type FileInfo struct {
	// Path is the file's path, or the name given with WithFileName.
	Path string
	// Schema and Version are the schema name and version recorded in the file.
	Schema  string
	Version int
	// ToolVersion and RunID are recorded by the writer.
	ToolVersion string
	RunID       string
	// Rows and RowGroups count the file's content.
	Rows      int64
	RowGroups int
	// Metadata holds every key-value metadata entry.
	Metadata map[string]string
}

// Reader streams the rows of one staged file as values of type T, one record batch at a time. A
// background goroutine reads the next batch while the caller decodes the current one; at most one
// batch waits between them. A Reader is not safe for concurrent use.
type Reader[T any] struct {
	spec  *Spec[T]
	info  FileInfo
	osf   *os.File
	pf    *file.Reader
	rr    pqarrow.RecordReader
	batch arrow.RecordBatch
	gets  []func(int, *T)
	i, n  int
	row   T
	err   error

	batches chan arrow.RecordBatch // from the prefetcher; closed when it stops
	stop    chan struct{}          // closed by Close to stop the prefetcher
	done    chan struct{}          // closed when the prefetcher has stopped
	readErr error                  // the prefetcher's error; read only after done
}

// Open opens the staged file at path and checks that it holds the spec's schema and version.
func Open[T any](path string, spec *Spec[T], opts ...ReaderOption) (*Reader[T], error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec.name, err)
	}
	r, err := NewReader(f, spec, append([]ReaderOption{WithFileName(path)}, opts...)...)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.osf = f
	return r, nil
}

// NewReader reads a staged file from src. The caller keeps ownership of src; Close does not close
// it.
func NewReader[T any](src parquet.ReaderAtSeeker, spec *Spec[T], opts ...ReaderOption) (*Reader[T], error) {
	cfg := readerConfig{mem: memory.DefaultAllocator, batchRows: DefaultReadBatchRows, name: spec.name + " file"}
	for _, o := range opts {
		o(&cfg)
	}
	pf, err := file.NewParquetReader(keepOpen{src}, file.WithReadProps(parquet.NewReaderProperties(cfg.mem)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", cfg.name, err)
	}
	info := fileInfo(cfg.name, pf)
	if err := checkVersion(cfg.name, spec, info.Metadata); err != nil {
		pf.Close()
		return nil, err
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: cfg.batchRows, Parallel: true}, cfg.mem)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %w", cfg.name, err)
	}
	if err := checkColumns(cfg.name, spec, fr); err != nil {
		pf.Close()
		return nil, err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %w", cfg.name, err)
	}
	r := &Reader[T]{spec: spec, info: info, pf: pf, rr: rr,
		batches: make(chan arrow.RecordBatch, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.prefetch()
	return r, nil
}

// prefetch reads record batches ahead of the caller and hands them over, retained: the receiver
// releases them.
func (r *Reader[T]) prefetch() {
	defer close(r.done)
	defer close(r.batches)
	for r.rr.Next() {
		b := r.rr.RecordBatch()
		b.Retain()
		select {
		case r.batches <- b:
		case <-r.stop:
			b.Release()
			return
		}
	}
	if err := r.rr.Err(); err != nil && !errors.Is(err, context.Canceled) {
		r.readErr = err
	}
}

func checkColumns[T any](name string, spec *Spec[T], fr *pqarrow.FileReader) error {
	sc, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(sc.Fields()) != len(spec.cols) {
		return fmt.Errorf("%s: has %d columns, schema %q version %d has %d", name, len(sc.Fields()), spec.name, spec.version, len(spec.cols))
	}
	for i, f := range sc.Fields() {
		want := spec.schema.Field(i)
		if f.Name != want.Name || !arrow.TypeEqual(f.Type, want.Type) {
			return fmt.Errorf("%s: column %d is %s %s, schema %q wants %s %s", name, i, f.Name, f.Type, spec.name, want.Name, want.Type)
		}
	}
	return nil
}

func fileInfo(name string, pf *file.Reader) FileInfo {
	md := pf.MetaData()
	kv := map[string]string{}
	for _, e := range md.KeyValueMetadata() {
		if e.Value != nil {
			kv[e.Key] = *e.Value
		}
	}
	version, _ := strconv.Atoi(kv[MetaSchemaVersion])
	return FileInfo{
		Path: name, Schema: kv[MetaSchemaName], Version: version,
		ToolVersion: kv[MetaToolVersion], RunID: kv[MetaRunID],
		Rows: pf.NumRows(), RowGroups: pf.NumRowGroups(), Metadata: kv,
	}
}

// keepOpen hides the source's Close method, so that closing the Parquet reader leaves the caller's
// source open.
type keepOpen struct{ parquet.ReaderAtSeeker }

// ReadInfo reads what the footer of the Parquet file at path says, without checking its schema.
func ReadInfo(path string) (FileInfo, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return FileInfo{}, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	defer pf.Close()
	return fileInfo(path, pf), nil
}

// Info describes the file being read.
func (r *Reader[T]) Info() FileInfo { return r.info }

// Next advances to the next row and reports whether there is one. After it returns false, Err
// tells whether the file ended or reading failed.
func (r *Reader[T]) Next() bool {
	for r.i >= r.n {
		if !r.NextBatch() {
			return false
		}
	}
	if len(r.gets) == 0 {
		// Bound on a batch's first row, not in NextBatch: callers that work on columns never
		// pay for the string copies the accessors make.
		for k, c := range r.spec.cols {
			r.gets = append(r.gets, c.get(r.batch.Column(k)))
		}
	}
	for _, get := range r.gets {
		get(r.i, &r.row)
	}
	r.i++
	return true
}

// Row is the current row. The value is overwritten by the next call to Next, but a copy of it
// (v := *r.Row()) shares no memory with the reader and stays valid.
func (r *Reader[T]) Row() *T { return &r.row }

// NextBatch advances to the next record batch, for callers that work on columns; Batch returns
// it. Mixing NextBatch and Next skips the rest of the current batch.
func (r *Reader[T]) NextBatch() bool {
	if r.err != nil || r.rr == nil {
		return false
	}
	r.releaseBatch()
	b, ok := <-r.batches
	if !ok {
		<-r.done
		if r.readErr != nil {
			r.err = fmt.Errorf("%s: read: %w", r.info.Path, r.readErr)
		}
		return false
	}
	r.batch = b
	r.i, r.n = 0, int(r.batch.NumRows())
	r.gets = r.gets[:0]
	return true
}

// Batch is the current record batch; it is released by the next NextBatch, Next past its end, or
// Close. Retain it to keep it longer.
func (r *Reader[T]) Batch() arrow.RecordBatch { return r.batch }

// Err is the first error met while reading, if any.
func (r *Reader[T]) Err() error { return r.err }

func (r *Reader[T]) releaseBatch() {
	if r.batch != nil {
		r.batch.Release()
		r.batch = nil
	}
	r.i, r.n = 0, 0
}

// Close releases the reader's memory and, when the reader was made by Open, closes the file.
func (r *Reader[T]) Close() error {
	r.releaseBatch()
	if r.rr != nil {
		close(r.stop)
		for b := range r.batches {
			b.Release()
		}
		<-r.done
		r.rr.Release()
		r.rr = nil
	}
	var err error
	if r.pf != nil {
		err = r.pf.Close()
		r.pf = nil
	}
	if r.osf != nil {
		if cerr := r.osf.Close(); err == nil {
			err = cerr
		}
		r.osf = nil
	}
	return err
}

// ReadAll reads every row of the file at path. It suits small files and tests; stages stream.
func ReadAll[T any](path string, spec *Spec[T], opts ...ReaderOption) ([]T, error) {
	r, err := Open(path, spec, opts...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows []T
	for r.Next() {
		rows = append(rows, *r.Row())
	}
	return rows, r.Err()
}
