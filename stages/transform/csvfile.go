package transform

import (
	"bufio"
	"encoding/csv"
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
// extra columns are ignored, and every error names the file, line and column.
type csvTable struct {
	path string
	f    *readonce.Reader
	r    *csv.Reader
	cols map[string]int
	rec  []string
	// size is the file's size in bytes when it was opened.
	size int64
	// prog, when set (openCSV), counts the bytes read; reported is how many it was told of, and
	// records the records read.
	prog     pipeline.Progress
	reported int64
	records  int
}

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
	r := csv.NewReader(bufio.NewReaderSize(f, csvBuffer))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
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
	t := &csvTable{path: path, f: f, r: r, cols: map[string]int{}, size: info.Size()}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
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
	return t, nil
}

// next reads the next record; it returns false at the end of the file or on error.
func (t *csvTable) next() (bool, error) {
	rec, err := t.r.Read()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", t.path, err)
	}
	t.rec = rec
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
	if off := t.r.InputOffset(); off > t.reported {
		t.prog.Add(off - t.reported)
		t.reported = off
	}
}

// get returns the trimmed value of column name in the current record, "" without that column.
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
func (t *csvTable) at(i int) string {
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(t.rec[i])
}

// line returns the current record's line number.
func (t *csvTable) line() int {
	line, _ := t.r.FieldPos(0)
	return line
}

// errorf returns an error naming the file, the line and column of the field name, and the
// column's name.
func (t *csvTable) errorf(name, format string, args ...any) error {
	line, col := t.r.FieldPos(t.cols[name])
	return fmt.Errorf("%s: line %d, column %d (%s): %s", t.path, line, col, name, fmt.Sprintf(format, args...))
}

// progress returns the part of the file read so far, between 0 and 1.
func (t *csvTable) progress() float64 {
	if t.size <= 0 {
		return 1
	}
	return min(float64(t.r.InputOffset())/float64(t.size), 1)
}

// close closes the file, and ends the progress report after its last bytes.
func (t *csvTable) close() {
	if t.prog != nil {
		t.flushProgress()
		t.prog.Done()
		t.prog = nil
	}
	t.f.Close()
}
