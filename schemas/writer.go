package schemas

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Defaults of writers and readers.
const (
	// DefaultRowGroupRows is where writers cut row groups (the design asks for 256K–512K rows).
	DefaultRowGroupRows = 256 * 1024
	// DefaultBatchRows is how many rows a writer buffers in Arrow builders before handing them to
	// the Parquet writer.
	DefaultBatchRows = 16 * 1024
	// DefaultReadBatchRows is the record batch size readers ask the Parquet reader for.
	DefaultReadBatchRows = 16 * 1024
)

type writerConfig struct {
	mem          memory.Allocator
	rowGroupRows int64
	batchRows    int
}

// WriterOption configures a Writer.
type WriterOption func(*writerConfig)

// WithWriterAllocator sets the Arrow allocator of a Writer (tests use a checked allocator).
func WithWriterAllocator(mem memory.Allocator) WriterOption {
	return func(c *writerConfig) { c.mem = mem }
}

// WithRowGroupRows sets where the writer cuts row groups.
func WithRowGroupRows(n int64) WriterOption {
	return func(c *writerConfig) { c.rowGroupRows = n }
}

// WithBatchRows sets how many rows the writer buffers before encoding them.
func WithBatchRows(n int) WriterOption {
	return func(c *writerConfig) { c.batchRows = n }
}

// Writer streams rows of type T into one Parquet file of its Spec. Rows are gathered into Arrow
// record batches by the caller's goroutine and encoded into Parquet by a background goroutine, so
// that building and encoding overlap; at most one batch waits between them. A Writer is not safe
// for concurrent use.
type Writer[T any] struct {
	spec    *Spec[T]
	cfg     writerConfig
	fw      *pqarrow.FileWriter
	rb      *array.RecordBuilder
	puts    []func(*T)
	pending int
	rows    int64
	closed  bool

	batches chan arrow.RecordBatch // to the encoder; closed by Close
	done    chan struct{}          // closed when the encoder has stopped
	failed  atomic.Pointer[error]  // the encoder's first error
}

// NewWriter starts a Parquet file of the given spec on w. Close finishes the file; it never closes
// w itself, so the caller can commit or discard the underlying file.
func NewWriter[T any](w io.Writer, spec *Spec[T], meta FileMeta, opts ...WriterOption) (*Writer[T], error) {
	cfg := writerConfig{mem: memory.DefaultAllocator, rowGroupRows: DefaultRowGroupRows, batchRows: DefaultBatchRows}
	for _, o := range opts {
		o(&cfg)
	}
	props := parquet.NewWriterProperties(append(dictionaryProps(spec),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(cfg.rowGroupRows),
		parquet.WithAllocator(cfg.mem),
		parquet.WithCreatedBy("stytch-migrate "+meta.ToolVersion),
	)...)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(cfg.mem))
	fw, err := pqarrow.NewFileWriter(spec.schema, nopCloser{w}, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("start %s file: %w", spec.name, err)
	}
	kv := map[string]string{
		MetaSchemaName:    spec.name,
		MetaSchemaVersion: strconv.Itoa(spec.version),
		MetaToolVersion:   meta.ToolVersion,
		MetaRunID:         meta.RunID,
	}
	for k, v := range meta.Extra {
		kv[k] = v
	}
	for k, v := range kv {
		if err := fw.AppendKeyValueMetadata(k, v); err != nil {
			return nil, fmt.Errorf("start %s file: %w", spec.name, err)
		}
	}
	rb := array.NewRecordBuilder(cfg.mem, spec.schema)
	puts := make([]func(*T), len(spec.cols))
	for i, c := range spec.cols {
		puts[i] = c.put(rb.Field(i))
	}
	wr := &Writer[T]{spec: spec, cfg: cfg, fw: fw, rb: rb, puts: puts,
		batches: make(chan arrow.RecordBatch, 1), done: make(chan struct{})}
	go wr.encode()
	return wr, nil
}

// encode writes the batches it receives into the Parquet file and releases them. After an error
// it keeps draining, so that the producer never blocks, and records the error for Append and
// Close to report.
func (w *Writer[T]) encode() {
	defer close(w.done)
	for rec := range w.batches {
		if w.failed.Load() == nil {
			if err := w.fw.WriteBuffered(rec); err != nil {
				err = fmt.Errorf("write %s: %w", w.spec.name, err)
				w.failed.Store(&err)
			}
		}
		rec.Release()
	}
}

func (w *Writer[T]) encodeErr() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// dictionaryProps turns dictionary encoding on for the spec's low-cardinality columns.
func dictionaryProps[T any](spec *Spec[T]) []parquet.WriterProperty {
	var props []parquet.WriterProperty
	for _, c := range spec.cols {
		if c.dict {
			props = append(props, parquet.WithDictionaryFor(c.field.Name, true))
		}
	}
	return props
}

// Append adds one row. The row is copied; the caller may reuse it.
func (w *Writer[T]) Append(row *T) error {
	if w.closed {
		return fmt.Errorf("write %s: writer closed", w.spec.name)
	}
	for _, put := range w.puts {
		put(row)
	}
	w.pending++
	w.rows++
	if w.pending >= w.cfg.batchRows {
		w.flush()
		return w.encodeErr()
	}
	return nil
}

// Rows is the number of rows appended so far.
func (w *Writer[T]) Rows() int64 { return w.rows }

// flush hands the rows gathered so far to the encoder, which takes ownership of the batch.
func (w *Writer[T]) flush() {
	if w.pending == 0 {
		return
	}
	rec := w.rb.NewRecordBatch()
	w.reserveLike(rec)
	w.batches <- rec
	w.pending = 0
}

// reserveLike sizes the emptied builders for a batch like rec, so that the next batch's strings
// are appended without the builders' buffers growing (and being copied) step by step.
func (w *Writer[T]) reserveLike(rec arrow.RecordBatch) {
	w.rb.Reserve(int(rec.NumRows()))
	for i, col := range rec.Columns() {
		if sa, ok := col.(*array.String); ok {
			w.rb.Field(i).(*array.StringBuilder).ReserveData(len(sa.ValueBytes()))
		}
	}
}

// Close writes what is buffered and the file footer, and releases the writer's memory. It does
// not close the io.Writer given to NewWriter. Calling Close again does nothing.
func (w *Writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.rb.Release()
	w.flush()
	close(w.batches)
	<-w.done
	err := w.encodeErr()
	if cerr := w.fw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("finish %s file: %w", w.spec.name, cerr)
	}
	return err
}

// nopCloser keeps pqarrow's FileWriter.Close from closing the caller's writer.
type nopCloser struct{ io.Writer }
