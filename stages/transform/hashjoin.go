package transform

import (
	"bufio"
	"cmp"
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
	"sync"
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
	// joinHeadroom: the partition count is estimated so that each partition's index takes about
	// 1/joinHeadroom of half the share, leaving room for the estimate's error.
	joinHeadroom = 1.25
	// A partition whose file says its index would pass half the share is split before it is
	// matched: into joinSplitFanout parts by another hash of the owner key, each split again
	// while still too large, at most maxJoinSplits times, and never below minJoinSplitBytes.
	// A partition's index is guessed from its file's size times the index's bytes per byte of
	// file, measured on the rows indexed before the join started.
	joinSplitFanout   = 8
	maxJoinSplits     = 3
	minJoinSplitBytes = 64 << 10
	// The join's files in the spill folder, by partition number: the hash file's rows, the
	// probes of the planned users, the rows found for them.
	hashRowsFile    = "hashes-%04d.bin"
	hashProbesFile  = "hash-probes-%04d.bin"
	hashMatchesFile = "hash-matches-%04d.bin"
)

// hashJoin holds the hash file once its index passed its budget (joinOptions.limit), and joins
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
//     (joinWorkers). A partition too large for half the share (the count was estimated from
//     the start of the file, which may not be like the rest) is first split into smaller
//     ones, rows and probes alike (split).
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
	// rows are the partitions the hash file's rows are written to; leaves the partitions
	// matched, which are rows or the parts they were split into (guarded by mu).
	rows   []*stream
	mu     sync.Mutex
	leaves []joinPart
	// nextPart numbers the parts of splits, after the first partitions.
	nextPart atomic.Int64
	// peak is the largest index a partition took, in bytes.
	peak atomic.Int64
	// limit is the index's share of memory; no partition file under splitFloor bytes is split.
	limit, splitFloor int64
	// written counts the bytes of rows written to the partitions; indexPerByte is the index's
	// size per byte of partition file.
	written      int64
	indexPerByte float64
	// done has a bit per line of the hash file: the row on it is used or ambiguous. Partitions
	// are matched concurrently.
	done bitSet
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
func (p *passwordIndex) startJoin(o joinOptions, t *csvTable) error {
	parts := o.parts
	if parts == 0 {
		// The index's size over the part of the file read so far estimates the whole file's;
		// a partition is to take half the limit, less the headroom.
		total := float64(p.size()) / max(t.progress(), 1e-6)
		parts = min(max(int(math.Ceil(joinHeadroom*joinWorkers*total/float64(o.limit))), 2), maxJoinParts)
	}
	j := &hashJoin{dir: o.dir, path: p.path, limit: o.limit, splitFloor: cmp.Or(o.splitFloor, minJoinSplitBytes), cur: -1}
	j.nextPart.Store(int64(parts))
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
	// Bounded, as an index of a few rows is mostly its first allocations.
	j.indexPerByte = min(max(float64(p.size())/float64(max(j.written, 1)), 1), 4)
	p.owners, p.rows, p.refs, p.join = nil, arena{}, nil, j
	return nil
}

// addRow writes row e, whose owner key is key, to its partition.
func (j *hashJoin) addRow(key string, e *hashEntry) error {
	s, b := j.rows[partitionOf(key, len(j.rows))], &j.bufs
	b.body = encodePasswordRow(b.body[:0], e)
	n, err := writeRowFrame(s, b, key, "password")
	j.written += int64(n)
	return err
}

// finishRows closes the partition files once the hash file is read; lastLine is its last line.
func (j *hashJoin) finishRows(lastLine int) error {
	for _, s := range j.rows {
		if err := s.finish(); err != nil {
			return fmt.Errorf("write password partition: %w", err)
		}
	}
	j.done = newBitSet(lastLine + 1)
	return nil
}

// mark marks a line used or ambiguous; it is safe for concurrent use.
func (j *hashJoin) mark(line int) { j.done.set(line) }

// marked reports whether a line is used or ambiguous.
func (j *hashJoin) marked(line int) bool { return j.done.has(line) }

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
				if err := j.matchPart(gctx, joinPart{id: q, rows: j.rows[q]}, p, &b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	paths := make([]string, len(j.leaves))
	for k, part := range j.leaves {
		paths[k] = j.partPath(hashMatchesFile, part.id)
	}
	var err error
	j.sources, err = openMatchHeap(paths, "password matches")
	return err
}

// writeProbes writes the probes of every planned user with a member to write: its user id and
// its email, each to the partition of its key, in payload order (record numbers as deltas).
func (j *hashJoin) writeProbes(ctx context.Context, payloads *stream, outcome []uint8) error {
	ids := make([]int, len(j.rows))
	for q := range ids {
		ids[q] = q
	}
	probes, err := j.createProbes(ids)
	defer probes.close()
	if err != nil {
		return err
	}
	pr, err := openPayloads(payloads)
	if err != nil {
		return err
	}
	defer pr.close()
	var (
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
			if err := probes.add(b, partitionOf(bytesString(b.key), len(j.rows)), n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return probes.finish()
}

// probeFiles are the probe files of some partitions, each written in record order: a probe is
// a record number (as the delta from the file's previous probe) and a key.
type probeFiles struct {
	what  string // what the files hold, in errors
	files []*stream
	last  []int // the record number of each file's last probe, which the next one's delta is from
}

// createProbes creates the probe files of the partitions numbered ids. The files are to be
// closed even on an error.
func (j *hashJoin) createProbes(ids []int) (*probeFiles, error) {
	paths := make([]string, len(ids))
	for q, id := range ids {
		paths[q] = j.partPath(hashProbesFile, id)
	}
	return createProbeFiles(paths, "password probes")
}

// createProbeFiles creates probe files at paths, holding what. The files are to be closed even
// on an error.
func createProbeFiles(paths []string, what string) (*probeFiles, error) {
	p := &probeFiles{what: what, files: make([]*stream, len(paths)), last: make([]int, len(paths))}
	for q, path := range paths {
		var err error
		if p.files[q], err = createStream(path, what, joinBuffer); err != nil {
			return p, err
		}
	}
	return p, nil
}

// add writes the probe of record n, whose key is b.key, to file q.
func (p *probeFiles) add(b *frameBufs, q, n int) error {
	b.buf = appendFrame(binary.AppendUvarint(b.buf[:0], uint64(n-p.last[q])), bytesString(b.key))
	p.last[q] = n
	if _, err := p.files[q].w.Write(b.buf); err != nil {
		return fmt.Errorf("write %s: %w", p.what, err)
	}
	return nil
}

// finish flushes and closes every file.
func (p *probeFiles) finish() error {
	for _, s := range p.files {
		if err := s.finish(); err != nil {
			return fmt.Errorf("write %s: %w", p.what, err)
		}
	}
	return nil
}

// close closes the files still open, after a failure.
func (p *probeFiles) close() {
	for _, s := range p.files {
		s.close()
	}
}

// joinPart is one partition of the join: a first one, or a part of a split one.
type joinPart struct {
	id     int // the number in its files' names
	rows   *stream
	splits int // how many splits made it
}

// partPath returns the path of part id's file of the given pattern (hashRowsFile...).
func (j *hashJoin) partPath(pattern string, id int) string {
	return filepath.Join(j.dir, fmt.Sprintf(pattern, id))
}

// matchPart matches one partition (matchPartition), or splits it first when it is too large
// for half the index's share and matches its parts one after the other.
func (j *hashJoin) matchPart(ctx context.Context, part joinPart, p *passwordIndex, b *frameBufs) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if part.splits < maxJoinSplits {
		info, err := os.Stat(part.rows.path)
		if err != nil {
			return fmt.Errorf("read password partition: %w", err)
		}
		if info.Size() >= j.splitFloor && float64(info.Size())*j.indexPerByte > float64(j.limit/joinWorkers) {
			parts, err := j.split(part, b)
			if err != nil {
				return err
			}
			for _, sub := range parts {
				if err := j.matchPart(ctx, sub, p, b); err != nil {
					return err
				}
			}
			return nil
		}
	}
	j.mu.Lock()
	j.leaves = append(j.leaves, part)
	j.mu.Unlock()
	return j.matchPartition(part, p, b)
}

// split copies a partition's rows and probes into joinSplitFanout new parts, by a hash of the
// owner key seeded with the split's depth (splitJoinFiles), and removes its files. Parts that
// got no row are dropped with their probes, which find nothing; when every row went to one part
// (one owner has them all), that part is not split again.
func (j *hashJoin) split(part joinPart, b *frameBufs) ([]joinPart, error) {
	parts := make([]joinPart, joinSplitFanout)
	files := make([]joinFiles, joinSplitFanout)
	for q := range parts {
		id := int(j.nextPart.Add(1) - 1)
		files[q] = joinFiles{rows: j.partPath(hashRowsFile, id), probes: j.partPath(hashProbesFile, id)}
		parts[q] = joinPart{id: id, rows: &stream{path: files[q].rows, size: joinBuffer}, splits: part.splits + 1}
	}
	src := joinFiles{rows: part.rows.path, probes: j.partPath(hashProbesFile, part.id)}
	counts, err := splitJoinFiles(src, files, uint64(part.splits+1), "password", b)
	if err != nil {
		return nil, err
	}
	return keptParts(parts, counts, func(p *joinPart) { p.splits = maxJoinSplits }), nil
}

// keptParts returns the parts of a split that got rows (counts, from splitJoinFiles); final
// marks the part that got them all, if any, as not to be split again.
func keptParts[P any](parts []P, counts []int, final func(*P)) []P {
	total := 0
	for _, c := range counts {
		total += c
	}
	kept := make([]P, 0, len(parts))
	for q := range parts {
		switch counts[q] {
		case 0:
			continue
		case total:
			final(&parts[q])
		}
		kept = append(kept, parts[q])
	}
	return kept
}

// matchPartition loads a partition's rows into an index (rejecting the ambiguous ones through
// p) and writes the rows its probes find to its match file: record number (delta), owner kind,
// row. It is safe to call for different partitions at once, with different buffers b.
func (j *hashJoin) matchPartition(part joinPart, p *passwordIndex, b *frameBufs) error {
	idx := newPasswordIndex(j.path, p.reject)
	idx.onAmbiguous = j.mark
	idx.rows.chunkSize = int(min(max(j.limit/16, minArenaChunk), maxArenaChunk))
	err := j.readRows(part.rows, b, func(e *hashEntry) error { return idx.insert(e) })
	if err != nil {
		return err
	}
	raisePeak(&j.peak, idx.size())
	var e hashEntry
	return writeMatches(j.partPath(hashProbesFile, part.id), j.partPath(hashMatchesFile, part.id), "password", b, func() bool {
		i, ok := idx.owners.lookup(bytesString(b.key))
		if !ok || *idx.state(i)&pwAmbiguous != 0 {
			return false
		}
		idx.decode(i, &e)
		b.body = encodePasswordRow(b.body[:0], &e)
		return true
	})
}

// writeMatches looks up every probe of the probes file at probesPath, in order (its key in
// b.key): find reports whether it found something, then in b.body. Each find is written to the
// match file at matchesPath: the record number (as a delta), the key's first byte (the owner
// kind), then b.body, framed. The probes file is removed at the end. what names the join in
// errors ("password", "mapping").
func writeMatches(probesPath, matchesPath, what string, b *frameBufs, find func() bool) error {
	matches, err := createStream(matchesPath, what+" matches", joinBuffer)
	if err != nil {
		return err
	}
	defer matches.close()
	last := 0
	err = eachProbe(probesPath, what+" probes", b, func(n int) error {
		if !find() {
			return nil
		}
		b.buf = append(binary.AppendUvarint(b.buf[:0], uint64(n-last)), b.key[0])
		b.buf = appendFrame(b.buf, bytesString(b.body))
		last = n
		if _, err := matches.w.Write(b.buf); err != nil {
			return fmt.Errorf("write %s matches: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := matches.finish(); err != nil {
		return fmt.Errorf("write %s matches: %w", what, err)
	}
	return os.Remove(probesPath)
}

// eachProbe calls fn with the record number of every probe of a probes file (holding what, for
// errors), in order, the probe's key in b.key.
func eachProbe(path, what string, b *frameBufs, fn func(n int) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, joinBuffer)
	n := 0
	for {
		delta, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			err = readFrame(r, &b.key)
		}
		if err != nil {
			return fmt.Errorf("read %s: %s: %w", what, path, unexpectedEOF(err))
		}
		n += int(delta)
		if err := fn(n); err != nil {
			return err
		}
	}
}

// readRows calls fn for every row of a partition file, in file order; the entry's strings alias
// b, reused for the next row.
func (j *hashJoin) readRows(s *stream, b *frameBufs, fn func(e *hashEntry) error) error {
	var e hashEntry
	return eachRowFrame(s.path, "password partition", b, func() error {
		decodePasswordRow(b.body, &e)
		e.owner, e.byEmail = bytesString(b.key[1:]), b.key[0] == ownerEmail
		return fn(&e)
	})
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
	err := j.sources.take(n, func(src *matchSource) error {
		if src.kind == ownerUserID {
			j.userID, hasUser = append(j.userID[:0], src.body...), true
		} else {
			j.email, hasEmail = append(j.email[:0], src.body...), true
		}
		return nil
	})
	if err != nil {
		return err
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
	for _, part := range j.leaves {
		err := j.readRows(part.rows, &j.bufs, func(e *hashEntry) error {
			if j.marked(e.line) || e.state&pwAmbiguous != 0 {
				return nil
			}
			return p.rejectUnused(e)
		})
		if err != nil {
			return err
		}
		os.Remove(part.rows.path)
		os.Remove(j.partPath(hashMatchesFile, part.id))
	}
	return nil
}

// close closes the join's open files after a failure (the stage removes the spill folder).
func (j *hashJoin) close() {
	for _, s := range j.rows {
		s.close()
	}
	j.sources.close()
}

// frameBufs are the read and write buffers of one goroutine of the join.
type frameBufs struct {
	key, body, buf []byte
}

// matchSource is one match file read in order: the record number, owner kind and row of its
// current match. what names what the file holds, in errors.
type matchSource struct {
	path string
	what string
	f    *os.File
	r    *bufio.Reader
	n    int
	kind byte
	body []byte
}

// openMatches opens a match file, holding what, at its first match, or returns nil when it has
// none.
func openMatches(path, what string) (*matchSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	src := &matchSource{path: path, what: what, f: f, r: bufio.NewReaderSize(f, joinBuffer)}
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
		return false, fmt.Errorf("read %s: %s: %w", s.what, s.path, unexpectedEOF(err))
	}
	s.n += int(delta)
	return true, nil
}

// matchHeap orders the match files by their current record number.
type matchHeap []*matchSource

// openMatchHeap opens the match files at paths, holding what, and orders them; empty files are
// left out. On an error the files opened are closed.
func openMatchHeap(paths []string, what string) (matchHeap, error) {
	var h matchHeap
	for _, path := range paths {
		src, err := openMatches(path, what)
		if err != nil {
			h.close()
			return nil, err
		}
		if src != nil {
			h = append(h, src)
		}
	}
	heap.Init(&h)
	return h, nil
}

// take calls fn with each match of record n, skipping the matches of earlier records, and moves
// the files past them. Records are asked for in increasing order.
func (h *matchHeap) take(n int, fn func(src *matchSource) error) error {
	for len(*h) > 0 && (*h)[0].n <= n {
		src := (*h)[0]
		if src.n == n {
			if err := fn(src); err != nil {
				return err
			}
		}
		ok, err := src.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			src.f.Close()
			heap.Pop(h)
		}
	}
	return nil
}

// close closes the files still open.
func (h *matchHeap) close() {
	for _, src := range *h {
		src.f.Close()
	}
	*h = nil
}

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
