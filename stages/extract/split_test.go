package extract

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// splitAll runs sp over text fed in blocks of random sizes, as fileSource.read does, and returns
// each record's text and line.
func splitAll(t *testing.T, sp splitter, text []byte, rng *rand.Rand) (recs []string, lines []int64) {
	t.Helper()
	var carry []byte
	pos := 0
	for {
		n := 1 + rng.IntN(64)
		end := min(pos+n, len(text))
		data := append(slices.Clone(carry), text[pos:end]...)
		pos = end
		atEOF := pos == len(text)
		spans, consumed, err := sp.split(data, atEOF)
		if err != nil {
			t.Fatalf("split: %v\n%q", err, text)
		}
		for _, s := range spans {
			recs = append(recs, string(data[s.start:s.end]))
			lines = append(lines, s.line)
		}
		carry = data[consumed:]
		if atEOF {
			return recs, lines
		}
	}
}

// TestCSVSplitterMatchesEncodingCSV checks record boundaries and start lines against encoding/csv
// on random CSV text with quoted newlines, doubled quotes, blank lines and CRLF line ends.
func TestCSVSplitterMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cells := []string{`a`, `""`, `"x,y"`, `"line1` + "\n" + `line2"`, `"he said ""hi"""`, `"` + "\n\n" + `"`, `"{""a"":[1,2]}"`, ``, `"é☕"`}
	for range 500 {
		var b strings.Builder
		for range rng.IntN(8) {
			switch rng.IntN(6) {
			case 0:
				b.WriteString("\n") // a blank line
				continue
			}
			for c := range 1 + rng.IntN(4) {
				if c > 0 {
					b.WriteByte(',')
				}
				b.WriteString(cells[rng.IntN(len(cells))])
			}
			if rng.IntN(4) == 0 {
				b.WriteByte('\r')
			}
			b.WriteByte('\n')
		}
		text := []byte(b.String())
		if rng.IntN(3) == 0 {
			text = bytes.TrimSuffix(text, []byte("\n"))
		}
		sp := newCSVSplitter()
		recs, lines := splitAll(t, sp, text, rng)

		r := csv.NewReader(bytes.NewReader(text))
		r.FieldsPerRecord = -1
		var want []int64
		for {
			if _, err := r.Read(); err != nil {
				break
			}
			line, _ := r.FieldPos(0)
			want = append(want, int64(line))
		}
		// encoding/csv skips a record that is only "\r" as it skips blank lines; so does the splitter.
		if !slices.Equal(lines, want) {
			t.Fatalf("record lines %v, encoding/csv %v\n%q\nrecords %q", lines, want, text, recs)
		}
		if got, wantNext := sp.line(), int64(bytes.Count(text, []byte{'\n'})+1); got != wantNext {
			t.Fatalf("next line %d, want %d\n%q", got, wantNext, text)
		}
	}
}

// TestArraySplitterStrings checks element boundaries around strings with escaped quotes and
// backslashes, fed in blocks of random sizes.
func TestArraySplitterStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	elems := []string{`{"a":"x\"}"}`, `{"b":"\\"}`, `{"c":"\\\"]"}`, `{"d":["}",{"e":"{"}]}`, `"s\\"`, `"t\""`, `1`, `{}`}
	for range 300 {
		var want []string
		var b strings.Builder
		b.WriteString("[\n")
		for k := range 1 + rng.IntN(6) {
			if k > 0 {
				b.WriteString(",\n")
			}
			e := elems[rng.IntN(len(elems))]
			want = append(want, e)
			b.WriteString("  " + e)
		}
		b.WriteString("\n]\n")
		got, _ := splitAll(t, newArraySplitter(), []byte(b.String()), rng)
		if !slices.Equal(got, want) {
			t.Fatalf("elements %q, want %q", got, want)
		}
	}
}
