package transform

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/internal/readonce"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// csvBuffer is the read buffer of a CSV file.
const csvBuffer = 1 << 20

// csvProgressEvery is how many records a CSV file's reader reads between two progress reports.
const csvProgressEvery = 4096

// csvTable reads a header-based CSV file: columns are found by name (trimmed, case-insensitive),
// extra columns are ignored, and every error names the file, line and column. The records are
// parsed on another goroutine (parseAhead), up to csvAheadBatches batches of csvAheadRecords
// ahead of the reader, so that parsing the file and what the reader does with its records take
// both cores.
type csvTable struct {
	path string
	f    *readonce.Reader
	cols map[string]int
	// width is the number of fields of every record: the header's.
	width int
	// size is the file's size in bytes when it was opened.
	size int64
	// The parser's batches come on batches and go back on free; stop tells the parser to end.
	batches, free chan *csvBatch
	stop          chan struct{}
	stopped       bool
	// batch is the batch of the current record, i its index there. off is the offset in the
	// file after the current record (after the header before the first).
	batch *csvBatch
	i     int
	off   int64
	err   error
	// prog, when set (openCSV), counts the bytes read; reported is how many it was told of, and
	// records the records read.
	prog     pipeline.Progress
	reported int64
	records  int
}

// Read-ahead of a csvTable: batches of csvAheadRecords records; about csvAheadBatches of them
// are in use at once (one being filled, one waiting, one being read), and as many are kept for
// reuse.
const (
	csvAheadRecords = 1024
	csvAheadBatches = 3
)

// openCSV opens path and reads its header. Every name in required must be a column; at least one
// name of each anyOf group must be one. The bytes read are counted on prog (nil: no report),
// which close ends, or at once when the file cannot be opened.
func openCSV(path string, prog pipeline.Progress, required []string, anyOf ...[]string) (*csvTable, error) {
	t, err := readCSVHeader(path, required, anyOf)
	if prog != nil {
		if err != nil {
			prog.Done()
		} else {
			t.report(prog)
		}
	}
	return t, err
}

// readCSVHeader is openCSV without the progress report.
func readCSVHeader(path string, required []string, anyOf [][]string) (*csvTable, error) {
	// Each of these files is read once, and dropped from the page cache behind the reading.
	f, err := readonce.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %w", err)
	}
	p := &csvParser{r: bufio.NewReaderSize(f, csvBuffer)}
	var first csvBatch
	if err := p.record(&first); err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: line 1: empty file, want a header row", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &csvTable{path: path, f: f, cols: map[string]int{}, width: p.width, size: info.Size(), off: p.offset}
	for i := range p.width {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(string(first.field(i)), "\ufeff")))
		if _, dup := t.cols[name]; dup && name != "" {
			f.Close()
			return nil, fmt.Errorf("%s: line 1, column %d: header %q appears twice", path, i+1, name)
		}
		t.cols[name] = i
	}
	for _, c := range required {
		if _, ok := t.cols[c]; !ok {
			f.Close()
			return nil, fmt.Errorf("%s: line 1: no %q column in the header", path, c)
		}
	}
	for _, group := range anyOf {
		found := false
		for _, c := range group {
			_, ok := t.cols[c]
			found = found || ok
		}
		if !found {
			f.Close()
			return nil, fmt.Errorf("%s: line 1: the header needs a %s column", path, strings.Join(group, " or "))
		}
	}
	t.batches, t.free, t.stop = make(chan *csvBatch, 1), make(chan *csvBatch, csvAheadBatches), make(chan struct{})
	go t.parseAhead(p)
	return t, nil
}

// parseAhead reads the records of p into batches and sends them on t.batches, until the end of
// the file, an error (sent in the last batch, after the records before it) or t.stop. It closes
// t.batches when it ends.
func (t *csvTable) parseAhead(p *csvParser) {
	defer close(t.batches)
	for {
		var b *csvBatch
		select {
		case b = <-t.free:
			b.reset()
		default:
			b = &csvBatch{}
		}
		for b.len() < csvAheadRecords {
			if err := p.record(b); err != nil {
				if !errors.Is(err, io.EOF) {
					b.err = fmt.Errorf("%s: %w", t.path, err)
				}
				break
			}
		}
		if b.len() > 0 || b.err != nil {
			select {
			case t.batches <- b:
			case <-t.stop:
				return
			}
		}
		if b.len() < csvAheadRecords {
			return
		}
	}
}

// next reads the next record; it returns false at the end of the file or on error.
func (t *csvTable) next() (bool, error) {
	if t.err != nil {
		return false, t.err
	}
	t.i++
	for t.batch == nil || t.i >= t.batch.len() {
		if t.batch != nil {
			if t.err = t.batch.err; t.err != nil {
				return false, t.err
			}
			select {
			case t.free <- t.batch:
			default:
			}
		}
		b, ok := <-t.batches
		if !ok {
			t.batch = nil
			return false, nil
		}
		t.batch, t.i = b, 0
	}
	t.off = t.batch.offs[t.i]
	if t.records++; t.prog != nil && t.records%csvProgressEvery == 0 {
		t.flushProgress()
	}
	return true, nil
}

// report makes the reader count the bytes it reads on p, which close ends.
func (t *csvTable) report(p pipeline.Progress) {
	t.prog = p
	p.SetTotal(t.size)
	t.flushProgress()
}

// flushProgress tells t.prog of the bytes read since the last report.
func (t *csvTable) flushProgress() {
	if t.off > t.reported {
		t.prog.Add(t.off - t.reported)
		t.reported = t.off
	}
}

// get returns the trimmed value of column name in the current record, "" without that column.
// Like at, it is valid until the next call of next: a reader that keeps it must copy it.
func (t *csvTable) get(name string) string { return t.at(t.col(name)) }

// col returns the index of column name, or -1 when the header has no such column; at reads it.
// A reader of many rows finds its columns once with col rather than by name in every row.
func (t *csvTable) col(name string) int {
	if i, ok := t.cols[name]; ok {
		return i
	}
	return -1
}

// at returns the trimmed value of column i (from col) in the current record, "" when i is -1.
// The string shares the bytes of the batch parsed ahead, which is reused: it is valid until the
// next call of next, and a reader that keeps it must copy it (strings.Clone).
func (t *csvTable) at(i int) string {
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(bytesString(t.batch.field(t.i*t.width + i)))
}

// line returns the current record's line number.
func (t *csvTable) line() int {
	return t.batch.pos[t.i*t.width].line
}

// errorf returns an error naming the file, the line and column of the field name, and the
// column's name.
func (t *csvTable) errorf(name, format string, args ...any) error {
	p := t.batch.pos[t.i*t.width+t.cols[name]]
	return fmt.Errorf("%s: line %d, column %d (%s): %s", t.path, p.line, p.col, name, fmt.Sprintf(format, args...))
}

// progress returns the part of the file read so far, between 0 and 1.
func (t *csvTable) progress() float64 {
	if t.size <= 0 {
		return 1
	}
	return min(float64(t.off)/float64(t.size), 1)
}

// close closes the file, and ends the progress report after its last bytes.
func (t *csvTable) close() {
	if t.prog != nil {
		t.flushProgress()
		t.prog.Done()
		t.prog = nil
	}
	if !t.stopped {
		t.stopped = true
		close(t.stop)
		for range t.batches {
		}
	}
	t.f.Close()
}
