package transform

import (
	"bufio"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
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
	// spillDir is where spill files go, relative to the run directory.
	spillDir = "transform/.spill"
	// minPartitions and maxPartitions bound the number of spill partitions.
	minPartitions = 2
	maxPartitions = 1024
	// partitionSlack oversizes the partition count so that estimate errors rarely need a resplit.
	partitionSlack = 1.3
	// entryBytes is what one membership costs in memory besides its record: its entry and its
	// organization in the store's membership table.
	entryBytes = 20
	// payloadFile is the payload file, in the spill folder.
	payloadFile = "payloads.bin"
	// payloadBuffer is the write and read buffer of the payload file.
	payloadBuffer = 1 << 20
	// spillBuffer is the write buffer of a spill file.
	spillBuffer = 1 << 20
	// spillRowGroupRows is where spill files cut row groups: a row group's pages stay in memory
	// until it is complete, and spill files are written when memory is tightest.
	spillRowGroupRows = 32 * 1024
)

// spillCodec compresses spill files.
var spillCodec = compress.Codecs.Uncompressed

// entry is one candidate membership in memory: its organization, its membership id (its index in
// input order) and its user's key record.
type entry struct {
	org uint32
	gid uint32
	ref uint64
}

// orgDict interns organization keys as small integers. It holds no Go pointers (the keys' bytes
// in one append-only slice, an open-addressing table of indexes), so the garbage collector never
// scans it, however many organizations there are.
type orgDict struct {
	data  []byte   // the keys' bytes, one after the other
	offs  []uint32 // key i is data[offs[i]:offs[i+1]]
	table []uint32 // open addressing, linear probing: 0 is empty, else a key's index + 1
	seed  maphash.Seed
}

func newOrgDict() *orgDict {
	return &orgDict{offs: []uint32{0}, table: make([]uint32, 1024), seed: maphash.MakeSeed()}
}

// len is the number of keys.
func (d *orgDict) len() int { return len(d.offs) - 1 }

// key returns key i. The string stays valid for the dictionary's lifetime: appending never
// changes bytes already written, it only moves later keys to a larger array.
func (d *orgDict) key(i uint32) string { return bytesString(d.data[d.offs[i]:d.offs[i+1]]) }

// intern returns the index of key, adding a copy of it when new.
func (d *orgDict) intern(key string) uint32 {
	mask := uint64(len(d.table) - 1)
	for slot := maphash.String(d.seed, key) & mask; ; slot = (slot + 1) & mask {
		v := d.table[slot]
		if v == 0 {
			break
		}
		if d.key(v-1) == key {
			return v - 1
		}
	}
	if len(d.data)+len(key) > math.MaxUint32 {
		panic("transform: organization keys exceed 4 GiB")
	}
	i := uint32(d.len())
	d.data = append(d.data, key...)
	d.offs = append(d.offs, uint32(len(d.data)))
	if 2*d.len() > len(d.table) {
		d.table = make([]uint32, 2*len(d.table))
		for k := range uint32(d.len()) {
			d.place(k)
		}
	} else {
		d.place(i)
	}
	return i
}

// place puts key i in the first free slot of its probe sequence.
func (d *orgDict) place(i uint32) {
	mask := uint64(len(d.table) - 1)
	slot := maphash.String(d.seed, d.key(i)) & mask
	for d.table[slot] != 0 {
		slot = (slot + 1) & mask
	}
	d.table[slot] = i + 1
}

// localBatch is what one worker planned from one record batch: the users' key records (buf) and
// payload records (payloads), and per membership its organization key and the offset of its
// user's key record in buf.
type localBatch struct {
	seq      int64
	buf      []byte
	payloads []byte
	keys     []string
	offs     []int
}

func (b *localBatch) reset(seq int64) {
	b.seq, b.buf, b.payloads, b.keys, b.offs = seq, b.buf[:0], b.payloads[:0], b.keys[:0], b.offs[:0]
}

// store holds the candidate memberships while the input is read. Batches are added in input
// order (whatever order the workers finish them in), so a membership's id is its index in input
// order. Payload records go straight to the payload file, in the same order, and are read back
// once every membership is decided; only the key records stay in memory. Those stay in memory
// until they pass the budget; then the memberships are range-partitioned by organization key
// into Parquet spill files: every organization's candidates end up in one partition, decided one
// partition at a time. Safe for concurrent add.
type store struct {
	mu       sync.Mutex
	turn     *sync.Cond // signalled when next changes or the store fails
	next     int64      // the sequence number of the next batch to add
	failed   error
	budget   int64
	mem      arena
	entries  []entry
	dict     *orgDict
	spill    *spiller
	dir      string
	meta     schemas.FileMeta
	alloc    memory.Allocator
	writers  int   // goroutines writing spill files
	expected int64 // users in the input
	seen     int64 // users added so far

	// orgs is the organization of every membership, by membership id.
	orgs []uint32
	// payloads is the payload file being written; payloadPath is where.
	payloads    *bufio.Writer
	payloadF    *os.File
	payloadPath string

	// Once spilling: the partition of each organization (-1 until known) and the bytes each
	// organization spilled.
	orgPart  []int32
	orgBytes []int64
	// resplits counts the partitions read back in several passes.
	resplits int
}

// newStore makes a store that keeps at most budget bytes of key records in memory, spilling to
// Parquet files (written with meta and alloc) in dir past it.
func newStore(budget int64, dir string, expectedUsers int64, meta schemas.FileMeta, alloc memory.Allocator) (*store, error) {
	s := &store{budget: budget, dict: newOrgDict(), dir: dir, expected: expectedUsers, meta: meta, alloc: alloc,
		writers: runtime.GOMAXPROCS(0)}
	s.mem.chunkSize = s.chunkSize()
	s.turn = sync.NewCond(&s.mu)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spill folder: %w", err)
	}
	s.payloadPath = filepath.Join(dir, payloadFile)
	f, err := os.OpenFile(s.payloadPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create payload file: %w", err)
	}
	s.payloadF, s.payloads = f, bufio.NewWriterSize(f, payloadBuffer)
	return s, nil
}

// add takes a worker's batch, covering users users. It waits for the batches before it (by
// sequence number) to be added first.
func (s *store) add(b *localBatch, users int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.next != b.seq && s.failed == nil {
		s.turn.Wait()
	}
	if s.failed != nil {
		return s.failed
	}
	s.next++
	s.turn.Broadcast()
	s.seen += int64(users)
	if len(b.keys) == 0 {
		return nil
	}
	if len(s.orgs)+len(b.keys) > math.MaxUint32 {
		return s.fail(fmt.Errorf("more than %d candidate memberships", uint32(math.MaxUint32)))
	}
	if _, err := s.payloads.Write(b.payloads); err != nil {
		return s.fail(fmt.Errorf("write payload file: %w", err))
	}
	// Records are added one by one, so that arena chunks fill up to their last bytes.
	lastOff, ref := -1, uint64(0)
	for i, k := range b.keys {
		if off := b.offs[i]; off != lastOff {
			ref, lastOff = s.mem.add(recordBytes(b.buf[off:])), off
		}
		org := s.dict.intern(k)
		s.entries = append(s.entries, entry{org: org, gid: uint32(len(s.orgs)), ref: ref})
		s.orgs = append(s.orgs, org)
	}
	if s.mem.allocated()+int64(cap(s.entries))*entryBytes > s.budget {
		if err := s.flush(); err != nil {
			return s.fail(err)
		}
	}
	return nil
}

// fail makes every add waiting for its turn, and every later one, return err. It expects s.mu
// held and returns err.
func (s *store) fail(err error) error {
	if s.failed == nil {
		s.failed = err
	}
	s.turn.Broadcast()
	return err
}

// abort is fail for callers outside the store (a worker that failed on its batch).
func (s *store) abort(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail(err)
}

// memberships is the number of candidate memberships added.
func (s *store) memberships() int { return len(s.orgs) }

// finishPayloads flushes and closes the payload file.
func (s *store) finishPayloads() error {
	err := s.payloads.Flush()
	if cerr := s.payloadF.Close(); err == nil {
		err = cerr
	}
	s.payloadF = nil
	if err != nil {
		return fmt.Errorf("write payload file: %w", err)
	}
	return nil
}

// spilled reports whether the store went to disk.
func (s *store) spilled() bool { return s.spill != nil }

// partitionBytes is the size partitions aim at: half the budget, leaving room for the sort keys
// and the writers while one partition is planned.
func (s *store) partitionBytes() int64 { return max(s.budget/2, 1) }

// flush writes the memberships in memory to one spill file per partition that has any, in input
// order, and frees the memory. The first flush chooses the partitions' key ranges from the
// memberships in memory, weighted by their bytes, sized from the expected total.
func (s *store) flush() error {
	if s.spill == nil {
		perUser := float64(s.mem.allocated()+int64(len(s.entries))*entryBytes) / float64(max(s.seen, 1))
		estimate := perUser * float64(max(s.expected, s.seen))
		parts := min(max(int(estimate*partitionSlack/float64(s.partitionBytes()))+1, minPartitions), maxPartitions)
		s.spill = &spiller{parts: make([]spillPart, parts), splits: s.splitKeys(parts)}
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
			p = int32(sort.Search(len(s.spill.splits), func(i int) bool { return s.spill.splits[i] > s.dict.key(e.org) }))
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

// chunkSize is the arena chunk size for the budget: a sixteenth of it, within bounds.
func (s *store) chunkSize() int {
	return int(min(max(s.budget/16, minArenaChunk), maxArenaChunk))
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
	slices.SortFunc(orgs, func(a, b uint32) int { return strings.Compare(s.dict.key(a), s.dict.key(b)) })
	var splits []string
	var acc int64
	for _, o := range orgs {
		if acc >= total*int64(len(splits)+1)/int64(parts) && len(splits) < parts-1 {
			splits = append(splits, s.dict.key(o))
		}
		acc += bytes[o]
	}
	return splits
}

// partitions calls fn for the memberships of each partition in organization key order: the whole
// store when nothing spilled, else each partition's spill files read back (then removed). A
// partition larger than it should be (the first flush saw an unrepresentative sample of keys) is
// read in several passes, each keeping a range of its organizations cut by their exact sizes.
func (s *store) partitions(ctx context.Context, fn func(entries []entry, mem *arena) error) error {
	if s.spill == nil {
		return fn(s.entries, &s.mem)
	}
	if err := s.flush(); err != nil {
		return err
	}
	mem := &arena{chunkSize: s.chunkSize()}
	var entries []entry
	for p := range s.spill.parts {
		part := &s.spill.parts[p]
		passes, sub := 1, []int32(nil)
		if part.total > s.partitionBytes() {
			passes, sub = s.resplit(int32(p))
		}
		for pass := range passes {
			if err := ctx.Err(); err != nil {
				return err
			}
			mem.reset()
			entries = entries[:0]
			for _, f := range part.files {
				var err error
				if entries, err = s.readSpill(f, sub, int32(pass), mem, entries); err != nil {
					return err
				}
			}
			if err := fn(entries, mem); err != nil {
				return err
			}
		}
		for _, f := range part.files {
			os.Remove(f)
		}
	}
	return nil
}

// resplit cuts partition p's organizations, in key order, into ranges of about partitionBytes
// each. It returns the number of ranges and each organization's range (by organization index;
// -1 for organizations of other partitions).
func (s *store) resplit(p int32) (int, []int32) {
	var orgs []uint32
	for o, op := range s.orgPart {
		if op == p {
			orgs = append(orgs, uint32(o))
		}
	}
	slices.SortFunc(orgs, func(a, b uint32) int { return strings.Compare(s.dict.key(a), s.dict.key(b)) })
	sub := make([]int32, s.dict.len())
	for i := range sub {
		sub[i] = -1
	}
	n, acc := int32(0), int64(0)
	for _, o := range orgs {
		if acc > 0 && acc+s.orgBytes[o] > s.partitionBytes() {
			n, acc = n+1, 0
		}
		sub[o] = n
		acc += s.orgBytes[o]
	}
	s.resplits++
	return int(n) + 1, sub
}

// release drops the key records and entries once every membership is decided.
func (s *store) release() {
	s.mem, s.entries = arena{}, nil
}

// cleanup removes the spill files, the payload file and the folder.
func (s *store) cleanup() {
	if s.payloadF != nil {
		s.payloadF.Close()
	}
	os.RemoveAll(s.dir)
}

// spiller tracks the spill files.
type spiller struct {
	parts []spillPart
	// splits are the first organization keys of partitions 1, 2, ...
	splits []string
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

// writeSpill writes the memberships s.entries[i] for i in idx to a new spill file at path.
func (s *store) writeSpill(path string, idx []uint32) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create spill file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write spill file %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, spillBuffer)
	w, err := schemas.NewWriter(bw, schemas.SpillMemberships, s.meta, schemas.WithWriterAllocator(s.alloc),
		schemas.WithCompression(spillCodec), schemas.WithRowGroupRows(spillRowGroupRows), schemas.WithoutStatistics())
	if err != nil {
		return fmt.Errorf("write spill file %s: %w", path, err)
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
		row = schemas.SpillMembership{OrgKey: s.dict.key(e.org), MembershipID: int64(e.gid), SourceUserID: k.userID,
			EmailAddress: k.email, EmailVerified: k.verified, ExternalIDSource: extSourceNames[k.extSrc],
			SourcePosition: k.position}
		if k.created != noCreatedAt {
			row.CreatedAt = time.UnixMicro(k.created).UTC()
		}
		if k.extID != k.userID {
			row.ExternalID = k.extID
		}
		if err := w.Append(&row); err != nil {
			w.Close()
			return fmt.Errorf("write spill file %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write spill file %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write spill file %s: %w", path, err)
	}
	if st, err := f.Stat(); err == nil {
		s.spill.bytes.Add(st.Size())
	}
	return nil
}

// readSpill reads the spill file at path back into mem, appending its memberships to entries.
// With sub set, it keeps only the memberships of organizations o with sub[o] == pass.
func (s *store) readSpill(path string, sub []int32, pass int32, mem *arena, entries []entry) ([]entry, error) {
	r, err := schemas.Open(path, schemas.SpillMemberships, schemas.WithReaderAllocator(s.alloc))
	if err != nil {
		return entries, fmt.Errorf("read spill file: %w", err)
	}
	defer r.Close()
	var (
		buf  []byte
		rows int64
	)
	for r.NextBatch() {
		c, err := bindSpillColumns(r.Batch())
		if err != nil {
			return entries, fmt.Errorf("read spill file %s: %w", path, err)
		}
		for i := range int(r.Batch().NumRows()) {
			rows++
			gid := c.gid.Value(i)
			src := slices.Index(extSourceNames[:], c.extSrc.Value(i))
			if src < 0 || gid < 0 || gid >= int64(len(s.orgs)) || s.dict.key(s.orgs[gid]) != c.org.Value(i) {
				return entries, fmt.Errorf("read spill file %s: row %d: not a membership this run spilled", path, rows)
			}
			org := s.orgs[gid]
			if sub != nil && sub[org] != pass {
				continue
			}
			pl := payload{userID: c.userID.Value(i), email: c.email.Value(i), extID: c.extID.Value(i),
				verified: c.verified.Value(i), extSrc: uint8(src), position: c.position.Value(i), created: noCreatedAt}
			if pl.extID == "" {
				pl.extID = pl.userID
			}
			if c.created.IsValid(i) {
				pl.created = int64(c.created.Value(i))
			}
			h := newRecordHead(&pl)
			buf = appendKeyRecord(buf[:0], &pl, &h)
			entries = append(entries, entry{org: org, gid: uint32(gid), ref: mem.add(buf)})
		}
	}
	if err := r.Err(); err != nil {
		return entries, fmt.Errorf("read spill file: %w", err)
	}
	return entries, nil
}

// spillColumns are the columns of a spill file's record batch. Strings read from them alias the
// batch's buffers.
type spillColumns struct {
	org, userID, email, extID, extSrc *array.String
	gid, position                     *array.Int64
	verified                          *array.Boolean
	created                           *array.Timestamp
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
	c.position, _ = col("source_position").(*array.Int64)
	c.verified, _ = col("email_verified").(*array.Boolean)
	c.created, _ = col("created_at").(*array.Timestamp)
	if !ok || c.gid == nil || c.position == nil || c.verified == nil || c.created == nil {
		return nil, fmt.Errorf("columns of %s", rec.Schema())
	}
	return &c, nil
}
