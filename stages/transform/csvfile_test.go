package transform

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// csvRead is what a reader of a CSV file sees of one record: its fields (trimmed), its line,
// the position errorf gives for column "b", and the part of the file read.
type csvRead struct {
	fields   string
	line     int
	errAt    string
	progress float64
}

// csvRecord is a record as encoding/csv reads it: its fields, their positions and the input
// offset after it.
type csvRecord struct {
	fields []string
	pos    []csvPos
	off    int64
}

// readCSVReference reads in with encoding/csv's Reader, set as csvTable had it, up to its first
// error (nil at the end of the input).
func readCSVReference(in io.Reader) ([]csvRecord, error) {
	r := csv.NewReader(in)
	r.ReuseRecord = true
	var out []csvRecord
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		x := csvRecord{fields: slices.Clone(fields), off: r.InputOffset()}
		for i := range fields {
			line, col := r.FieldPos(i)
			x.pos = append(x.pos, csvPos{line, col})
		}
		out = append(out, x)
	}
}

// TestCSVTableReadAhead checks that csvTable, whose records are parsed on another goroutine a
// few batches ahead, reads what encoding/csv reads record by record: the same fields, lines,
// field positions and progress, over several batches and with quoted fields spanning lines; that
// a file's error comes after the records before it, and stays; and that closing the table
// mid-file stops the parser.
func TestCSVTableReadAhead(t *testing.T) {
	var file strings.Builder
	file.WriteString("a, B ,c\n")
	const n = 3*csvAheadRecords + 5
	for i := range n {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&file, "\"x\n%d\", y%d ,z\n", i, i)
		case 1:
			fmt.Fprintf(&file, "%d,,\"q,\"\"%d\"\"\"\n", i, i)
		default:
			fmt.Fprintf(&file, "%d,b%d,%s\n", i, i, strings.Repeat("c", i%13))
		}
	}
	good := file.String()
	file.WriteString("1,2\n")
	bad := file.String()

	// want reads path with encoding/csv alone.
	want := func(path string) ([]csvRead, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readCSVReference(bytes.NewReader(data))
		if err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
		var out []csvRead
		for _, r := range recs[1:] { // after the header
			fields := make([]string, len(r.fields))
			for i, f := range r.fields {
				fields[i] = strings.TrimSpace(f)
			}
			out = append(out, csvRead{strings.Join(fields, "|"), r.pos[0].line,
				fmt.Sprintf("%s: line %d, column %d (b): bad", path, r.pos[1].line, r.pos[1].col), float64(r.off) / float64(len(data))})
		}
		return out, err
	}
	got := func(path string) ([]csvRead, error) {
		tb, err := openCSV(path, nil, []string{"a", "b"})
		if err != nil {
			t.Fatal(err)
		}
		defer tb.close()
		var out []csvRead
		for {
			ok, err := tb.next()
			if err != nil {
				if again, err2 := tb.next(); again || err2 == nil || err2.Error() != err.Error() {
					t.Errorf("%s: after the error, next = %v, %v", path, again, err2)
				}
				return out, err
			}
			if !ok {
				return out, nil
			}
			fields := []string{tb.get("a"), tb.get("b"), tb.get("c")}
			out = append(out, csvRead{strings.Join(fields, "|"), tb.line(), tb.errorf("b", "bad").Error(), tb.progress()})
		}
	}
	for _, c := range []struct{ name, content string }{{"good", good}, {"bad", bad}} {
		path := writeFile(t, c.name+".csv", c.content)
		w, werr := want(path)
		g, gerr := got(path)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || (c.name == "bad") != (gerr != nil) {
			t.Fatalf("%s: err = %v, want %v", c.name, gerr, werr)
		}
		if len(g) != n || len(w) != n {
			t.Fatalf("%s: %d records, want %d (encoding/csv: %d)", c.name, len(g), n, len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s: record %d = %+v, want %+v", c.name, i, g[i], w[i])
			}
		}
	}

	tb, err := openCSV(writeFile(t, "stop.csv", good), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if ok, err := tb.next(); !ok || err != nil {
			t.Fatalf("next = %v, %v", ok, err)
		}
	}
	tb.close()
	if _, open := <-tb.batches; open {
		t.Fatal("the parser still sends batches after close")
	}
}

// FuzzCSVParser checks csvParser against encoding/csv's Reader (with the settings csvTable had
// it use) on any input: the same records, field positions, input offsets and errors. The seeds
// run with go test; go test -fuzz FuzzCSVParser looks further.
func FuzzCSVParser(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\r\n1,2\r\n", "a,b\n1,2", "a,b\n1,2\r", "a,b\n\n\n1,2\n\n",
		"a,b\n\"1\n\",\"2\"\"x\"\n", "a,b\n\"1\"x,2\n", "a,b\n1\"x,2\n", "a,b\n\"1,2\n",
		"a,b\n1,2,3\n1\n", "a\n\"\"\n\n\"", "a,b\n\"x\r\ny\",\"\"\n", ",\n,\n", "\"a\n",
		"a,\"b\"\n\"c\"\"\",\"d\r\n\r\ne\"\n", "é,ü\n\xff,\"\xfe\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want, wantErr := readCSVReference(strings.NewReader(in))
		var got []csvRecord
		var gotErr error
		p := &csvParser{r: bufio.NewReaderSize(strings.NewReader(in), 16)}
		var b csvBatch
		for {
			if gotErr = p.record(&b); gotErr != nil {
				if errors.Is(gotErr, io.EOF) {
					gotErr = nil // the end, as readCSVReference says it
				}
				break
			}
			k := len(b.offs) - 1
			first := len(b.ends) - p.width
			x := csvRecord{off: b.offs[k], pos: slices.Clone(b.pos[first:])}
			for i := range p.width {
				x.fields = append(x.fields, string(b.field(first+i)))
			}
			got = append(got, x)
		}
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%q: error %v, want %v", in, gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d records, want %d", in, len(got), len(want))
		}
		for i := range want {
			if !slices.Equal(got[i].fields, want[i].fields) || !slices.Equal(got[i].pos, want[i].pos) || got[i].off != want[i].off {
				t.Fatalf("%q: record %d = %+v, want %+v", in, i, got[i], want[i])
			}
		}
		if len(b.ends) != len(got)*p.width || len(b.pos) != len(b.ends) {
			t.Fatalf("%q: batch keeps %d fields for %d records of %d", in, len(b.ends), len(got), p.width)
		}
	})
}
