package transform

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Spill settings.
const (
	// spillDir is where spill files go, relative to the run directory.
	spillDir = "transform/.spill"
	// maxSpillFlush and minSpillFlush bound how many bytes a partition buffers before writing
	// them; within them, all partitions together buffer at most an eighth of the budget.
	maxSpillFlush = 1 << 20
	minSpillFlush = 64 << 10
	// spillReadBuffer is the read buffer of a spill file.
	spillReadBuffer = 1 << 20
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
)

// entry is one candidate membership in memory: its organization, its membership id (its index in
// input order) and its user's key record.
type entry struct {
	org uint32
	gid uint32
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
// into spill files: every organization's candidates end up in one partition, planned one
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
	// resplits counts the partitions split again when read back.
	resplits int
}

func newStore(budget int64, dir string, expectedUsers int64) (*store, error) {
	s := &store{budget: budget, dict: newOrgDict(), dir: dir, expected: expectedUsers}
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

// flush writes every membership in memory to its partition's spill file and frees the memory.
// The first flush chooses the partitions' key ranges from the memberships in memory, weighted by
// their bytes, sized from the expected total.
func (s *store) flush() error {
	if s.spill == nil {
		perUser := float64(s.mem.allocated()+int64(len(s.entries))*entryBytes) / float64(max(s.seen, 1))
		estimate := perUser * float64(max(s.expected, s.seen))
		parts := min(max(int(estimate*partitionSlack/float64(s.partitionBytes()))+1, minPartitions), maxPartitions)
		sp, err := newSpiller(s.dir, "part", parts, s.spillBuffer(parts))
		if err != nil {
			return err
		}
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
		if err := s.spill.add(int(p), e, rec); err != nil {
			return err
		}
	}
	s.mem = arena{chunkSize: s.chunkSize()}
	s.entries = nil
	return nil
}

// spillBuffer is the write buffer of each of parts spill files: together an eighth of the budget,
// within bounds.
func (s *store) spillBuffer(parts int) int {
	return int(min(max(s.budget/8/int64(max(parts, 1)), minSpillFlush), maxSpillFlush))
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
func (s *store) partitions(ctx context.Context, fn func(entries []entry, mem *arena) error) error {
	if s.spill == nil {
		return fn(s.entries, &s.mem)
	}
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.spill.close(); err != nil {
		return err
	}
	mem := &arena{chunkSize: s.chunkSize()}
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
			mem.reset()
			var err error
			if entries, err = readSpill(f, mem, entries[:0]); err != nil {
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
	sp, err := newSpiller(s.dir, fmt.Sprintf("part-%04d-sub", p), n+1, s.spillBuffer(len(s.spill.parts)))
	if err != nil {
		return nil, err
	}
	err = streamSpill(path, func(e entry, rec []byte) error { return sp.add(sub[e.org], e, rec) })
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

// release drops the key records and entries once every membership is decided.
func (s *store) release() {
	s.mem, s.entries = arena{}, nil
}

// cleanup removes the spill files, the payload file and the folder.
func (s *store) cleanup() {
	if s.spill != nil {
		s.spill.abort()
	}
	if s.payloadF != nil {
		s.payloadF.Close()
	}
	os.RemoveAll(s.dir)
}

// Spill files are sequences of frames: the organization index and the membership id (4 bytes
// each, little-endian), then the key record with its length prefix. They are this process's
// temporary files, read back once in full: no other program reads them, so they need no format
// beyond that.
const spillFrameHeader = 8

// spiller writes partition spill files.
type spiller struct {
	parts []*spillPart
	// splits are the first organization keys of partitions 1, 2, ...
	splits []string
}

type spillPart struct {
	path string
	f    *os.File
	w    *bufio.Writer
	// total counts the bytes written, entries included.
	total int64
}

// newSpiller creates parts spill files in dir, each buffering bufBytes before writing.
func newSpiller(dir, prefix string, parts, bufBytes int) (*spiller, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spill folder: %w", err)
	}
	sp := &spiller{}
	for i := range parts {
		path := filepath.Join(dir, fmt.Sprintf("%s-%04d.spill", prefix, i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			sp.abort()
			return nil, fmt.Errorf("create spill file: %w", err)
		}
		sp.parts = append(sp.parts, &spillPart{path: path, f: f, w: bufio.NewWriterSize(f, bufBytes)})
	}
	return sp, nil
}

// add appends membership e, whose key record is rec, to partition p.
func (sp *spiller) add(p int, e entry, rec []byte) error {
	part := sp.parts[p]
	var hdr [spillFrameHeader]byte
	binary.LittleEndian.PutUint32(hdr[:4], e.org)
	binary.LittleEndian.PutUint32(hdr[4:], e.gid)
	part.w.Write(hdr[:])
	if _, err := part.w.Write(rec); err != nil { // a bufio.Writer's error sticks: this is the first
		return fmt.Errorf("write spill file: %w", err)
	}
	part.total += int64(len(rec)) + entryBytes
	return nil
}

// close finishes every spill file.
func (sp *spiller) close() error {
	var first error
	for _, p := range sp.parts {
		if p.f == nil {
			continue
		}
		err := p.w.Flush()
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
		p.f = nil
		if err != nil && first == nil {
			first = fmt.Errorf("write spill file: %w", err)
		}
	}
	return first
}

// abort closes and removes every spill file.
func (sp *spiller) abort() {
	for _, p := range sp.parts {
		if p.f != nil {
			p.f.Close()
			p.f = nil
		}
		os.Remove(p.path)
	}
}

// streamSpill calls fn for every membership of a spill file, in file order. rec is only valid
// during the call, and e.ref is not set.
func streamSpill(path string, fn func(e entry, rec []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read spill file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, spillReadBuffer)
	var (
		hdr [spillFrameHeader]byte
		rec []byte
	)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read spill file: %s: %w", path, err)
		}
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<30 {
			return fmt.Errorf("read spill file: %s: bad record length", path)
		}
		rec = binary.AppendUvarint(rec[:0], n)
		k := len(rec)
		rec = slices.Grow(rec, int(n))[:k+int(n)]
		if _, err := io.ReadFull(r, rec[k:]); err != nil {
			return fmt.Errorf("read spill file: %s: %w", path, err)
		}
		e := entry{org: binary.LittleEndian.Uint32(hdr[:4]), gid: binary.LittleEndian.Uint32(hdr[4:])}
		if err := fn(e, rec); err != nil {
			return err
		}
	}
}

// readSpill reads a partition file back into mem, appending its memberships to entries.
func readSpill(path string, mem *arena, entries []entry) ([]entry, error) {
	err := streamSpill(path, func(e entry, rec []byte) error {
		e.ref = mem.add(rec)
		entries = append(entries, e)
		return nil
	})
	return entries, err
}
