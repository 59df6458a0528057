package schemas

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Defaults of writers and readers.
const (
	// DefaultRowGroupRows is where writers cut row groups (the design asks for 256K–512K rows).
	DefaultRowGroupRows = 256 * 1024
	// DefaultBatchRows is how many rows a writer gathers before handing them to the Parquet
	// encoder.
	DefaultBatchRows = 16 * 1024
	// DefaultReadBatchRows is the record batch size readers ask the Parquet reader for.
	DefaultReadBatchRows = 16 * 1024
)

// maxBatchBytes caps the bytes a writer gathers in one batch, so that rows with very large values
// (raw records, metadata) are handed over early instead of growing the buffers without bound.
const maxBatchBytes = 64 << 20

type writerConfig struct {
	mem          memory.Allocator
	rowGroupRows int64
	batchRows    int
	encoders     int
	codec        compress.Compression
	noStats      bool
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

// WithBatchRows sets how many rows the writer gathers before encoding them.
func WithBatchRows(n int) WriterOption {
	return func(c *writerConfig) { c.batchRows = n }
}

// WithCompression sets the compression codec of every column (zstd by default). Staged files keep
// zstd; scratch files read back once by the same process may trade size for speed.
func WithCompression(codec compress.Compression) WriterOption {
	return func(c *writerConfig) { c.codec = codec }
}

// WithoutStatistics leaves the min/max statistics out of the file: scratch files that no query
// engine reads save computing them.
func WithoutStatistics() WriterOption {
	return func(c *writerConfig) { c.noStats = true }
}

// WithEncoders sets how many goroutines encode the columns of a batch at the same time. The
// default, 1, encodes them one after the other on the writer's background goroutine. More pay
// only where cores would otherwise idle: on 2 idle cores BenchmarkWriteMembers writes about 30%
// more rows/s with 2, for about 6% more CPU time and a zstd encoder (some MB) per goroutine; with
// the cores busy they cost CPU time and gain nothing.
func WithEncoders(n int) WriterOption {
	return func(c *writerConfig) { c.encoders = n }
}

// Writer streams rows of type T into one Parquet file of its Spec. Append copies each row's
// values into per-column buffers on the caller's goroutine; full batches go to a background
// encoder, so that gathering and encoding overlap; at most one batch waits between them. The
// encoder can write a batch's columns on several goroutines at once (WithEncoders): each column
// chunk of a buffered row group has its own Parquet encoder and page buffer. A Writer is not
// safe for concurrent use.
//
// The file is what pqarrow's FileWriter would write for the spec's Arrow schema: the same
// Parquet schema, stored Arrow schema, key-value metadata, row groups, encodings and
// statistics. The writer drives Parquet's column writers itself, so that it needs no Arrow
// builders (whose buffers are allocated, zeroed and regrown for every batch), and builds the
// dictionaries of dictionary columns itself (see leaf.putEnum): Parquet's encoder then hashes
// no value. One choice differs: a dictionary column whose row group outgrows maxDictEntries
// distinct values is written plain for that row group, as Parquet's writer does on its own
// beyond the dictionary page size limit.
type Writer[T any] struct {
	spec  *Spec[T]
	cfg   writerConfig
	props *parquet.WriterProperties
	pw    *file.Writer
	// leaves are the buffers Append fills, one per Parquet leaf column; puts are bound to them.
	leaves    []leaf
	puts      []func(*T, int16)
	pending   int   // rows in leaves since the last flush
	groupRows int64 // rows in the current row group, pending ones included
	rows      int64
	closed    bool

	batches chan *batch // to the encoder; closed by Close
	free    chan *batch // emptied batches back from the encoder
	done    chan struct{}
	failed  atomic.Pointer[error] // the encoder's first error
	rgw     file.BufferedRowGroupWriter
	// scratch holds each encoding goroutine's byte-array values for the column writers.
	scratch [][]parquet.ByteArray
}

// batch is what the encoder receives: the rows gathered since the last flush, and at the end of a
// row group also the dictionary leaves, which gather a whole row group.
type batch struct {
	leaves []leaf
	end    bool  // the row group ends with this batch
	tasks  []int // the leaves to write, largest first
}

// NewWriter starts a Parquet file of the given spec on w. Close finishes the file; it never closes
// w itself, so the caller can commit or discard the underlying file.
func NewWriter[T any](w io.Writer, spec *Spec[T], meta FileMeta, opts ...WriterOption) (*Writer[T], error) {
	cfg := newWriterConfig(opts...)
	props := writerProps(spec, cfg, meta)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(cfg.mem))
	pqSchema, err := pqarrow.ToParquet(spec.schema, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("start %s file: %w", spec.name, err)
	}
	kv, err := arrowFileMetadata(spec.schema, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("start %s file: %w", spec.name, err)
	}
	wr := &Writer[T]{spec: spec, cfg: cfg, props: props,
		batches: make(chan *batch, 1), free: make(chan *batch, 2), done: make(chan struct{})}
	if err := wr.bind(pqSchema); err != nil {
		return nil, fmt.Errorf("start %s file: %w", spec.name, err)
	}
	pw, err := file.NewParquetWriterWithError(nopCloser{w}, pqSchema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(kv))
	if err != nil {
		return nil, fmt.Errorf("start %s file: %w", spec.name, err)
	}
	wr.pw = pw
	extra := map[string]string{
		MetaSchemaName:    spec.name,
		MetaSchemaVersion: strconv.Itoa(spec.version),
		MetaToolVersion:   meta.ToolVersion,
		MetaRunID:         meta.RunID,
	}
	for k, v := range meta.Extra {
		extra[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) { // sorted, so that files are reproducible
		if err := pw.AppendKeyValueMetadata(k, extra[k]); err != nil {
			return nil, fmt.Errorf("start %s file: %w", spec.name, err)
		}
	}
	wr.scratch = make([][]parquet.ByteArray, cfg.encoders)
	for range cap(wr.free) {
		wr.free <- &batch{leaves: wr.newLeaves()}
	}
	go wr.encode()
	return wr, nil
}

// newWriterConfig applies opts to the defaults.
func newWriterConfig(opts ...WriterOption) writerConfig {
	cfg := writerConfig{mem: memory.DefaultAllocator, rowGroupRows: DefaultRowGroupRows, batchRows: DefaultBatchRows,
		encoders: 1, codec: compress.Codecs.Zstd}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.batchRows = max(cfg.batchRows, 1)
	cfg.rowGroupRows = max(cfg.rowGroupRows, 1)
	cfg.encoders = max(cfg.encoders, 1)
	return cfg
}

// writerProps are the Parquet properties of every file of spec: cfg.codec (zstd at level 1 unless
// set otherwise), dictionaries only for the spec's dictionary columns, row groups of
// cfg.rowGroupRows rows.
func writerProps[T any](spec *Spec[T], cfg writerConfig, meta FileMeta) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithCompression(cfg.codec),
		parquet.WithDictionaryDefault(false),
		parquet.WithMaxRowGroupLength(cfg.rowGroupRows),
		parquet.WithAllocator(cfg.mem),
		parquet.WithCreatedBy("stytch-migrate " + meta.ToolVersion),
	}
	if cfg.noStats {
		props = append(props, parquet.WithStats(false))
	}
	if cfg.codec == compress.Codecs.Zstd {
		props = append(props, parquet.WithCompressionLevel(1))
	}
	for _, c := range spec.cols {
		if c.dict {
			props = append(props, parquet.WithDictionaryFor(c.field.Name, true))
			continue
		}
		for _, path := range textLeaves(c.field, "") {
			props = append(props, parquet.WithStatsFor(path, false))
		}
	}
	return parquet.NewWriterProperties(props...)
}

// textLeaves returns the Parquet paths of the plain string leaves of field f, under prefix.
// Writers keep no min/max statistics for them: they hold ids, emails, names and JSON in no
// useful order, where a row group's bounds span nearly everything and prune nothing, while
// computing them costs a byte comparison or two per value. Numbers, times, flags and dictionary
// columns (keys, reasons, outcomes) keep theirs.
func textLeaves(f arrow.Field, prefix string) []string {
	path := prefix + f.Name
	switch t := f.Type.(type) {
	case *arrow.StringType:
		return []string{path}
	case *arrow.ListType:
		return textLeaves(arrow.Field{Name: "element", Type: t.Elem()}, path+".list.")
	case *arrow.StructType:
		var paths []string
		for _, sub := range t.Fields() {
			paths = append(paths, textLeaves(sub, path+".")...)
		}
		return paths
	}
	return nil
}

// arrowFileMetadata returns the key-value metadata pqarrow's FileWriter starts a file of schema
// with: the Arrow schema, serialized as pqarrow's readers expect it under "ARROW:schema".
func arrowFileMetadata(schema *arrow.Schema, props *parquet.WriterProperties, arrowProps pqarrow.ArrowWriterProperties) (metadata.KeyValueMetadata, error) {
	fw, err := pqarrow.NewFileWriter(schema, io.Discard, props, arrowProps)
	if err != nil {
		return nil, err
	}
	md, err := fw.FileMetadata()
	if err != nil {
		return nil, err
	}
	kv := slices.Clone(md.KeyValueMetadata())
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return kv, nil
}

// bind checks that the spec's columns match the Parquet schema leaf by leaf, sets up the leaves,
// and binds each column's appender to its leaves.
func (w *Writer[T]) bind(sc *schema.Schema) error {
	for _, c := range w.spec.cols {
		for _, shape := range c.leaves {
			i := len(w.leaves)
			if i >= sc.NumColumns() {
				return fmt.Errorf("bind column %s: more leaves than the Parquet schema's %d", c.field.Name, sc.NumColumns())
			}
			col := sc.Column(i)
			if col.PhysicalType() != shape.typ || col.MaxDefinitionLevel() != shape.maxDef || col.MaxRepetitionLevel() != shape.maxRep {
				return fmt.Errorf("bind column %s: Parquet leaf %s is %s with levels %d/%d, expected %s with %d/%d", c.field.Name, col.Path(),
					col.PhysicalType(), col.MaxDefinitionLevel(), col.MaxRepetitionLevel(), shape.typ, shape.maxDef, shape.maxRep)
			}
			dictionary := shape.typ == parquet.Types.ByteArray && shape.maxRep == 0 && w.props.DictionaryEnabledFor(col.Path())
			w.leaves = append(w.leaves, leaf{maxDef: shape.maxDef, maxRep: shape.maxRep, dictionary: dictionary,
				dictLimit: int(w.props.DictionaryPageSizeLimit())})
		}
	}
	if len(w.leaves) != sc.NumColumns() {
		return fmt.Errorf("bind columns: %d leaves, the Parquet schema has %d", len(w.leaves), sc.NumColumns())
	}
	w.leaves = w.newLeaves()
	next := 0
	for _, c := range w.spec.cols {
		ls := make([]*leaf, len(c.leaves))
		for k := range ls {
			ls[k] = &w.leaves[next+k]
		}
		w.puts = append(w.puts, c.put(ls))
		next += len(ls)
	}
	return nil
}

// newLeaves returns empty leaves shaped like the writer's.
func (w *Writer[T]) newLeaves() []leaf {
	ls := make([]leaf, len(w.leaves))
	for i, l := range w.leaves {
		ls[i] = leaf{maxDef: l.maxDef, maxRep: l.maxRep, dictionary: l.dictionary, dictLimit: l.dictLimit}
		ls[i].reset()
	}
	return ls
}

// encode writes the batches it receives into the Parquet file and hands them back emptied. After
// an error it keeps draining, so that the producer never blocks, and records the error for Append
// and Close to report.
func (w *Writer[T]) encode() {
	defer close(w.done)
	for b := range w.batches {
		if w.failed.Load() == nil {
			if err := w.write(b); err != nil {
				err = fmt.Errorf("write %s: %w", w.spec.name, err)
				w.failed.Store(&err)
			}
		}
		for i := range b.leaves {
			b.leaves[i].reset() // a leaf the batch did not take is empty already
		}
		w.free <- b
	}
}

func (w *Writer[T]) encodeErr() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// write writes one batch into the current row group, starting one if needed and closing it when
// the batch ends it. The batch's leaves go to their column writers on up to cfg.encoders
// goroutines, largest first: each column chunk of a buffered row group has its own encoder and
// page buffer, so different columns can be written at the same time.
func (w *Writer[T]) write(b *batch) error {
	if w.rgw == nil {
		rgw, err := w.pw.AppendBufferedRowGroupChecked()
		if err != nil {
			return err
		}
		w.rgw = rgw
	}
	b.tasks = b.tasks[:0]
	for i := range b.leaves {
		if l := &b.leaves[i]; l.levelCount() > 0 && (!l.dictionary || l.plain || b.end) {
			b.tasks = append(b.tasks, i)
		}
	}
	slices.SortFunc(b.tasks, func(i, j int) int { return cmp.Compare(b.leaves[j].cost(), b.leaves[i].cost()) })
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	work := func(vals *[]parquet.ByteArray) {
		for {
			k := int(next.Add(1)) - 1
			if k >= len(b.tasks) {
				return
			}
			i := b.tasks[k]
			if err := w.writeLeaf(i, &b.leaves[i], vals); err != nil {
				errOnce.Do(func() { first = fmt.Errorf("column %s: %w", w.pw.Schema.Column(i).Path(), err) })
			}
		}
	}
	for k := 1; k < min(w.cfg.encoders, len(b.tasks)); k++ {
		wg.Go(func() { work(&w.scratch[k]) })
	}
	work(&w.scratch[0])
	wg.Wait()
	if first != nil {
		return first
	}
	if b.end {
		err := w.rgw.Close()
		w.rgw = nil
		return err
	}
	return nil
}

// writeLeaf writes leaf l into column i of the current row group; vals is scratch space.
func (w *Writer[T]) writeLeaf(i int, l *leaf, vals *[]parquet.ByteArray) error {
	cw, err := w.rgw.Column(i)
	if err != nil {
		return err
	}
	def, rep := l.levels()
	switch {
	case l.dictionary && !l.plain:
		return w.writeDictionary(cw, l, vals)
	case l.dictionary:
		cw.FallbackToPlain()
	}
	switch cw := cw.(type) {
	case *file.ByteArrayColumnChunkWriter:
		*vals = l.byteArrays(*vals)
		_, err = cw.WriteBatch(*vals, def, rep)
	case *file.Int64ColumnChunkWriter:
		_, err = cw.WriteBatch(l.i64, def, rep)
	case *file.Int32ColumnChunkWriter:
		_, err = cw.WriteBatch(l.i32, def, rep)
	case *file.BooleanColumnChunkWriter:
		_, err = cw.WriteBatch(l.bools, def, rep)
	default:
		err = fmt.Errorf("unsupported physical type %s", cw.Type())
	}
	return err
}

// writeDictionary writes a row group's worth of a dictionary leaf: it seeds the column writer's
// dictionary encoder with the leaf's dictionary and writes the indices, as pqarrow does for Arrow
// dictionary arrays, so no value is hashed again. The values go to the column writer one by one
// instead, for it to encode them as it would have on its own, if the column writer's encoder or
// statistics are not the ones expected.
func (w *Writer[T]) writeDictionary(cw file.ColumnChunkWriter, l *leaf, vals *[]parquet.ByteArray) error {
	def, _ := l.levels()
	enc, ok := cw.CurrentEncoder().(dictionarySeeder)
	stats, statsOK := cw.PageStatistics().(*metadata.ByteArrayStatistics)
	if !ok || !isDictEncoding(cw.CurrentEncoder().Encoding()) || l.dictLen() == 0 ||
		(cw.PageStatistics() != nil && (!statsOK || cw.Descr().SortOrder() != schema.SortUNSIGNED)) {
		bw, ok := cw.(*file.ByteArrayColumnChunkWriter)
		if !ok {
			return fmt.Errorf("dictionary leaf of physical type %s", cw.Type())
		}
		*vals = l.denseValues(*vals)
		_, err := bw.WriteBatch(*vals, def, nil)
		return err
	}

	// The arrays borrow the leaf's memory: the column chunk is closed before the leaf is reused.
	n := l.dictLen()
	dictData := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(l.dictOffs)), memory.NewBufferBytes(l.dictData)}, nil, 0, 0)
	defer dictData.Release()
	dict := array.NewStringData(dictData)
	defer dict.Release()
	if err := enc.PutDictionary(dict); err != nil {
		return err
	}
	if enc.NumEntries() != n {
		return fmt.Errorf("dictionary of %d values has %d distinct ones", n, enc.NumEntries())
	}

	rows := len(l.idx)
	buffers := []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(l.idx))}
	nulls := 0
	if def != nil {
		valid := make([]byte, bitutil.BytesForBits(int64(rows)))
		for i, d := range def {
			if d == l.maxDef {
				bitutil.SetBit(valid, i)
			} else {
				nulls++
			}
		}
		if nulls > 0 {
			buffers[0] = memory.NewBufferBytes(valid)
		}
	}
	data := array.NewData(arrow.PrimitiveTypes.Int32, rows, buffers, nil, nulls, 0)
	defer data.Release()
	indices := array.NewInt32Data(data)
	defer indices.Release()

	if stats != nil {
		stats.IncNulls(int64(nulls))
		stats.IncNumValues(int64(rows - nulls))
		if rows > nulls {
			lo, hi := l.dictMinMax()
			stats.SetMinMax(lo, hi)
		}
	}
	return cw.WriteDictIndices(indices, def, nil)
}

// dictionarySeeder is the part of Parquet's dictionary encoders (an internal interface of
// arrow-go) that pqarrow seeds with the dictionary of an Arrow dictionary array.
type dictionarySeeder interface {
	PutDictionary(values arrow.Array) error
	NumEntries() int
}

func isDictEncoding(e parquet.Encoding) bool {
	return e == parquet.Encodings.PlainDict || e == parquet.Encodings.RLEDict
}

// Append adds one row. Its values are copied; the caller may reuse the row and its memory.
func (w *Writer[T]) Append(row *T) error {
	if w.closed {
		return fmt.Errorf("write %s: writer closed", w.spec.name)
	}
	for _, put := range w.puts {
		put(row, 0)
	}
	w.pending++
	w.groupRows++
	w.rows++
	switch {
	case w.groupRows >= w.cfg.rowGroupRows:
		w.flush(true)
	case w.pending >= w.cfg.batchRows || (w.pending%256 == 0 && w.pendingBytes() >= maxBatchBytes):
		w.flush(false)
	default:
		return nil
	}
	return w.encodeErr()
}

// pendingBytes is the size of the byte-array values gathered since the last flush.
func (w *Writer[T]) pendingBytes() int {
	n := 0
	for i := range w.leaves {
		n += len(w.leaves[i].data)
	}
	return n
}

// Rows is the number of rows appended so far.
func (w *Writer[T]) Rows() int64 { return w.rows }

// flush hands the rows gathered so far to the encoder, swapping the filled leaves for the emptied
// ones of a batch the encoder has handed back. Dictionary leaves go along only when end says the
// row group is complete, or once they have given up their dictionary.
func (w *Writer[T]) flush(end bool) {
	b := <-w.free
	for i := range w.leaves {
		l := &w.leaves[i]
		if l.dictionary && !l.plain && !end {
			continue
		}
		plain := l.plain && !end // it stays plain until the row group ends
		*l, b.leaves[i] = b.leaves[i], *l
		l.plain = plain
	}
	b.end = end
	w.batches <- b
	w.pending = 0
	if end {
		w.groupRows = 0
	}
}

// Close writes what is buffered and the file footer, and releases the writer's memory. It does
// not close the io.Writer given to NewWriter. Calling Close again does nothing.
func (w *Writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.groupRows > 0 {
		w.flush(true)
	}
	close(w.batches)
	<-w.done
	err := w.encodeErr()
	if cerr := w.pw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("finish %s file: %w", w.spec.name, cerr)
	}
	return err
}

// nopCloser keeps the Parquet writer's Close from closing the caller's writer.
type nopCloser struct{ io.Writer }
