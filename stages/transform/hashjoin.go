package transform

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Hash join settings.
const (
	// passwordShare: the hash file's index may take 1/passwordShare of the memory limit before
	// its rows go to partition files.
	passwordShare = 6
	// joinBuffer is the write and read buffer of each of the join's files.
	joinBuffer = 64 << 10
	// maxJoinParts bounds the number of partitions, which is the number of files open at once.
	maxJoinParts = 256
	// joinWorkers is how many partitions are matched at once: each aims at half the index's
	// share, so two together stay within it.
	joinWorkers = 2
	// The join's files in the spill folder, by partition number: the hash file's rows, the
	// probes of the planned users, the rows found for them.
	hashRowsFile    = "hashes-%04d.bin"
	hashProbesFile  = "hash-probes-%04d.bin"
	hashMatchesFile = "hash-matches-%04d.bin"
)

// hashJoin holds the hash file once its index passed its budget (hashOptions.limit), and joins
// it with the planned members a partition at a time:
//
//  1. The usable rows are hash-partitioned by owner key (partitionOf) into files, so every
//     owner's rows are in one partition. Rows already indexed when the budget was passed go
//     there first, with their state.
//  2. Once every membership is decided, each planned user with a member to write becomes two
//     probes, its user id and its email, written to the partitions of those keys, in the
//     payload file's order.
//  3. Each partition is loaded alone into an index, which finds the ambiguous owners as the
//     in-memory index does, and its probes are looked up in it. What is found goes to the
//     partition's match file, still in payload order. Two partitions are matched at once
//     (joinWorkers).
//  4. The emit pass reads the match files merged by payload record: for each user, the user_id
//     row wins over the email row, and the row's line is marked used.
//  5. Last, each row whose line is neither used nor ambiguous is rejected as unused.
//
// So memory holds two partitions' indexes (each partition aims at half the index's share) and a
// bit per line of the hash file. The files hold
// hashes: they are created with mode 0600 in the spill folder, which the stage removes.
type hashJoin struct {
	// dir is the spill folder; path the hash file's base name, for rejects.
	dir, path string
	rows      []*stream
	limit     int64
	// done has a bit per line of the hash file: the row on it is used or ambiguous. Partitions
	// are matched concurrently, so bits are set atomically.
	done []uint64
	// bufs are the buffers of the join's single-goroutine steps.
	bufs frameBufs

	// The emit pass's cursor over the match files: the payload record it is at, and the row
	// found for it.
	sources       matchHeap
	cur           int
	found         *hashEntry
	entry         hashEntry
	userID, email []byte
}

// startJoin moves the index's rows to a new hash join, which takes every later row; t is the
// hash file, read up to here.
func (p *passwordIndex) startJoin(o hashOptions, t *csvTable) error {
	parts := o.parts
	if parts == 0 {
		// The index's size over the part of the file read so far estimates the whole file's;
		// a partition is to take half the limit.
		total := float64(p.size()) / max(t.progress(), 1e-6)
		parts = min(max(int(math.Ceil(2*total/float64(o.limit))), 2), maxJoinParts)
	}
	j := &hashJoin{dir: o.dir, path: p.path, limit: o.limit, cur: -1}
	for q := range parts {
		s, err := createStream(filepath.Join(o.dir, fmt.Sprintf(hashRowsFile, q)), "password partition", joinBuffer)
		if err != nil {
			j.close()
			return err
		}
		j.rows = append(j.rows, s)
	}
	var e hashEntry
	for i := range uint32(p.owners.len()) {
		p.decode(i, &e)
		if err := j.addRow(p.owners.key(i), &e); err != nil {
			j.close()
			return err
		}
	}
	p.owners, p.rows, p.refs, p.join = nil, arena{}, nil, j
	return nil
}

// addRow writes row e, whose owner key is key, to its partition.
func (j *hashJoin) addRow(key string, e *hashEntry) error {
	s, b := j.rows[partitionOf(key, len(j.rows))], &j.bufs
	b.body = encodePasswordRow(b.body[:0], e)
	b.buf = appendFrame(appendFrame(b.buf[:0], key), bytesString(b.body))
	if _, err := s.w.Write(b.buf); err != nil {
		return fmt.Errorf("write password partition: %w", err)
	}
	return nil
}

// finishRows closes the partition files once the hash file is read; lastLine is its last line.
func (j *hashJoin) finishRows(lastLine int) error {
	for _, s := range j.rows {
		if err := s.finish(); err != nil {
			return fmt.Errorf("write password partition: %w", err)
		}
	}
	j.done = make([]uint64, lastLine/64+1)
	return nil
}

// mark marks a line used or ambiguous; it is safe for concurrent use.
func (j *hashJoin) mark(line int) { atomic.OrUint64(&j.done[line/64], 1<<(line%64)) }

// marked reports whether a line is used or ambiguous.
func (j *hashJoin) marked(line int) bool { return j.done[line/64]&(1<<(line%64)) != 0 }

// prepare joins the hash file with the planned users before the emit pass, when its rows went to
// partition files (steps 2 and 3 of hashJoin); outcome is every membership's. Partitions are
// matched on up to workers goroutines, at most joinWorkers.
func (p *passwordIndex) prepare(ctx context.Context, payloads *stream, outcome []uint8, workers int) error {
	if p == nil || p.join == nil {
		return nil
	}
	j := p.join
	if err := j.writeProbes(ctx, payloads, outcome); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(max(workers, 1), joinWorkers, len(j.rows)) {
		g.Go(func() error {
			var b frameBufs
			for q := int(next.Add(1) - 1); q < len(j.rows); q = int(next.Add(1) - 1) {
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := j.matchPartition(q, p, &b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for q := range j.rows {
		src, err := openMatches(filepath.Join(j.dir, fmt.Sprintf(hashMatchesFile, q)))
		if err != nil {
			return err
		}
		if src != nil {
			j.sources = append(j.sources, src)
		}
	}
	heap.Init(&j.sources)
	return nil
}

// writeProbes writes the probes of every planned user with a member to write: its user id and
// its email, each to the partition of its key, in payload order (record numbers as deltas).
func (j *hashJoin) writeProbes(ctx context.Context, payloads *stream, outcome []uint8) (err error) {
	probes := make([]*stream, len(j.rows))
	defer func() {
		for _, s := range probes {
			s.close()
		}
	}()
	for q := range probes {
		if probes[q], err = createStream(filepath.Join(j.dir, fmt.Sprintf(hashProbesFile, q)), "password probes", joinBuffer); err != nil {
			return err
		}
	}
	pr, err := openPayloads(payloads)
	if err != nil {
		return err
	}
	defer pr.close()
	var (
		last    = make([]int, len(probes))
		pl      payload
		scratch []byte
		gid     int
	)
	err = pr.each(ctx, func(n, kept int, body []byte) error {
		if gid+kept > len(outcome) {
			return pr.corrupt("more memberships than were read")
		}
		written := slices.ContainsFunc(outcome[gid:gid+kept], func(o uint8) bool { return o >= outSurvivor })
		gid += kept
		if !written {
			return nil
		}
		scratch = scratch[:0]
		decodeRecordBody(body, &pl, &scratch)
		for _, k := range [...]struct {
			kind  byte
			owner string
		}{{ownerUserID, pl.userID}, {ownerEmail, pl.email}} {
			if k.owner == "" {
				continue
			}
			b := &j.bufs
			b.key = append(append(b.key[:0], k.kind), k.owner...)
			q := partitionOf(bytesString(b.key), len(probes))
			b.buf = appendFrame(binary.AppendUvarint(b.buf[:0], uint64(n-last[q])), bytesString(b.key))
			last[q] = n
			if _, err := probes[q].w.Write(b.buf); err != nil {
				return fmt.Errorf("write password probes: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range probes {
		if err := s.finish(); err != nil {
			return fmt.Errorf("write password probes: %w", err)
		}
	}
	return nil
}

// matchPartition loads partition q's rows into an index (rejecting the ambiguous ones through
// p) and writes the rows its probes find to its match file: record number (delta), owner kind,
// row. It is safe to call for different partitions at once, with different buffers b.
func (j *hashJoin) matchPartition(q int, p *passwordIndex, b *frameBufs) error {
	idx := newPasswordIndex(j.path, p.reject)
	idx.onAmbiguous = j.mark
	idx.rows.chunkSize = int(min(max(j.limit/16, minArenaChunk), maxArenaChunk))
	err := j.readRows(q, b, func(e *hashEntry) error { return idx.insert(e) })
	if err != nil {
		return err
	}
	probesPath := filepath.Join(j.dir, fmt.Sprintf(hashProbesFile, q))
	pf, err := os.Open(probesPath)
	if err != nil {
		return fmt.Errorf("read password probes: %w", err)
	}
	defer pf.Close()
	matches, err := createStream(filepath.Join(j.dir, fmt.Sprintf(hashMatchesFile, q)), "password matches", joinBuffer)
	if err != nil {
		return err
	}
	defer matches.close()
	r := bufio.NewReaderSize(pf, joinBuffer)
	var e hashEntry
	n, last := 0, 0
	for {
		delta, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = readFrame(r, &b.key)
		}
		if err != nil {
			return fmt.Errorf("read password probes: %s: %w", probesPath, unexpectedEOF(err))
		}
		n += int(delta)
		i, ok := idx.owners.lookup(bytesString(b.key))
		if !ok || *idx.state(i)&pwAmbiguous != 0 {
			continue
		}
		idx.decode(i, &e)
		b.body = encodePasswordRow(b.body[:0], &e)
		b.buf = append(binary.AppendUvarint(b.buf[:0], uint64(n-last)), b.key[0])
		b.buf = appendFrame(b.buf, bytesString(b.body))
		last = n
		if _, err := matches.w.Write(b.buf); err != nil {
			return fmt.Errorf("write password matches: %w", err)
		}
	}
	if err := matches.finish(); err != nil {
		return fmt.Errorf("write password matches: %w", err)
	}
	pf.Close()
	return os.Remove(probesPath)
}

// readRows calls fn for every row of partition q, in file order; the entry's strings alias b,
// reused for the next row.
func (j *hashJoin) readRows(q int, b *frameBufs, fn func(e *hashEntry) error) error {
	s := j.rows[q]
	f, r, err := s.open()
	if err != nil {
		return fmt.Errorf("read password partition: %w", err)
	}
	defer f.Close()
	var e hashEntry
	for {
		err := readFrame(r, &b.key)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = unexpectedEOF(readFrame(r, &b.body))
		}
		if err != nil {
			return fmt.Errorf("read password partition: %s: %w", s.path, err)
		}
		if len(b.key) == 0 || len(b.body) == 0 {
			return fmt.Errorf("read password partition: %s: empty row", s.path)
		}
		decodePasswordRow(b.body, &e)
		e.owner, e.byEmail = bytesString(b.key[1:]), b.key[0] == ownerEmail
		if err := fn(&e); err != nil {
			return err
		}
	}
}

// lookup returns the row found for payload record n (step 4 of hashJoin) and marks it used. The
// emit pass asks for records in increasing order, once per member written.
func (j *hashJoin) lookup(n int) (*hashEntry, error) {
	if n != j.cur {
		if err := j.advance(n); err != nil {
			return nil, err
		}
	}
	if j.found != nil {
		j.mark(j.found.line)
	}
	return j.found, nil
}

// advance moves the cursor to payload record n, skipping the matches of earlier records.
func (j *hashJoin) advance(n int) error {
	j.cur, j.found = n, nil
	var hasUser, hasEmail bool
	for len(j.sources) > 0 && j.sources[0].n <= n {
		src := j.sources[0]
		if src.n == n {
			if src.kind == ownerUserID {
				j.userID, hasUser = append(j.userID[:0], src.body...), true
			} else {
				j.email, hasEmail = append(j.email[:0], src.body...), true
			}
		}
		ok, err := src.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&j.sources, 0)
		} else {
			src.f.Close()
			heap.Pop(&j.sources)
		}
	}
	switch {
	case hasUser:
		decodePasswordRow(j.userID, &j.entry)
	case hasEmail:
		decodePasswordRow(j.email, &j.entry)
		j.entry.byEmail = true
	default:
		return nil
	}
	j.found = &j.entry
	return nil
}

// unused rejects, through p, every row whose line is neither used nor ambiguous (step 5 of
// hashJoin), and removes the join's files. A row found ambiguous before the join started says so
// in its state; the others were marked when they were rejected.
func (j *hashJoin) unused(p *passwordIndex) error {
	for q, s := range j.rows {
		err := j.readRows(q, &j.bufs, func(e *hashEntry) error {
			if j.marked(e.line) || e.state&pwAmbiguous != 0 {
				return nil
			}
			return p.rejectUnused(e)
		})
		if err != nil {
			return err
		}
		os.Remove(s.path)
		os.Remove(filepath.Join(j.dir, fmt.Sprintf(hashMatchesFile, q)))
	}
	return nil
}

// close closes the join's open files after a failure (the stage removes the spill folder).
func (j *hashJoin) close() {
	for _, s := range j.rows {
		s.close()
	}
	for _, src := range j.sources {
		src.f.Close()
	}
	j.sources = nil
}

// frameBufs are the read and write buffers of one goroutine of the join.
type frameBufs struct {
	key, body, buf []byte
}

// matchSource is one match file read in order: the record number, owner kind and row of its
// current match.
type matchSource struct {
	path string
	f    *os.File
	r    *bufio.Reader
	n    int
	kind byte
	body []byte
}

// openMatches opens a match file at its first match, or returns nil when it has none.
func openMatches(path string) (*matchSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read password matches: %w", err)
	}
	src := &matchSource{path: path, f: f, r: bufio.NewReaderSize(f, joinBuffer)}
	ok, err := src.next()
	if !ok || err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// next reads the next match; it returns false at the end of the file.
func (s *matchSource) next() (bool, error) {
	delta, err := binary.ReadUvarint(s.r)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err == nil {
		s.kind, err = s.r.ReadByte()
	}
	if err == nil {
		err = readFrame(s.r, &s.body)
	}
	if err != nil {
		return false, fmt.Errorf("read password matches: %s: %w", s.path, unexpectedEOF(err))
	}
	s.n += int(delta)
	return true, nil
}

// matchHeap orders the match files by their current record number.
type matchHeap []*matchSource

func (h matchHeap) Len() int           { return len(h) }
func (h matchHeap) Less(i, j int) bool { return h[i].n < h[j].n }
func (h matchHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *matchHeap) Push(x any)        { *h = append(*h, x.(*matchSource)) }
func (h *matchHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// appendFrame appends s framed by its uvarint length.
func appendFrame(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// readFrame reads bytes framed by appendFrame into *buf. It returns io.EOF only when r is at its
// end before the frame.
func readFrame(r *bufio.Reader, buf *[]byte) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n > 1<<30 {
		return errors.New("bad frame length")
	}
	*buf = slices.Grow((*buf)[:0], int(n))[:n]
	_, err = io.ReadFull(r, *buf)
	return unexpectedEOF(err)
}

// unexpectedEOF turns io.EOF into io.ErrUnexpectedEOF, for reads in the middle of a record.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
