package transform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Spill settings.
const (
	// spillDir is where spill files go, relative to the run directory.
	spillDir = "transform/.spill"
	// maxSpillFlush and minSpillFlush bound how many record bytes a partition buffers before
	// writing them; within them, all partitions together buffer at most an eighth of the budget.
	maxSpillFlush = 1 << 20
	minSpillFlush = 64 << 10
	// minPartitions and maxPartitions bound the number of spill partitions.
	minPartitions = 2
	maxPartitions = 1024
	// partitionSlack oversizes the partition count so that estimate errors rarely need a resplit.
	partitionSlack = 1.3
	// entryBytes is what one membership costs in memory besides its record.
	entryBytes = 16
)

// entry is one candidate membership in memory: its organization and its record.
type entry struct {
	org uint32
	ref uint64
}

// orgDict interns organization keys as small integers.
type orgDict struct {
	idx  map[string]uint32
	keys []string
}

func newOrgDict() *orgDict { return &orgDict{idx: map[string]uint32{}} }

// intern returns the index of key, adding a copy of it when new.
func (d *orgDict) intern(key string) uint32 {
	if i, ok := d.idx[key]; ok {
		return i
	}
	k := string([]byte(key))
	i := uint32(len(d.keys))
	d.keys = append(d.keys, k)
	d.idx[k] = i
	return i
}

// localBatch is what one worker planned from one record batch: the encoded records and, per
// membership, its key and record offset in buf.
type localBatch struct {
	buf  []byte
	keys []string
	offs []int
}

func (b *localBatch) reset() {
	b.buf, b.keys, b.offs = b.buf[:0], b.keys[:0], b.offs[:0]
}

// store holds the candidate memberships. It keeps them in memory until they pass the budget,
// then range-partitions them by organization key into spill files: every organization's
// candidates end up in one partition, and partitions read back in order give the organizations
// in key order, so each partition's plan can be written straight to the outputs. Safe for
// concurrent add.
type store struct {
	mu       sync.Mutex
	budget   int64
	mem      arena
	entries  []entry
	dict     *orgDict
	spill    *spiller
	dir      string
	alloc    memory.Allocator
	expected int64 // users in the input
	seen     int64 // users added so far

	// Once spilling: the partition of each organization (-1 until known) and the bytes each
	// organization spilled.
	orgPart  []int32
	orgBytes []int64
	// resplits counts the partitions split again when read back.
	resplits int
}

func newStore(budget int64, dir string, expectedUsers int64, alloc memory.Allocator) *store {
	return &store{budget: budget, dict: newOrgDict(), dir: dir, expected: expectedUsers, alloc: alloc}
}

// add takes a worker's batch, covering users users.
func (s *store) add(b *localBatch, users int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen += int64(users)
	if len(b.keys) == 0 {
		return nil
	}
	base := s.mem.add(b.buf)
	for i, k := range b.keys {
		s.entries = append(s.entries, entry{org: s.dict.intern(k), ref: base + uint64(b.offs[i])})
	}
	if s.mem.allocated()+int64(cap(s.entries))*entryBytes > s.budget {
		return s.flush()
	}
	return nil
}

// spilled reports whether the store went to disk.
func (s *store) spilled() bool { return s.spill != nil }

// partitionBytes is the size partitions aim at: half the budget, leaving room for the sort keys
// and the writers while one partition is planned.
func (s *store) partitionBytes() int64 { return max(s.budget/2, 1) }

// flush writes every membership in memory to its partition's spill file and frees the memory.
// The first flush chooses the partitions' key ranges from the memberships in memory, weighted by
// their bytes, sized from the expected total.
func (s *store) flush() error {
	if s.spill == nil {
		perUser := float64(s.mem.allocated()+int64(len(s.entries))*entryBytes) / float64(max(s.seen, 1))
		estimate := perUser * float64(max(s.expected, s.seen))
		parts := min(max(int(estimate*partitionSlack/float64(s.partitionBytes()))+1, minPartitions), maxPartitions)
		sp, err := newSpiller(s.dir, "part", parts, s.alloc)
		if err != nil {
			return err
		}
		sp.flushBytes = int(min(max(s.budget/8/int64(parts), minSpillFlush), maxSpillFlush))
		s.spill = sp
		sp.splits = s.splitKeys(parts)
	}
	for len(s.orgPart) < len(s.dict.keys) {
		s.orgPart = append(s.orgPart, -1)
		s.orgBytes = append(s.orgBytes, 0)
	}
	for _, e := range s.entries {
		p := s.orgPart[e.org]
		if p < 0 {
			p = int32(sort.Search(len(s.spill.splits), func(i int) bool { return s.spill.splits[i] > s.dict.keys[e.org] }))
			s.orgPart[e.org] = p
		}
		rec := recordBytes(s.mem.get(e.ref))
		s.orgBytes[e.org] += int64(len(rec)) + entryBytes
		if err := s.spill.add(int(p), e.org, rec); err != nil {
			return err
		}
	}
	s.mem = arena{}
	s.entries = nil
	return nil
}

// splitKeys returns parts-1 organization keys cutting the memberships in memory into parts
// ranges of about equal bytes. Partition p holds the keys k with splits[p-1] <= k < splits[p].
func (s *store) splitKeys(parts int) []string {
	bytes := map[uint32]int64{}
	var total int64
	for _, e := range s.entries {
		n := int64(len(recordBytes(s.mem.get(e.ref)))) + entryBytes
		bytes[e.org] += n
		total += n
	}
	orgs := make([]uint32, 0, len(bytes))
	for o := range bytes {
		orgs = append(orgs, o)
	}
	slices.SortFunc(orgs, func(a, b uint32) int { return strings.Compare(s.dict.keys[a], s.dict.keys[b]) })
	var splits []string
	var acc int64
	for _, o := range orgs {
		if acc >= total*int64(len(splits)+1)/int64(parts) && len(splits) < parts-1 {
			splits = append(splits, s.dict.keys[o])
		}
		acc += bytes[o]
	}
	return splits
}

// partitions calls fn for the memberships of each partition in organization key order: the whole
// store when nothing spilled, else each spill file read back (and removed) one at a time. A
// spill file larger than a partition should be (the first flush saw an unrepresentative sample
// of keys) is split again by its organizations' exact sizes first.
func (s *store) partitions(ctx context.Context, before func() error, fn func(entries []entry, mem *arena) error) error {
	if s.spill == nil {
		return fn(s.entries, &s.mem)
	}
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.spill.close(); err != nil {
		return err
	}
	mem := &arena{}
	var entries []entry
	for p, part := range s.spill.parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		files := []string{part.path}
		if part.total > s.partitionBytes() {
			var err error
			if files, err = s.resplit(int32(p), part.path); err != nil {
				return err
			}
		}
		for _, f := range files {
			// Rows of the previous partition may still be queued for writing: wait for them
			// before the arena is reused.
			if err := before(); err != nil {
				return err
			}
			mem.reset()
			var err error
			if entries, err = readSpill(f, s.alloc, mem, entries[:0]); err != nil {
				return err
			}
			if err := fn(entries, mem); err != nil {
				return err
			}
			os.Remove(f)
		}
	}
	return nil
}

// resplit splits the spill file of partition p into files of about partitionBytes each, cut
// between organizations in key order, and returns their paths in order.
func (s *store) resplit(p int32, path string) ([]string, error) {
	var orgs []uint32
	for o, op := range s.orgPart {
		if op == p {
			orgs = append(orgs, uint32(o))
		}
	}
	slices.SortFunc(orgs, func(a, b uint32) int { return strings.Compare(s.dict.keys[a], s.dict.keys[b]) })
	sub := map[uint32]int{}
	n, acc := 0, int64(0)
	for _, o := range orgs {
		if acc > 0 && acc+s.orgBytes[o] > s.partitionBytes() {
			n, acc = n+1, 0
		}
		sub[o] = n
		acc += s.orgBytes[o]
	}
	s.resplits++
	sp, err := newSpiller(s.dir, fmt.Sprintf("part-%04d-sub", p), n+1, s.alloc)
	if err != nil {
		return nil, err
	}
	sp.flushBytes = s.spill.flushBytes
	err = streamSpill(path, s.alloc, func(org uint32, rec []byte) error { return sp.add(sub[org], org, rec) })
	if cerr := sp.close(); err == nil {
		err = cerr
	}
	if err != nil {
		sp.abort()
		return nil, err
	}
	os.Remove(path)
	files := make([]string, len(sp.parts))
	for i, sp := range sp.parts {
		files[i] = sp.path
	}
	return files, nil
}

// cleanup removes the spill files and folder.
func (s *store) cleanup() {
	if s.spill != nil {
		s.spill.abort()
	}
	os.RemoveAll(s.dir)
}

// spillSchema is the schema of spill files: the organization index and the encoded record.
var spillSchema = arrow.NewSchema([]arrow.Field{
	{Name: "org", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "record", Type: arrow.BinaryTypes.Binary},
}, nil)

// spiller writes partition spill files.
type spiller struct {
	parts []*spillPart
	alloc memory.Allocator
	// splits are the first organization keys of partitions 1, 2, ...
	splits []string
	// flushBytes is how many record bytes a partition buffers before writing them.
	flushBytes int
}

type spillPart struct {
	path  string
	f     *os.File
	w     *pqarrow.FileWriter
	b     *array.RecordBuilder
	bytes int
	// total counts the bytes written, entries included.
	total int64
}

func newSpiller(dir, prefix string, parts int, alloc memory.Allocator) (*spiller, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spill folder: %w", err)
	}
	sp := &spiller{alloc: alloc, flushBytes: maxSpillFlush}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Lz4Raw),
		parquet.WithDictionaryDefault(false), parquet.WithAllocator(alloc))
	for i := range parts {
		path := filepath.Join(dir, fmt.Sprintf("%s-%04d.parquet", prefix, i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			sp.abort()
			return nil, fmt.Errorf("create spill file: %w", err)
		}
		w, err := pqarrow.NewFileWriter(spillSchema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(alloc)))
		if err != nil {
			f.Close()
			sp.abort()
			return nil, fmt.Errorf("start spill file: %w", err)
		}
		sp.parts = append(sp.parts, &spillPart{path: path, f: f, w: w, b: array.NewRecordBuilder(alloc, spillSchema)})
	}
	return sp, nil
}

func (sp *spiller) add(p int, org uint32, rec []byte) error {
	part := sp.parts[p]
	part.b.Field(0).(*array.Uint32Builder).Append(org)
	part.b.Field(1).(*array.BinaryBuilder).Append(rec)
	part.bytes += len(rec)
	part.total += int64(len(rec)) + entryBytes
	if part.bytes >= sp.flushBytes {
		return part.write()
	}
	return nil
}

func (p *spillPart) write() error {
	if p.bytes == 0 && p.b.Field(0).Len() == 0 {
		return nil
	}
	rec := p.b.NewRecordBatch()
	defer rec.Release()
	p.bytes = 0
	if err := p.w.Write(rec); err != nil {
		return fmt.Errorf("write spill file: %w", err)
	}
	return nil
}

// close finishes every spill file.
func (sp *spiller) close() error {
	var first error
	for _, p := range sp.parts {
		if p.w == nil {
			continue
		}
		err := p.write()
		if cerr := p.w.Close(); err == nil && cerr != nil { // closes p.f too
			err = fmt.Errorf("finish spill file: %w", cerr)
		}
		p.b.Release()
		p.w = nil
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// abort closes and removes every spill file.
func (sp *spiller) abort() {
	for _, p := range sp.parts {
		if p.w != nil {
			p.w.Close()
			p.b.Release()
			p.w = nil
		}
		os.Remove(p.path)
	}
}

// streamSpill calls fn for every membership of a spill file, one batch in memory at a time. rec
// is only valid during the call.
func streamSpill(path string, alloc memory.Allocator, fn func(org uint32, rec []byte) error) error {
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(alloc)))
	if err != nil {
		return fmt.Errorf("read spill file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 16 << 10}, alloc)
	if err != nil {
		return fmt.Errorf("read spill file: %w", err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return fmt.Errorf("read spill file: %w", err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		orgs := rec.Column(0).(*array.Uint32)
		recs := rec.Column(1).(*array.Binary)
		for i := range int(rec.NumRows()) {
			if err := fn(orgs.Value(i), recs.Value(i)); err != nil {
				return err
			}
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read spill file: %w", err)
	}
	return nil
}

// readSpill reads a partition file back into mem, appending its memberships to entries.
func readSpill(path string, alloc memory.Allocator, mem *arena, entries []entry) ([]entry, error) {
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(alloc)))
	if err != nil {
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 16 << 10}, alloc)
	if err != nil {
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	defer rr.Release()
	entries = slices.Grow(entries, int(pf.NumRows()))
	for rr.Next() {
		rec := rr.RecordBatch()
		orgs := rec.Column(0).(*array.Uint32)
		recs := rec.Column(1).(*array.Binary)
		offsets := recs.ValueOffsets()
		base := mem.add(recs.ValueBytes())
		for i := range int(rec.NumRows()) {
			entries = append(entries, entry{org: orgs.Value(i), ref: base + uint64(offsets[i]-offsets[0])})
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	return entries, nil
}
