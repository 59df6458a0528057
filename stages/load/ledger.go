package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Ledger entry kinds.
const (
	kindOrganization         = "organization"
	kindMember               = "member"
	kindRollbackOrganization = "rollback_organization"
	kindRollbackMember       = "rollback_member"
)

// Ledger locations, relative to the run directory.
const (
	// LedgerDir holds the load ledger's segments.
	LedgerDir = "load/ledger"
	// RollbackLedgerDir holds the rollback ledger's segments.
	RollbackLedgerDir = "load/rollback_ledger"
	// segmentExt ends every segment's name; the name before it is a zero-padded sequence number.
	segmentExt = ".parquet"
	// segmentDigits is the width of a segment's sequence number.
	segmentDigits = 8
	// segmentPerm is the mode of ledger segments.
	segmentPerm = 0o644
	// ledgerQueue bounds the outcomes queued while a segment is being written: with the flush
	// window and the requests in flight, it bounds what a crash can lose.
	ledgerQueue = 256
)

// listSegments returns the ledger segments in dir in the order they were written, and the next
// free sequence number. A missing dir has none.
func listSegments(dir string) (paths []string, next int, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("list ledger %s: %w", dir, err)
	}
	type seg struct {
		n    int
		path string
	}
	var segs []seg
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, segmentExt) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(name, segmentExt))
		if err != nil {
			continue
		}
		segs = append(segs, seg{n, filepath.Join(dir, name)})
	}
	slices.SortFunc(segs, func(a, b seg) int { return a.n - b.n })
	for _, s := range segs {
		paths = append(paths, s.path)
		next = s.n + 1
	}
	return paths, next, nil
}

// scanLedger calls fn for every entry of every segment in dir, in write order. The entry is
// reused between calls; copy it to keep it.
func scanLedger(dir string, fn func(e *schemas.LedgerEntry) error, opts ...schemas.ReaderOption) error {
	paths, _, err := listSegments(dir)
	if err != nil {
		return err
	}
	for _, p := range paths {
		r, err := schemas.Open(p, schemas.Ledger, opts...)
		if err != nil {
			return fmt.Errorf("read ledger: %w", err)
		}
		for r.Next() {
			if err := fn(r.Row()); err != nil {
				_ = r.Close()
				return err
			}
		}
		err = r.Err()
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("read ledger: %w", err)
		}
	}
	return nil
}

// ledgerWriter collects outcomes from many workers and flushes them to numbered Parquet segments,
// each committed atomically (temporary name, fsync, rename), every flushInterval and whenever
// flushRows are pending. A crash loses at most the outcomes of one flush window; the next run
// resolves those members again (see the package overview).
type ledgerWriter struct {
	dir           string
	meta          schemas.FileMeta
	flushInterval time.Duration
	flushRows     int
	wopts         []schemas.WriterOption
	onFlush       func(seq, rows int)

	ch    chan schemas.LedgerEntry
	syncs chan chan error
	done  chan struct{}
	seq   int
	err   error
	rows  int64
	segs  int
}

// startLedger starts the writer goroutine for the ledger in dir. Entries are added with add; Close
// flushes the rest and returns the first write error.
func startLedger(dir string, meta schemas.FileMeta, interval time.Duration, rows int,
	onFlush func(seq, rows int), wopts ...schemas.WriterOption) (*ledgerWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create ledger %s: %w", dir, err)
	}
	_, next, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	w := &ledgerWriter{
		dir: dir, meta: meta, flushInterval: interval, flushRows: rows, wopts: wopts, onFlush: onFlush,
		ch: make(chan schemas.LedgerEntry, min(2*rows, ledgerQueue)), syncs: make(chan chan error), done: make(chan struct{}),
		seq: next,
	}
	go w.loop()
	return w, nil
}

// add queues one entry. It blocks only while a flush is being written and the queue is full. It
// must not be called after Close.
func (w *ledgerWriter) add(e schemas.LedgerEntry) {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	w.ch <- e
}

// sync flushes every entry added before it and returns the first flush error so far.
func (w *ledgerWriter) sync() error {
	reply := make(chan error)
	w.syncs <- reply
	return <-reply
}

// Close flushes the pending entries and stops the writer. It returns the first flush error.
func (w *ledgerWriter) Close() error {
	close(w.ch)
	<-w.done
	return w.err
}

func (w *ledgerWriter) loop() {
	defer close(w.done)
	t := time.NewTicker(w.flushInterval)
	defer t.Stop()
	buf := make([]schemas.LedgerEntry, 0, w.flushRows)
	flush := func() {
		if len(buf) == 0 || w.err != nil {
			buf = buf[:0]
			return
		}
		if err := w.writeSegment(buf); err != nil {
			w.err = err
		}
		buf = buf[:0]
	}
	for {
		select {
		case e, ok := <-w.ch:
			if !ok {
				flush()
				return
			}
			buf = append(buf, e)
			if len(buf) >= w.flushRows {
				flush()
			}
		case reply := <-w.syncs:
			// Entries added before sync are already in ch: drain them first.
			for drained := false; !drained; {
				select {
				case e, ok := <-w.ch:
					if !ok {
						drained = true
						break
					}
					buf = append(buf, e)
				default:
					drained = true
				}
			}
			flush()
			reply <- w.err
		case <-t.C:
			flush()
		}
	}
}

// writeSegment commits one segment holding rows.
func (w *ledgerWriter) writeSegment(rows []schemas.LedgerEntry) error {
	path := filepath.Join(w.dir, fmt.Sprintf("%0*d%s", segmentDigits, w.seq, segmentExt))
	f, err := pipeline.CreateAtomic(path, segmentPerm)
	if err != nil {
		return fmt.Errorf("write ledger segment: %w", err)
	}
	defer f.Abort() //nolint:errcheck // no-op after Commit
	pw, err := schemas.NewWriter(f, schemas.Ledger, w.meta, w.wopts...)
	if err != nil {
		return fmt.Errorf("write ledger segment %s: %w", path, err)
	}
	for i := range rows {
		if err := pw.Append(&rows[i]); err != nil {
			_ = pw.Close()
			return fmt.Errorf("write ledger segment %s: %w", path, err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write ledger segment %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("write ledger segment: %w", err)
	}
	w.rows += int64(len(rows))
	w.segs++
	if w.onFlush != nil {
		w.onFlush(w.seq, len(rows))
	}
	w.seq++
	return nil
}

// ledgerState is what the ledger says before a run: the latest outcome of every organization and
// member it holds. Members are kept as 16-byte keys with a one-byte outcome code, about 40 bytes
// each in a Go map (40 MB for a million members).
type ledgerState struct {
	orgs    map[string]schemas.LedgerEntry
	members map[rowKey]uint8
	entries int64
}

// outcomeCodes numbers the member outcomes for ledgerState.members; 0 is unused.
var outcomeCodes = []string{"", OutcomeCreated, OutcomeExisting, OutcomeExternalIDAssigned,
	OutcomeExternalIDReassigned, OutcomeConflict, OutcomeFailed, OutcomeSkippedOrgFailed,
	OutcomePasswordSkippedUnverified}

// outcomeCode returns the code of outcome, or the code of failed for an unknown one.
func outcomeCode(outcome string) uint8 {
	if i := slices.Index(outcomeCodes, outcome); i > 0 {
		return uint8(i)
	}
	return uint8(slices.Index(outcomeCodes, OutcomeFailed))
}

// ledgerRows returns the number of entries in the ledger in dir, from the segments' footers; it
// sizes maps up front, so that they never hold two copies of themselves while growing.
func ledgerRows(dir string) (int64, error) {
	paths, _, err := listSegments(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range paths {
		rows, err := countRows(p)
		if err != nil {
			return 0, fmt.Errorf("read ledger: %w", err)
		}
		n += rows
	}
	return n, nil
}

// readLedgerState reads the ledger in dir (kinds organization and member).
func readLedgerState(ctx context.Context, dir string, opts ...schemas.ReaderOption) (*ledgerState, error) {
	rows, err := ledgerRows(dir)
	if err != nil {
		return nil, err
	}
	st := &ledgerState{orgs: map[string]schemas.LedgerEntry{}, members: make(map[rowKey]uint8, rows)}
	kh := newKeyHasher()
	err = scanLedger(dir, func(e *schemas.LedgerEntry) error {
		st.entries++
		if st.entries%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		switch e.Kind {
		case kindOrganization:
			st.orgs[e.OrgKey] = *e
		case kindMember:
			st.members[kh.key(kindMember, e.OrgKey, e.SourceUserID)] = outcomeCode(e.Outcome)
		}
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	return st, nil
}
