package transform

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Store settings.
const (
	// spillDir is the stage's scratch folder (payload and spill files), relative to the run
	// directory.
	spillDir = "transform/.spill"
	// entryBytes is what one membership costs in memory besides its record: its entry.
	entryBytes = 16
	// payloadFile is the payload file, in the spill folder.
	payloadFile = "payloads.bin"
	// orgsFile is the organization of every membership, in membership order (uvarint
	// organization indexes), in the spill folder.
	orgsFile = "orgs.bin"
	// streamBuffer is the write and read buffer of the payload and organizations files.
	streamBuffer = 1 << 20
)

// stream is a scratch file written once, in order, then read back once, in order.
type stream struct {
	path string
	f    *os.File
	w    *bufio.Writer
	size int // the write and read buffer
}

// createStream creates the stream file at path, buffered by size bytes; what is written to it is
// named what in errors. Its mode is 0600: it may hold what member_passwords.parquet holds.
func createStream(path, what string, size int) (*stream, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	return &stream{path: path, f: f, w: bufio.NewWriterSize(f, size), size: size}, nil
}

// finish flushes and closes the file.
func (s *stream) finish() error {
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// close closes the file if it is still open, after a failure.
func (s *stream) close() {
	if s != nil && s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// open opens the finished file for reading.
func (s *stream) open() (*os.File, *bufio.Reader, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, nil, err
	}
	return f, bufio.NewReaderSize(f, s.size), nil
}

// entry is one candidate membership in memory: its organization, its membership id (its index in
// input order) and its user's key record.
type entry struct {
	org uint32
	gid uint32
	ref uint64
}

// stringDict interns strings (organization keys, password owners) as small integers, in the
// order they were first added. It holds no Go pointers (the keys' bytes in one append-only slice,
// an open-addressing table of indexes), so the garbage collector never scans it, however many
// keys there are.
type stringDict struct {
	data []byte   // the keys' bytes, one after the other
	offs []uint32 // key i is data[offs[i]:offs[i+1]]
	// table is open addressing with linear probing: 0 is an empty slot, else a key's hash (its
	// low 32 bits, which also choose its first slot) above its index + 1. A probe compares the
	// hashes first, so keys of the same length (all Stytch user ids) are rarely compared byte by
	// byte, and growing the table needs no key hashed again.
	table []uint64
	seed  maphash.Seed
}

// minDictSlots is the table size of a new stringDict: small, since the mapping join makes
// dictionaries for every partition, whose sizes count against their share.
const minDictSlots = 64

func newStringDict() *stringDict {
	return &stringDict{offs: []uint32{0}, table: make([]uint64, minDictSlots), seed: maphash.MakeSeed()}
}

// len is the number of keys.
func (d *stringDict) len() int { return len(d.offs) - 1 }

// size is the memory the dictionary takes, in bytes.
func (d *stringDict) size() int64 {
	return int64(cap(d.data)) + 4*int64(cap(d.offs)) + 8*int64(len(d.table))
}

// key returns key i. The string stays valid for the dictionary's lifetime: appending never
// changes bytes already written, it only moves later keys to a larger array.
func (d *stringDict) key(i uint32) string { return bytesString(d.data[d.offs[i]:d.offs[i+1]]) }

// hash is the hash of key that the table stores (see stringDict.table).
func (d *stringDict) hash(key string) uint64 {
	return uint64(uint32(maphash.String(d.seed, key))) << 32
}

// find returns the slot of key, whose hash is h, in the table, or the empty slot where it would
// go.
func (d *stringDict) find(key string, h uint64) (slot uint64, found bool) {
	mask := uint64(len(d.table) - 1)
	for slot = (h >> 32) & mask; ; slot = (slot + 1) & mask {
		v := d.table[slot]
		if v == 0 {
			return slot, false
		}
		if v&^math.MaxUint32 == h && d.key(uint32(v)-1) == key {
			return slot, true
		}
	}
}

// lookup returns the index of key, if the dictionary has it.
func (d *stringDict) lookup(key string) (uint32, bool) {
	slot, ok := d.find(key, d.hash(key))
	return uint32(d.table[slot]) - 1, ok
}

// intern returns the index of key, adding a copy of it when new.
func (d *stringDict) intern(key string) uint32 {
	i, _ := d.insert(key)
	return i
}

// insert returns the index of key and whether it was new (then a copy of it was added).
func (d *stringDict) insert(key string) (uint32, bool) {
	h := d.hash(key)
	slot, ok := d.find(key, h)
	if ok {
		return uint32(d.table[slot]) - 1, false
	}
	if len(d.data)+len(key) > math.MaxUint32 {
		panic("transform: dictionary keys exceed 4 GiB")
	}
	i := uint32(d.len())
	d.data = append(d.data, key...)
	d.offs = append(d.offs, uint32(len(d.data)))
	d.table[slot] = h | uint64(i+1)
	if 2*d.len() > len(d.table) {
		d.grow(2 * len(d.table))
	}
	return i, true
}

// reserve makes room for keys more keys of bytes bytes in all, so that adding them copies
// nothing.
func (d *stringDict) reserve(keys, bytes int) {
	d.data = grown(d.data, bytes)
	d.offs = grown(d.offs, keys)
	if slots := max(dictSlots(d.len()+keys), len(d.table)); slots > len(d.table) {
		d.grow(slots)
	}
}

// grown returns s with room for n more elements, as slices.Grow does, but with the room made by
// make: slices.Grow clears the new room in one call that the garbage collector cannot interrupt
// (and, needing to stop the goroutine, spins on the other core meanwhile), where make leaves
// memory fresh from the system as it is and clears any other in interruptible chunks. The
// indexes presize this way, by tens of megabytes at once.
func grown[S ~[]E, E any](s S, n int) S {
	if n <= cap(s)-len(s) {
		return s
	}
	g := make(S, len(s), len(s)+n)
	copy(g, s)
	return g
}

// dictSlots is the table size of a stringDict holding keys keys: the smallest power of two, at
// least minDictSlots, of twice as many slots or more.
func dictSlots(keys int) int {
	slots := minDictSlots
	for 2*keys > slots {
		slots *= 2
	}
	return slots
}

// grow moves the keys to a table of slots slots (a power of two).
func (d *stringDict) grow(slots int) {
	old := d.table
	d.table = make([]uint64, slots)
	mask := uint64(slots - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		slot := (v >> 32) & mask
		for d.table[slot] != 0 {
			slot = (slot + 1) & mask
		}
		d.table[slot] = v
	}
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
// until they pass the budget; then the memberships are hash-partitioned by organization key
// into Parquet spill files: every organization's candidates end up in one partition, decided one
// partition at a time. Safe for concurrent add.
type store struct {
	mu      sync.Mutex
	turn    *sync.Cond // signalled when next changes or the store fails
	next    int64      // the sequence number of the next batch to add
	failed  error
	budget  int64
	mem     arena
	entries []entry
	dict    *stringDict
	spill   *spiller
	dir     string
	meta    schemas.FileMeta
	alloc   memory.Allocator
	writers int // goroutines writing spill files
	fanout  int // files an oversized partition is split into at once
	// forceParts, when set, is the number of partitions instead of the estimate (tests).
	forceParts int
	expected   int64 // users in the input
	seen       int64 // users added so far

	// count is the number of memberships added.
	count int
	// payloads is the payload file; orgs the organization of every membership, in order (the
	// emit pass reads the two side by side). orgBuf is the encoding of a batch's organizations.
	payloads, orgs *stream
	orgBuf         []byte

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
	s := &store{budget: budget, dict: newStringDict(), dir: dir, expected: expectedUsers, meta: meta, alloc: alloc,
		writers: runtime.GOMAXPROCS(0), fanout: splitFanout}
	s.mem.chunkSize = s.chunkSize()
	s.turn = sync.NewCond(&s.mu)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spill folder: %w", err)
	}
	var err error
	if s.payloads, err = createStream(filepath.Join(dir, payloadFile), "payload file", streamBuffer); err != nil {
		return nil, err
	}
	if s.orgs, err = createStream(filepath.Join(dir, orgsFile), "organizations file", streamBuffer); err != nil {
		s.payloads.close()
		return nil, err
	}
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
	if s.count+len(b.keys) > math.MaxUint32 {
		return s.fail(fmt.Errorf("more than %d candidate memberships", uint32(math.MaxUint32)))
	}
	if _, err := s.payloads.w.Write(b.payloads); err != nil {
		return s.fail(fmt.Errorf("write payload file: %w", err))
	}
	// Records are added one by one, so that arena chunks fill up to their last bytes.
	lastOff, ref := -1, uint64(0)
	s.orgBuf = s.orgBuf[:0]
	for i, k := range b.keys {
		if off := b.offs[i]; off != lastOff {
			ref, lastOff = s.mem.add(recordBytes(b.buf[off:])), off
		}
		org := s.dict.intern(k)
		s.entries = append(s.entries, entry{org: org, gid: uint32(s.count), ref: ref})
		s.orgBuf = binary.AppendUvarint(s.orgBuf, uint64(org))
		s.count++
	}
	if _, err := s.orgs.w.Write(s.orgBuf); err != nil {
		return s.fail(fmt.Errorf("write organizations file: %w", err))
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
func (s *store) memberships() int { return s.count }

// finishPayloads flushes and closes the payload and organizations files.
func (s *store) finishPayloads() error {
	if err := s.payloads.finish(); err != nil {
		return fmt.Errorf("write payload file: %w", err)
	}
	if err := s.orgs.finish(); err != nil {
		return fmt.Errorf("write organizations file: %w", err)
	}
	return nil
}

// spilled reports whether the store went to disk.
func (s *store) spilled() bool { return s.spill != nil }

// chunkSize is the arena chunk size for the budget: a sixteenth of it, within bounds.
func (s *store) chunkSize() int {
	return int(min(max(s.budget/16, minArenaChunk), maxArenaChunk))
}

// release drops the key records and entries once every membership is decided.
func (s *store) release() {
	s.mem, s.entries = arena{}, nil
}

// cleanup removes the spill files, the payload file and the folder.
func (s *store) cleanup() {
	s.payloads.close()
	s.orgs.close()
	os.RemoveAll(s.dir)
}
