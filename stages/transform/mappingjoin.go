package transform

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Mapping join settings.
const (
	// mappingHeadroom: each partition aims at 1/mappingHeadroom of half the index's share. The
	// partition count is estimated from the part of the file read when the index passed its
	// share, which may not be like the rest (say user id rows first, longer email rows last);
	// a partition whose index passes half the share all the same is split (matchPart).
	mappingHeadroom = 2
	// mappingSplitCheckEvery is how many rows a partition's index takes between two checks of
	// its size.
	mappingSplitCheckEvery = 64
	// The mapping join's files in the spill folder, by partition number: the mapping file's
	// rows, the users' probes, the organizations found for them.
	mappingRowsFile    = "mapping-%04d.bin"
	mappingProbesFile  = "mapping-probes-%04d.bin"
	mappingMatchesFile = "mapping-matches-%04d.bin"
)

// probeLeaves are the users file's columns the mapping join's probes need.
var probeLeaves = map[string]bool{"user_id": true, "emails.email": true, "emails.verified": true}

// mappingJoin joins a mapping file whose index would not fit in its share of memory with the
// users, before the scan, a partition at a time:
//
//  1. The file is read again from the start and each row written to a partition file by a hash
//     of its owner (kind and key), so every owner's rows are in one partition, in file order.
//     The organization keys stay interned in memory: they are few.
//  2. The users file is read for its user ids and emails only. Each user becomes two probes,
//     its user id (packed when canonical, as the rows' are) and its normalized primary email,
//     written to the partitions of those keys in user order.
//  3. Each partition is loaded alone into a mapping index, two at a time (joinWorkers), and its
//     probes looked up. What they find, the organizations in file order, goes to the
//     partition's match file, still in user order. A partition whose index passes half the
//     share while it is loaded (the count was estimated from the start of the file, which may
//     not be like the rest) is split instead, rows and probes alike (splitJoinFiles), and its
//     parts matched one after the other, each split again while still too large.
//  4. The scan reads the match files merged by user (batchKeys): each user gets the keys of its
//     user id's rows, then those of its email's, as from the in-memory index.
//
// So memory holds two partitions' indexes, at most half the share each, whatever the file's size
// and however unlike its start the rest is (short of one owner with more rows than fit). The
// rules do not change: the planner takes the keys the join found instead of looking them up.
type mappingJoin struct {
	dir   string
	parts int
	orgs  *stringDict
	// limit is the index's share of memory; no partition file under splitFloor bytes is split.
	limit, splitFloor int64
	// nextPart numbers the parts of splits, after the first partitions; leaves are the
	// partitions matched, first ones or parts of split ones (guarded by mu).
	nextPart atomic.Int64
	mu       sync.Mutex
	leaves   []int
	// peak is the largest index a partition took, in bytes, without the organization keys; an
	// index given up for a split counts too.
	peak atomic.Int64
	// unmatched are the rows whose owner no probe found, set once every partition is matched.
	unmatched *unmatchedRows
	// The scan's cursor over the match files: the sources, and the organizations found for the
	// user at hand by user id and by email.
	sources     matchHeap
	user, email []uint32
}

// joinMapping joins the mapping file at path, whose index passed o.limit as over says, with the
// users of usersPath, in the spill folder o.dir (steps 1 to 3 of mappingJoin), reporting the
// progress of steps 1 and 3 through progress. Errors in the mapping file carry
// pipeline.ExitConfig.
func joinMapping(ctx context.Context, path string, over *mappingOverflow, o joinOptions, usersPath string,
	alloc memory.Allocator, workers int, progress pipeline.ProgressFactory) (*mappingJoin, error) {
	total := float64(over.size) / max(over.progress, 1e-6)
	parts := min(max(int(math.Ceil(mappingHeadroom*joinWorkers*total/float64(max(o.limit, 1)))), 2), maxJoinParts)
	if o.parts > 0 {
		parts = o.parts
	}
	j := &mappingJoin{dir: o.dir, parts: parts, orgs: newStringDict(), limit: o.limit,
		splitFloor: cmp.Or(o.splitFloor, minJoinSplitBytes)}
	j.nextPart.Store(int64(parts))
	rows, err := j.writeRows(path, progress("partition mapping file", "bytes"))
	if err != nil {
		return nil, err
	}
	j.unmatched = newUnmatchedRows(rows)
	if err := j.writeProbes(ctx, usersPath, alloc); err != nil {
		return nil, err
	}
	matched := progress("join mapping partitions", "partitions")
	matched.SetTotal(int64(parts))
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(max(workers, 1), joinWorkers, parts) {
		g.Go(func() error {
			var b frameBufs
			for q := int(next.Add(1) - 1); q < parts; q = int(next.Add(1) - 1) {
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := j.matchPart(gctx, mappingPart{id: q}, &b); err != nil {
					return err
				}
				matched.Add(1)
			}
			return nil
		})
	}
	err = g.Wait()
	matched.Done()
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(j.leaves))
	for k, q := range j.leaves {
		paths[k] = j.path(mappingMatchesFile, q)
	}
	if j.sources, err = openMatchHeap(paths, "mapping matches"); err != nil {
		return nil, err
	}
	return j, nil
}

// path returns the path of partition q's file of the given pattern (mappingRowsFile...).
func (j *mappingJoin) path(pattern string, q int) string {
	return filepath.Join(j.dir, fmt.Sprintf(pattern, q))
}

// appendMappingKey appends the key of an owner as the join writes it: its kind, then the owner.
func appendMappingKey(dst []byte, kind int, owner string) []byte {
	return append(append(dst, byte(kind)), owner...)
}

// writeRows writes every row of the mapping file to its partition (step 1): the owner's key and
// the row's body (the organization's index in j.orgs and the row's number), framed. It returns
// the number of rows. The bytes read are counted on prog.
func (j *mappingJoin) writeRows(path string, prog pipeline.Progress) (int, error) {
	files := make([]*stream, j.parts)
	defer func() {
		for _, s := range files {
			s.close()
		}
	}()
	for q := range files {
		var err error
		if files[q], err = createStream(j.path(mappingRowsFile, q), "mapping partition", joinBuffer); err != nil {
			prog.Done()
			return 0, err
		}
	}
	var (
		b    frameBufs
		werr error
		rows int
	)
	err := eachMappingRow(path, prog, func(_ *csvTable, kind int, owner, key string) error {
		b.key = appendMappingKey(b.key[:0], kind, owner)
		b.body = binary.AppendUvarint(binary.AppendUvarint(b.body[:0], uint64(j.orgs.intern(key))), uint64(rows))
		rows++
		_, werr = writeRowFrame(files[partitionOf(bytesString(b.key), j.parts)], &b, bytesString(b.key), "mapping")
		return werr
	})
	switch {
	case werr != nil:
		return 0, werr
	case err != nil:
		return 0, pipeline.WithExitCode(fmt.Errorf("read mapping file: %w", err), pipeline.ExitConfig)
	}
	for _, s := range files {
		if err := s.finish(); err != nil {
			return 0, fmt.Errorf("write mapping partition: %w", err)
		}
	}
	return rows, nil
}

// writeProbes writes two probes per user of the users file (step 2): its user id and its
// normalized primary email (when it has a valid one), numbered by the user's row.
func (j *mappingJoin) writeProbes(ctx context.Context, usersPath string, alloc memory.Allocator) error {
	paths := make([]string, j.parts)
	for q := range paths {
		paths[q] = j.path(mappingProbesFile, q)
	}
	probes, err := createProbeFiles(paths, "mapping probes")
	defer probes.close()
	if err != nil {
		return err
	}
	users, err := openUserLeaves(ctx, usersPath, alloc, probeLeaves, schemas.DefaultReadBatchRows)
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	defer users.Close()
	var (
		b      frameBufs
		emails []schemas.Email
		packed []byte
	)
	n := 0
	for users.rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := users.rr.RecordBatch()
		cols := batchColumns{rec: rec}
		ids, list := cols.str("user_id"), cols.emails()
		if cols.err != nil {
			return fmt.Errorf("read users: %s: %w", usersPath, cols.err)
		}
		for i := range int(rec.NumRows()) {
			if id := str(ids, i); id != "" {
				var (
					kind  int
					owner string
				)
				kind, owner, packed = userOwner(packed, id)
				b.key = appendMappingKey(b.key[:0], kind, owner)
				if err := probes.add(&b, partitionOf(bytesString(b.key), j.parts), n); err != nil {
					return err
				}
			}
			emails = list.appendTo(emails[:0], i)
			if pi := primaryEmail(emails); pi >= 0 {
				if email, valid, _ := normalizeEmail(emails[pi].Email); valid {
					b.key = appendMappingKey(b.key[:0], mapEmail, email)
					if err := probes.add(&b, partitionOf(bytesString(b.key), j.parts), n); err != nil {
						return err
					}
				}
			}
			n++
		}
	}
	if err := users.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read users: %s: %w", usersPath, err)
	}
	return probes.finish()
}

// mappingPart is one partition of the join: a first one, or a part of a split one.
type mappingPart struct {
	id     int // the number in its files' names
	splits int // how many splits made it
}

// errPartitionFull stops the loading of a partition whose index passed half the share.
var errPartitionFull = errors.New("partition too large")

// matchPart matches one partition (matchPartition), or, when its index passes half the share
// while it is loaded, splits it into joinSplitFanout parts by a hash of the owner key seeded
// with the split's depth and matches them one after the other. Parts that got no row are
// dropped; when every row went to one part (one owner has them all), that part is not split
// again.
func (j *mappingJoin) matchPart(ctx context.Context, part mappingPart, b *frameBufs) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := j.matchPartition(part, b)
	if !errors.Is(err, errPartitionFull) {
		if err == nil {
			j.mu.Lock()
			j.leaves = append(j.leaves, part.id)
			j.mu.Unlock()
		}
		return err
	}
	parts := make([]mappingPart, joinSplitFanout)
	files := make([]joinFiles, joinSplitFanout)
	for q := range parts {
		id := int(j.nextPart.Add(1) - 1)
		parts[q] = mappingPart{id: id, splits: part.splits + 1}
		files[q] = joinFiles{rows: j.path(mappingRowsFile, id), probes: j.path(mappingProbesFile, id)}
	}
	src := joinFiles{rows: j.path(mappingRowsFile, part.id), probes: j.path(mappingProbesFile, part.id)}
	counts, err := splitJoinFiles(src, files, uint64(part.splits+1), "mapping", b)
	if err != nil {
		return err
	}
	for _, sub := range keptParts(parts, counts, func(p *mappingPart) { p.splits = maxJoinSplits }) {
		if err := j.matchPart(ctx, sub, b); err != nil {
			return err
		}
	}
	return nil
}

// matchPartition loads a partition's rows into an index and writes what its probes find to its
// match file (step 3): user number (delta), owner kind, then, framed, the number of
// organizations and their indexes. Last, it adds the rows no probe found to j.unmatched. It
// returns errPartitionFull, having written nothing, when the index passes half the share while
// it is loaded, unless the partition may not be split (see matchPart). It is safe to call for
// different partitions at once, with different buffers b.
func (j *mappingJoin) matchPartition(part mappingPart, b *frameBufs) error {
	rowsPath := j.path(mappingRowsFile, part.id)
	splittable := part.splits < maxJoinSplits
	if splittable {
		info, err := os.Stat(rowsPath)
		if err != nil {
			return fmt.Errorf("read mapping partition: %w", err)
		}
		splittable = info.Size() >= j.splitFloor
	}
	idx := newMapping()
	idx.orgs = j.orgs
	// rowOf is the number in the file of each row of the partition's index.
	var rowOf []uint32
	// size is the index's size without the organization dictionary, the join's, shared by every
	// partition.
	size := func() int64 { return idx.size() - j.orgs.size() + 4*int64(cap(rowOf)) }
	err := eachRowFrame(rowsPath, "mapping partition", b, func() error {
		org, k := binary.Uvarint(b.body)
		var row uint64
		if k > 0 {
			var k2 int
			row, k2 = binary.Uvarint(b.body[k:])
			k = min(k, k2)
		}
		if k <= 0 || int(b.key[0]) >= mapKinds || org >= uint64(j.orgs.len()) || row >= uint64(j.unmatched.total) {
			return fmt.Errorf("read mapping partition: %s: bad row", rowsPath)
		}
		idx.addOrg(int(b.key[0]), bytesString(b.key[1:]), uint32(org)) // the index copies the key
		rowOf = append(rowOf, uint32(row))
		if splittable && len(rowOf)%mappingSplitCheckEvery == 0 && size() > j.limit/joinWorkers {
			return errPartitionFull
		}
		return nil
	})
	raisePeak(&j.peak, size())
	if err != nil {
		return err
	}
	idx.track()
	var orgs []uint32
	err = writeMatches(j.path(mappingProbesFile, part.id), j.path(mappingMatchesFile, part.id), "mapping", b, func() bool {
		orgs = idx.appendOrgs(orgs[:0], int(b.key[0]), bytesString(b.key[1:]))
		b.body = binary.AppendUvarint(b.body[:0], uint64(len(orgs)))
		for _, o := range orgs {
			b.body = binary.AppendUvarint(b.body, uint64(o))
		}
		return len(orgs) > 0
	})
	if err != nil {
		return err
	}
	idx.eachUnmatched(func(row uint32) { j.unmatched.add(rowOf[row]) })
	return os.Remove(rowsPath)
}

// batchKeys holds the organization keys of a batch of users: user i's are
// keys[offs[i]:offs[i+1]]. The strings are the join's.
type batchKeys struct {
	offs []int
	keys []string
}

// of returns the keys of user i of the batch.
func (k *batchKeys) of(i int) []string { return k.keys[k.offs[i]:k.offs[i+1]] }

// batch returns the keys of users first to first+n-1 (step 4). Batches are asked for in order.
func (j *mappingJoin) batch(first, n int) (*batchKeys, error) {
	k := &batchKeys{offs: make([]int, 1, n+1)}
	for u := first; u < first+n; u++ {
		j.user, j.email = j.user[:0], j.email[:0]
		err := j.sources.take(u, func(src *matchSource) error {
			var err error
			if src.kind == mapEmail {
				j.email, err = decodeOrgList(j.email, src.body, j.orgs.len())
			} else {
				j.user, err = decodeOrgList(j.user, src.body, j.orgs.len())
			}
			if err != nil {
				return fmt.Errorf("read mapping matches: %s: %w", src.path, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, o := range j.user {
			k.keys = append(k.keys, j.orgs.key(o))
		}
		for _, o := range j.email {
			k.keys = append(k.keys, j.orgs.key(o))
		}
		k.offs = append(k.offs, len(k.keys))
	}
	return k, nil
}

// decodeOrgList appends the organization indexes of a match's body to dst; each must be below
// orgs.
func decodeOrgList(dst []uint32, body []byte, orgs int) ([]uint32, error) {
	count, k := binary.Uvarint(body)
	if k <= 0 {
		return dst, errors.New("bad match")
	}
	body = body[k:]
	for range count {
		o, k := binary.Uvarint(body)
		if k <= 0 || o >= uint64(orgs) {
			return dst, errors.New("bad match")
		}
		dst, body = append(dst, uint32(o)), body[k:]
	}
	return dst, nil
}

// close closes the match files still open (the stage removes the spill folder).
func (j *mappingJoin) close() {
	if j == nil {
		return
	}
	j.sources.close()
}
