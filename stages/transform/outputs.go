package transform

import (
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// outputFile is one output being written under a temporary name.
type outputFile struct {
	af    *pipeline.AtomicFile
	close func() error
}

// outputs are the stage's output files, committed together at the end.
type outputs struct {
	files     []outputFile
	orgs      *schemas.Writer[schemas.Organization]
	members   *schemas.Writer[schemas.Member]
	dups      *schemas.Writer[schemas.Duplicate]
	rejects   *schemas.Writer[schemas.Reject]
	pws       *schemas.Writer[schemas.MemberPassword]
	passwords int64
	orgCount  int64
}

// openOutput starts one output file with a writer of spec.
func openOutput[T any](o *outputs, dir *pipeline.RunDir, spec *schemas.Spec[T], perm os.FileMode, meta schemas.FileMeta, alloc memory.Allocator) (*schemas.Writer[T], error) {
	af, err := pipeline.CreateAtomic(dir.Path(spec.Path()), perm)
	if err != nil {
		return nil, err
	}
	w, err := schemas.NewWriter(af, spec, meta, schemas.WithWriterAllocator(alloc))
	if err != nil {
		af.Abort()
		return nil, err
	}
	o.files = append(o.files, outputFile{af: af, close: w.Close})
	return w, nil
}

func (t *run) openOutputs() (*outputs, error) {
	o := &outputs{}
	meta := schemas.FileMeta{ToolVersion: t.env.ToolVersion, RunID: t.env.RunID}
	dir, alloc := t.env.Dir, t.opts.alloc
	var err error
	fail := func(e error) (*outputs, error) { o.abort(); return nil, e }
	if o.orgs, err = openOutput(o, dir, schemas.Organizations, outputPerm, meta, alloc); err != nil {
		return fail(err)
	}
	if o.members, err = openOutput(o, dir, schemas.Members, outputPerm, meta, alloc); err != nil {
		return fail(err)
	}
	if o.dups, err = openOutput(o, dir, schemas.Duplicates, outputPerm, meta, alloc); err != nil {
		return fail(err)
	}
	if o.rejects, err = openOutput(o, dir, schemas.Rejects, outputPerm, meta, alloc); err != nil {
		return fail(err)
	}
	if t.pws != nil {
		if o.pws, err = openOutput(o, dir, schemas.MemberPasswords, passwordPerm, meta, alloc); err != nil {
			return fail(err)
		}
	}
	return o, nil
}

// commit finishes every file, then renames them all into place.
func (o *outputs) commit() error {
	for _, f := range o.files {
		if err := f.close(); err != nil {
			return err
		}
	}
	for _, f := range o.files {
		if err := f.af.Commit(); err != nil {
			return fmt.Errorf("write outputs: %w", err)
		}
	}
	return nil
}

// abort discards every file not committed yet.
func (o *outputs) abort() {
	for _, f := range o.files {
		f.close()
		f.af.Abort()
	}
}

// paths lists the outputs relative to the run directory.
func (o *outputs) paths(dir *pipeline.RunDir) []string {
	var ps []string
	for _, f := range o.files {
		ps = append(ps, dir.Rel(f.af.Path()))
	}
	return ps
}

// finalSink writes rows to the outputs and tallies them for reconciliation. Members and
// passwords are written on their own goroutines; wait must be called before the files close.
type finalSink struct {
	out     *outputs
	run     *run
	members *asyncWriter[schemas.Member]
	pws     *asyncWriter[schemas.MemberPassword]
}

func newFinalSink(out *outputs, t *run) *finalSink {
	s := &finalSink{out: out, run: t, members: newAsyncWriter(out.members)}
	if out.pws != nil {
		s.pws = newAsyncWriter(out.pws)
	}
	return s
}

// drain waits until the queued rows are written (see asyncWriter.Drain).
func (s *finalSink) drain() error {
	s.members.Drain()
	if s.pws != nil {
		s.pws.Drain()
	}
	return nil
}

// wait finishes the asynchronous writes.
func (s *finalSink) wait() error {
	err := s.members.Wait()
	if s.pws != nil {
		if e := s.pws.Wait(); err == nil {
			err = e
		}
	}
	return err
}

func (s *finalSink) member(m *schemas.Member, pw *schemas.MemberPassword) error {
	if err := s.writeMember(m); err != nil {
		return err
	}
	if pw != nil {
		return s.writePassword(pw)
	}
	return nil
}

func (s *finalSink) writeMember(m *schemas.Member) error {
	s.run.ledger.members.add(m.SourceUserID, m.OrgKey)
	return s.members.Append(m)
}

func (s *finalSink) writePassword(pw *schemas.MemberPassword) error {
	s.out.passwords++
	return s.pws.Append(pw)
}

func (s *finalSink) duplicate(d *schemas.Duplicate) error {
	s.run.ledger.duplicates.add(d.SourceUserID, d.OrgKey)
	return s.out.dups.Append(d)
}

func (s *finalSink) reject(r schemas.Reject) { s.run.rejects = append(s.run.rejects, r) }

// asyncRows is how many rows an asyncWriter hands over at once.
const asyncRows = 1024

// asyncWriter appends rows to a schemas.Writer on its own goroutine, so that encoding and
// compressing the file overlaps with the work producing the rows. Rows are copied shallowly:
// their strings must stay valid (they point into arenas that live until the end of the run).
type asyncWriter[T any] struct {
	w       *schemas.Writer[T]
	buf     []T
	ch      chan []T
	done    chan error
	err     error
	spare   chan []T
	drained chan struct{}
}

func newAsyncWriter[T any](w *schemas.Writer[T]) *asyncWriter[T] {
	ch := make(chan []T, 4)
	a := &asyncWriter[T]{w: w, ch: ch, done: make(chan error, 1), spare: make(chan []T, 6), drained: make(chan struct{})}
	go func() {
		var err error
		for rows := range ch {
			if rows == nil {
				a.drained <- struct{}{}
				continue
			}
			for i := range rows {
				if err == nil {
					err = w.Append(&rows[i])
				}
			}
			select {
			case a.spare <- rows[:0]:
			default:
			}
		}
		a.done <- err
	}()
	return a
}

// Append queues a copy of row.
func (a *asyncWriter[T]) Append(row *T) error {
	if a.buf == nil {
		select {
		case a.buf = <-a.spare:
		default:
			a.buf = make([]T, 0, asyncRows)
		}
	}
	a.buf = append(a.buf, *row)
	if len(a.buf) == asyncRows {
		a.ch <- a.buf
		a.buf = nil
	}
	return nil
}

// Drain waits until every row appended so far has been handed to the file writer, so the
// memory the rows point into may be reused.
func (a *asyncWriter[T]) Drain() {
	if len(a.buf) > 0 {
		a.ch <- a.buf
		a.buf = nil
	}
	a.ch <- nil
	<-a.drained
}

// Wait hands over the last rows and waits until every row is written; it returns the first
// write error. Calling it again returns the same error.
func (a *asyncWriter[T]) Wait() error {
	if a.ch == nil {
		return a.err
	}
	if len(a.buf) > 0 {
		a.ch <- a.buf
	}
	close(a.ch)
	a.ch = nil
	a.err = <-a.done
	return a.err
}
