package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/stytch-migrate/stytch-migrate/internal/readonce"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Defaults of the file sources' decoding pipeline.
const (
	// DefaultBlockSize is how many bytes the reader reads at a time; each block's complete records
	// form one chunk of work.
	DefaultBlockSize = 1 << 20
	// chunksPerWorker bounds the chunks in flight (read, decoding, or waiting for their turn to be
	// written) per worker, and so the pipeline's memory.
	chunksPerWorker = 3
)

// chunkPool recycles chunks with their block and item buffers once they are written, so that the
// steady state allocates no large buffers: a fresh 1 MiB block costs page faults as the kernel
// maps it in, which showed as a tenth of the stage's CPU time. Nothing refers to a chunk's block
// or items after the merger is done with it: decoded users own their strings (see fastJSON), and
// quarantined records copy their raw text.
type chunkPool struct {
	free chan *chunk
}

func newChunkPool(size int) *chunkPool { return &chunkPool{free: make(chan *chunk, size)} }

// get returns a recycled chunk, or a new one.
func (p *chunkPool) get() *chunk {
	select {
	case c := <-p.free:
		return c
	default:
		return &chunk{}
	}
}

// put recycles c.
func (p *chunkPool) put(c *chunk) {
	clear(c.items) // drop the users' strings
	*c = chunk{data: c.data[:0], items: c.items[:0]}
	select {
	case p.free <- c:
	default:
	}
}

// DefaultWorkers returns the default number of decoding goroutines: one per CPU.
func DefaultWorkers() int { return runtime.GOMAXPROCS(0) }

// chunk is a block of source bytes and the records found in it. It is owned by whoever holds it:
// the reader, then one worker, then the merger.
type chunk struct {
	seq    int
	data   []byte
	spans  []span
	layout *csvLayout // CSV only
	items  []item
	// headers counts repeated CSV header rows skipped in the chunk.
	headers int64
	err     error
}

// item is one decoded record: a user, or why it is malformed.
type item struct {
	user schemas.User
	// id is user.UserID packed for the checker's duplicate check, on the decoding goroutine.
	id   idKey
	derr *decodeError
	raw  []byte
	// line is the record's source position; errLine, when set, is the line of the fault.
	line, errLine int64
}

// fileStats are what reading a file found besides users and bad records.
type fileStats struct {
	bytes       int64
	headersSeen int64 // CSV header rows, the first one included
	blankLines  int64 // JSON Lines blank lines skipped
	// sha256 is the hex sha256 of the whole file, hashed while it was read (for the manifest).
	sha256 string
}

// fileSource reads one export file through a bounded pipeline: a reader goroutine splits blocks
// into records, workers decode chunks in parallel, and the merger hands the results to the
// checker in source order.
type fileSource struct {
	kind      string
	path      string
	workers   int
	blockSize int
	progress  pipeline.Progress
}

// run reads the whole file into chk.
func (s *fileSource) run(ctx context.Context, chk *checker) (fileStats, error) {
	var st fileStats
	// The export is read once, and dropped from the page cache behind the reading (see package
	// readonce).
	f, err := readonce.Open(s.path)
	if err != nil {
		return st, fmt.Errorf("read users: %w", err)
	}
	defer f.Close()
	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
		s.progress.SetTotal(size)
	}
	var sp splitter
	switch s.kind {
	case SourceJSONL:
		sp = newLineSplitter()
	case SourceExportJSON:
		sp = newArraySplitter()
	case SourceExportCSV:
		sp = newCSVSplitter()
	default:
		return st, fmt.Errorf("read users: unknown file source %q", s.kind)
	}
	workers := max(s.workers, 1)
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan *chunk, workers)
	done := make(chan *chunk, workers)
	tokens := make(chan struct{}, workers*chunksPerWorker)
	pool := newChunkPool(workers*chunksPerWorker + 1)

	g.Go(func() error {
		defer close(work)
		// Hash the file as it is read, for the manifest: reading it again afterwards would cost
		// a second pass over the whole export.
		h := sha256.New()
		r := io.TeeReader(f, h)
		err := s.read(gctx, r, sp, &st, pool, func(c *chunk) error {
			select {
			case tokens <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case work <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
		if err != nil {
			return err
		}
		// Bytes after the last record (trailing white space) belong to the file too.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("read users: %s: %w", s.path, err)
		}
		st.sha256 = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var d decoder
			for c := range work {
				s.decode(&d, c)
				select {
				case done <- c:
				case <-gctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	g.Go(func() error {
		pending := map[int]*chunk{}
		next := 0
		guess := idGuess{size: size}
		for c := range done {
			pending[c.seq] = c
			for pc := pending[next]; pc != nil; pc = pending[next] {
				delete(pending, next)
				next++
				guess.see(pc, chk.seen)
				if err := s.merge(pc, chk, &st); err != nil {
					return err
				}
				pool.put(pc)
				<-tokens
			}
		}
		return nil
	})
	err = g.Wait()
	for range done { // let the workers finish after an error
	}
	return st, err
}

// idGuess tells a checker's id set how many users a file holds, from the file's size and the
// records seen so far, once there is a megabyte of them (see idSet.expect). The guess is
// renewed with every chunk, so a start unlike the rest of the file misleads only the table's
// early, small sizes.
type idGuess struct {
	size           int64
	bytes, records int64
}

const (
	// guessAfterBytes is how much of a file is looked at before guessing its users.
	guessAfterBytes = 1 << 20
	// guessMinRecordBytes bounds the guess: no file is taken to hold more than one user per this
	// many bytes, whatever its first records look like (a valid user record is longer).
	guessMinRecordBytes = 200
)

// see counts chunk c, and guesses once enough of the file has been seen.
func (g *idGuess) see(c *chunk, ids *idSet) {
	if g.size <= 0 {
		return
	}
	g.bytes += int64(len(c.data))
	g.records += int64(len(c.items))
	if g.bytes < guessAfterBytes {
		return
	}
	n := min(g.size*g.records/g.bytes, g.size/guessMinRecordBytes)
	ids.expect(int(n + n/20))
}

// read splits the file into chunks (from pool) and hands them to emit, in order.
func (s *fileSource) read(ctx context.Context, r io.Reader, sp splitter, st *fileStats, pool *chunkPool, emit func(*chunk) error) error {
	blockSize := max(s.blockSize, 1024)
	var carry []byte // the start of a record continued in the next block; the reader's own
	var layout *csvLayout
	seq := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := pool.get()
		size := max(blockSize, 2*len(carry))
		if cap(c.data) < size {
			c.data = make([]byte, 0, size)
		}
		data := c.data[:len(carry):size]
		copy(data, carry)
		n, err := io.ReadFull(r, data[len(carry):cap(data)])
		data = data[:len(carry)+n]
		atEOF := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !atEOF {
			return fmt.Errorf("read users: %s: %w", s.path, err)
		}
		spans, consumed, err := sp.split(data, atEOF)
		if err != nil {
			return s.structureError(err)
		}
		if s.kind == SourceExportCSV && layout == nil && len(spans) > 0 {
			first := spans[0]
			header, err := readCSVHeader(data[first.start:first.end])
			if err == nil {
				layout, err = newCSVLayout(header)
			}
			if err != nil {
				return &RecordError{File: s.path, Line: first.line, Field: "header", Msg: err.Error()}
			}
			spans = spans[1:]
			st.headersSeen++
		}
		if ls, ok := sp.(*lineSplitter); ok {
			st.blankLines = ls.blanks
		}
		st.bytes += int64(consumed)
		s.progress.Add(int64(consumed))
		carry = append(carry[:0], data[consumed:]...)
		if len(spans) > 0 {
			c.seq, c.data, c.spans, c.layout = seq, data, spans, layout
			if err := emit(c); err != nil {
				return err
			}
			seq++
		} else {
			pool.put(c)
		}
		if atEOF {
			return nil
		}
	}
}

// structureError turns a splitter's error into a RecordError naming the file.
func (s *fileSource) structureError(err error) error {
	if se, ok := errors.AsType[*structureError](err); ok {
		return &RecordError{File: s.path, Line: se.line, Field: fieldRecord, Msg: se.msg}
	}
	return fmt.Errorf("read users: %s: %w", s.path, err)
}

// decode decodes a chunk's records into c.items and packs their user ids.
func (s *fileSource) decode(d *decoder, c *chunk) {
	c.items = slices.Grow(c.items[:0], len(c.spans))
	if s.kind == SourceExportCSV {
		c.items, c.headers, c.err = d.decodeCSV(c, c.items)
	} else {
		for _, sp := range c.spans {
			it := item{raw: c.data[sp.start:sp.end], line: sp.line}
			if it.derr = d.decodeJSON(it.raw, &it.user); it.derr != nil && it.derr.offset >= 0 {
				it.errLine = sp.line + newlinesBefore(string(it.raw), it.derr.offset)
			}
			it.user.SourcePosition = sp.line
			c.items = append(c.items, it)
		}
	}
	for i := range c.items {
		if it := &c.items[i]; it.derr == nil {
			it.id = packID(it.user.UserID)
		}
	}
}

// merge hands a decoded chunk to the checker.
func (s *fileSource) merge(c *chunk, chk *checker, st *fileStats) error {
	chk.seen.warm(func(yield func(idKey) bool) {
		for i := range c.items {
			if c.items[i].derr == nil && !yield(c.items[i].id) {
				return
			}
		}
	})
	for i := range c.items {
		it := &c.items[i]
		if it.derr != nil {
			line := it.line
			if it.errLine > 0 {
				line = it.errLine
			}
			if err := chk.reject(&RecordError{File: s.path, Line: line, Field: it.derr.field, Msg: it.derr.msg}, it.line, it.raw); err != nil {
				return err
			}
			continue
		}
		it.user.SourceFile = s.path
		if err := chk.user(&it.user, it.id, it.raw); err != nil {
			return err
		}
	}
	st.headersSeen += c.headers
	if c.err != nil {
		return s.structureError(c.err)
	}
	return nil
}
