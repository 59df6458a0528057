package transform

import (
	"bufio"
	"context"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Spill settings.
const (
	// minPartitions and maxPartitions bound the number of spill partitions.
	minPartitions = 2
	maxPartitions = 1024
	// partitionSlack oversizes the partition count so that estimate errors rarely need a split.
	partitionSlack = 1.3
	// spillBuffer is the write buffer of a spill file.
	spillBuffer = 1 << 20
	// spillRowGroupRows is where spill files cut row groups: a row group's pages stay in memory
	// until it is complete, and spill files are written when memory is tightest.
	spillRowGroupRows = 32 * 1024
	// splitFanout is how many files an oversized partition is split into at once, and
	// splitBatchRows the batch and row group size of those files' writers, all open together.
	splitFanout    = 8
	splitBatchRows = 4 * 1024
)

// spillCodec compresses spill files: not at all, since each is read back once, right away.
var spillCodec = compress.Codecs.Uncompressed

// spiller tracks the spill files.
type spiller struct {
	parts []spillPart
	// flushes counts the flushes so far; it numbers the files of the next.
	flushes int
	// bytes counts the bytes of the spill files written.
	bytes atomic.Int64
}

// spillPart is one partition's spill files, in the order they were written (so their
// memberships are in input order), and the bytes its memberships take in memory.
type spillPart struct {
	files []string
	total int64
}

// partitionBytes is the size partitions aim at: half the budget, leaving room for the sort keys
// and the writers while one partition is planned.
func (s *store) partitionBytes() int64 { return max(s.budget/2, 1) }

// flush writes the memberships in memory to one spill file per partition that has any, in input
// order, and frees the memory. The first flush chooses the number of partitions from the bytes
// per user so far and the number of users in the input; an organization's partition is a hash of
// its key (partitionOf).
func (s *store) flush() error {
	if s.spill == nil {
		perUser := float64(s.mem.allocated()+int64(len(s.entries))*entryBytes) / float64(max(s.seen, 1))
		estimate := perUser * float64(max(s.expected, s.seen))
		parts := min(max(int(estimate*partitionSlack/float64(s.partitionBytes()))+1, minPartitions), maxPartitions)
		if s.forceParts > 0 {
			parts = s.forceParts
		}
		s.spill = &spiller{parts: make([]spillPart, parts)}
	}
	for len(s.orgPart) < s.dict.len() {
		s.orgPart = append(s.orgPart, -1)
		s.orgBytes = append(s.orgBytes, 0)
	}
	// Group the memberships by partition (a counting sort of their indexes), keeping input order.
	starts := make([]int, len(s.spill.parts)+1)
	for _, e := range s.entries {
		p := s.orgPart[e.org]
		if p < 0 {
			p = int32(partitionOf(s.dict.key(e.org), len(s.spill.parts)))
			s.orgPart[e.org] = p
		}
		n := int64(len(recordBytes(s.mem.get(e.ref)))) + entryBytes
		s.orgBytes[e.org] += n
		s.spill.parts[p].total += n
		starts[p+1]++
	}
	for p := range s.spill.parts {
		starts[p+1] += starts[p]
	}
	perm := make([]uint32, len(s.entries))
	next := slices.Clone(starts[:len(starts)-1])
	for i, e := range s.entries {
		p := s.orgPart[e.org]
		perm[next[p]] = uint32(i)
		next[p]++
	}
	// The partitions' files are written on s.writers goroutines, each taking the next partition
	// (each partition's files are its writer's alone); the scan waits meanwhile.
	var (
		g    errgroup.Group
		turn atomic.Int64
	)
	for range min(s.writers, len(s.spill.parts)) {
		g.Go(func() error {
			for p := int(turn.Add(1)) - 1; p < len(s.spill.parts); p = int(turn.Add(1)) - 1 {
				if starts[p] == starts[p+1] {
					continue
				}
				path := filepath.Join(s.dir, fmt.Sprintf("part-%04d-%04d.parquet", p, s.spill.flushes))
				if err := s.writeSpill(path, perm[starts[p]:starts[p+1]]); err != nil {
					return err
				}
				s.spill.parts[p].files = append(s.spill.parts[p].files, path)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.spill.flushes++
	s.mem = arena{chunkSize: s.chunkSize()}
	s.entries = nil
	return nil
}

// partitionOf returns the partition, among n, of the organization key: a hash of the key
// (FNV-1a, then a finalizer so that every bit counts) mapped onto [0, n). It depends on the key
// alone, so reruns of the same input spill the same files.
func partitionOf(key string, n int) int {
	return seededPartitionOf(key, n, 0)
}

// seededPartitionOf is partitionOf under a seed: keys that share a partition under one seed are
// spread over all n under another (the seed is mixed in before the finalizer).
func seededPartitionOf(key string, n int, seed uint64) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= seed * 0x9e3779b97f4a7c15
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// partitions calls fn for the memberships of each partition, one partition after the other,
// each partition's organizations in key order: the whole store when nothing spilled, else each
// partition's spill files read back (then removed). A partition larger than it should be (the
// first flush underestimated the input, or a few organizations dominate it) is split first: see
// split.
func (s *store) partitions(ctx context.Context, fn func(entries []entry, mem *arena) error) error {
	if s.spill == nil {
		return fn(s.entries, &s.mem)
	}
	if err := s.flush(); err != nil {
		return err
	}
	byPart := make([][]uint32, len(s.spill.parts))
	for o, p := range s.orgPart {
		if p >= 0 {
			byPart[p] = append(byPart[p], uint32(o))
		}
	}
	d := &drainer{fn: fn, mem: &arena{chunkSize: s.chunkSize()}, route: make([]int32, s.dict.len())}
	for p, part := range s.spill.parts {
		orgs := byPart[p]
		slices.SortFunc(orgs, func(a, b uint32) int { return strings.Compare(s.dict.key(a), s.dict.key(b)) })
		if err := s.drain(ctx, d, part.files, orgs, part.total); err != nil {
			return err
		}
	}
	return nil
}

// drainer is what partitions hands down to drain and split.
type drainer struct {
	fn      func(entries []entry, mem *arena) error
	mem     *arena
	entries []entry
	// route is split's scratch: the new file of each organization being split.
	route []int32
}

// drain decides the memberships of files, which hold the organizations orgs (in key order),
// taking total bytes in memory, and removes the files. What fits in a partition is read into
// memory and handed to d.fn; a larger set is split first.
func (s *store) drain(ctx context.Context, d *drainer, files []string, orgs []uint32, total int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if total > s.partitionBytes() && len(orgs) > 1 {
		return s.split(ctx, d, files, orgs, total)
	}
	d.mem.reset()
	d.entries = d.entries[:0]
	var buf []byte
	for _, f := range files {
		err := s.scanSpill(f, func(c *spillColumns, i int, org, gid uint32) {
			pl := payload{userID: c.userID.Value(i), email: c.email.Value(i), verified: c.verified.Value(i),
				extSrc: c.src, position: c.position.Value(i), created: noCreatedAt}
			if pl.extID = pl.userID; c.extID.IsValid(i) && c.extID.Value(i) != "" {
				pl.extID = c.extID.Value(i)
			}
			if c.created.IsValid(i) {
				pl.created = int64(c.created.Value(i))
			}
			h := newRecordHead(&pl)
			buf = appendKeyRecord(buf[:0], &pl, &h)
			d.entries = append(d.entries, entry{org: org, gid: gid, ref: d.mem.add(buf)})
		})
		if err != nil {
			return err
		}
	}
	if err := d.fn(d.entries, d.mem); err != nil {
		return err
	}
	for _, f := range files {
		os.Remove(f)
	}
	return nil
}

// split cuts orgs (in key order) into up to s.fanout ranges of about equal bytes, copies the
// memberships of files into one new file per range in one pass, removes files, and drains the
// ranges in order. Every level reads and writes the data once, and the ranges shrink by the
// fanout, so even a partition many times too large (a first flush that saw a small fraction of
// the bytes per user to come) costs a few passes. A range is never empty, and there are at
// least two.
func (s *store) split(ctx context.Context, d *drainer, files []string, orgs []uint32, total int64) error {
	s.resplits++
	level := s.resplits
	k := int(min((total+s.partitionBytes()-1)/s.partitionBytes(), int64(s.fanout)))
	type subRange struct {
		orgs  []uint32
		total int64
		out   *spillFile[schemas.SpillMembership]
	}
	var ranges []subRange
	start, acc := 0, int64(0)
	for i, o := range orgs {
		acc += s.orgBytes[o]
		if i < len(orgs)-1 && len(ranges) < k-1 && acc >= total*int64(len(ranges)+1)/int64(k) {
			ranges = append(ranges, subRange{orgs: orgs[start : i+1]})
			start = i + 1
		}
	}
	if len(ranges) == 0 { // everything came before the first cut: take the last one apart
		start = len(orgs) - 1
		ranges = append(ranges, subRange{orgs: orgs[:start]})
	}
	ranges = append(ranges, subRange{orgs: orgs[start:]})

	closeAll := func() {
		for _, r := range ranges {
			if r.out != nil {
				r.out.close()
			}
		}
	}
	for r := range ranges {
		for _, o := range ranges[r].orgs {
			d.route[o] = int32(r)
			ranges[r].total += s.orgBytes[o]
		}
		path := filepath.Join(s.dir, fmt.Sprintf("split-%04d-%d.parquet", level, r))
		out, err := s.createSpill(path, schemas.WithBatchRows(splitBatchRows), schemas.WithRowGroupRows(splitBatchRows))
		if err != nil {
			closeAll()
			return err
		}
		ranges[r].out = out
	}
	var (
		row  schemas.SpillMembership
		werr error
	)
	for _, f := range files {
		err := s.scanSpill(f, func(c *spillColumns, i int, org, _ uint32) {
			if werr == nil {
				c.row(i, &row)
				werr = ranges[d.route[org]].out.append(&row)
			}
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			closeAll()
			return err
		}
	}
	for r := range ranges {
		n, err := ranges[r].out.close()
		if err != nil {
			closeAll()
			return err
		}
		s.spill.bytes.Add(n)
	}
	for _, f := range files {
		os.Remove(f)
	}
	for _, r := range ranges {
		if err := s.drain(ctx, d, []string{r.out.path}, r.orgs, r.total); err != nil {
			return err
		}
	}
	return nil
}

// spillFile is one spill file being written: rows of type T (memberships, duplicates or
// rejects).
type spillFile[T any] struct {
	path   string
	f      *os.File
	bw     *bufio.Writer
	w      *schemas.Writer[T]
	closed bool
}

// createSpill starts a spill file of spec at path, uncompressed and without statistics (it is
// read back once, whole); opts come after those writer options.
func createSpill[T any](path string, spec *schemas.Spec[T], meta schemas.FileMeta, alloc memory.Allocator, opts ...schemas.WriterOption) (*spillFile[T], error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create spill file: %w", err)
	}
	bw := bufio.NewWriterSize(f, spillBuffer)
	opts = append([]schemas.WriterOption{schemas.WithWriterAllocator(alloc), schemas.WithCompression(spillCodec),
		schemas.WithRowGroupRows(spillRowGroupRows), schemas.WithoutStatistics()}, opts...)
	w, err := schemas.NewWriter(bw, spec, meta, opts...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write spill file %s: %w", path, err)
	}
	return &spillFile[T]{path: path, f: f, bw: bw, w: w}, nil
}

// createSpill starts a membership spill file at path.
func (s *store) createSpill(path string, opts ...schemas.WriterOption) (*spillFile[schemas.SpillMembership], error) {
	return createSpill(path, schemas.SpillMemberships, s.meta, s.alloc, opts...)
}

// append adds one row.
func (sf *spillFile[T]) append(row *T) error {
	if err := sf.w.Append(row); err != nil {
		return fmt.Errorf("write spill file %s: %w", sf.path, err)
	}
	return nil
}

// close finishes the file and returns its size. It also releases the writer after an error (the
// file is then left for cleanup); closing again does nothing.
func (sf *spillFile[T]) close() (int64, error) {
	if sf.closed {
		return 0, nil
	}
	sf.closed = true
	err := sf.w.Close()
	if err == nil {
		err = sf.bw.Flush()
	}
	var size int64
	if st, serr := sf.f.Stat(); err == nil && serr == nil {
		size = st.Size()
	}
	if cerr := sf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write spill file %s: %w", sf.path, err)
	}
	return size, nil
}

// writeSpill writes the memberships s.entries[i] for i in idx to a new spill file at path.
func (s *store) writeSpill(path string, idx []uint32) error {
	sf, err := s.createSpill(path)
	if err != nil {
		return err
	}
	var (
		k       keyRecord
		scratch []byte
		row     schemas.SpillMembership
	)
	for _, i := range idx {
		e := s.entries[i]
		scratch = scratch[:0]
		decodeKeyRecord(s.mem.get(e.ref), &k, &scratch)
		row = schemas.SpillMembership{OrgKey: s.dict.key(e.org), OrgIndex: int64(e.org), MembershipID: int64(e.gid), SourceUserID: k.userID,
			EmailAddress: k.email, EmailVerified: k.verified, ExternalIDSource: extSourceNames[k.extSrc],
			SourcePosition: k.position}
		if k.created != noCreatedAt {
			row.CreatedAt = time.UnixMicro(k.created).UTC()
		}
		if k.extID != k.userID {
			row.ExternalID = k.extID
		}
		if err := sf.append(&row); err != nil {
			sf.close()
			return err
		}
	}
	n, err := sf.close()
	s.spill.bytes.Add(n)
	return err
}

// scanSpill calls fn for every row of the spill file at path, with the row's organization and
// membership id, after checking that the row is a membership this run spilled. Strings read
// from c alias the batch, which is released after the batch's last row.
func (s *store) scanSpill(path string, fn func(c *spillColumns, i int, org, gid uint32)) error {
	r, err := schemas.Open(path, schemas.SpillMemberships, schemas.WithReaderAllocator(s.alloc))
	if err != nil {
		return fmt.Errorf("read spill file: %w", err)
	}
	defer r.Close()
	var rows int64
	for r.NextBatch() {
		c, err := bindSpillColumns(r.Batch())
		if err != nil {
			return fmt.Errorf("read spill file %s: %w", path, err)
		}
		for i := range int(r.Batch().NumRows()) {
			rows++
			gid, org := c.gid.Value(i), c.orgIndex.Value(i)
			src := slices.Index(extSourceNames[:], c.extSrc.Value(i))
			if src < 0 || gid < 0 || gid >= int64(s.count) || org < 0 || org >= int64(s.dict.len()) ||
				s.dict.key(uint32(org)) != c.org.Value(i) {
				return fmt.Errorf("read spill file %s: row %d: not a membership this run spilled", path, rows)
			}
			c.src = uint8(src)
			fn(c, i, uint32(org), uint32(gid))
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("read spill file: %w", err)
	}
	return nil
}

// spillColumns are the columns of a spill file's record batch. Strings read from them alias the
// batch's buffers.
type spillColumns struct {
	org, userID, email, extID, extSrc *array.String
	gid, orgIndex, position           *array.Int64
	verified                          *array.Boolean
	created                           *array.Timestamp
	// src is the decoded external-id source of the row being scanned.
	src uint8
}

// row copies row i into m; its strings alias the batch.
func (c *spillColumns) row(i int, m *schemas.SpillMembership) {
	*m = schemas.SpillMembership{OrgKey: c.org.Value(i), OrgIndex: c.orgIndex.Value(i), MembershipID: c.gid.Value(i), SourceUserID: c.userID.Value(i),
		EmailAddress: c.email.Value(i), EmailVerified: c.verified.Value(i), ExternalIDSource: c.extSrc.Value(i),
		SourcePosition: c.position.Value(i)}
	if c.extID.IsValid(i) {
		m.ExternalID = c.extID.Value(i)
	}
	if c.created.IsValid(i) {
		m.CreatedAt = time.UnixMicro(int64(c.created.Value(i))).UTC()
	}
}

// bindSpillColumns finds the columns of rec by name.
func bindSpillColumns(rec arrow.RecordBatch) (*spillColumns, error) {
	var c spillColumns
	ok := true
	col := func(name string) arrow.Array {
		if idx := rec.Schema().FieldIndices(name); len(idx) == 1 {
			return rec.Column(idx[0])
		}
		ok = false
		return nil
	}
	strs := map[string]**array.String{"org_key": &c.org, "source_user_id": &c.userID, "email_address": &c.email,
		"external_id": &c.extID, "external_id_source": &c.extSrc}
	for name, dst := range strs {
		*dst, _ = col(name).(*array.String)
		ok = ok && *dst != nil
	}
	c.gid, _ = col("membership_id").(*array.Int64)
	c.orgIndex, _ = col("org_index").(*array.Int64)
	c.position, _ = col("source_position").(*array.Int64)
	c.verified, _ = col("email_verified").(*array.Boolean)
	c.created, _ = col("created_at").(*array.Timestamp)
	if !ok || c.gid == nil || c.orgIndex == nil || c.position == nil || c.verified == nil || c.created == nil {
		return nil, fmt.Errorf("columns of %s", rec.Schema())
	}
	return &c, nil
}
