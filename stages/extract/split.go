package extract

import (
	"bytes"
	"fmt"
)

// span is one record in a block of source bytes: data[start:end], starting on line line.
type span struct {
	start, end int
	line       int64
}

// splitter finds record boundaries in a stream of blocks. Each call to split gets the bytes from
// the first not-yet-consumed byte on, returns the complete records found in them and how many
// bytes it consumed; the rest is handed to it again with more bytes appended. Splitters check
// only the structure they need to find boundaries; records are validated by the decoder, so that
// one malformed record can be quarantined without losing the others. An error from split is a
// malformed file and stops the stage in every bad-record mode.
type splitter interface {
	split(data []byte, atEOF bool) (recs []span, consumed int, err error)
	// line is the line number of the first byte not yet consumed.
	line() int64
}

// structureError is a malformed file found by a splitter at a line.
type structureError struct {
	line int64
	msg  string
}

func (e *structureError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ---------------------------------------------------------------------------------------------
// JSON Lines.

// lineSplitter splits JSON Lines: one record per line, blank lines skipped. A record's position
// is its line number.
type lineSplitter struct {
	next   int64
	blanks int64
}

func newLineSplitter() *lineSplitter { return &lineSplitter{next: 1} }

func (s *lineSplitter) line() int64 { return s.next }

func (s *lineSplitter) split(data []byte, atEOF bool) ([]span, int, error) {
	var recs []span
	i := 0
	for i < len(data) {
		j := bytes.IndexByte(data[i:], '\n')
		end := i + j
		if j < 0 {
			if !atEOF {
				break
			}
			end = len(data)
		}
		line := data[i:end]
		if len(bytes.TrimSpace(line)) == 0 {
			s.blanks++
		} else {
			recs = append(recs, span{start: i, end: end, line: s.next})
		}
		s.next++
		i = end + 1
	}
	return recs, min(i, len(data)), nil
}

// ---------------------------------------------------------------------------------------------
// One JSON array (the export utility's users.json).

// arraySplitter splits the elements of one top-level JSON array. A record's position is the line
// of its first byte. An empty file counts as an empty array.
type arraySplitter struct {
	next  int64
	state arrayState
	seen  bool // any non-space byte seen
}

type arrayState int

const (
	arrayBefore     arrayState = iota // before '['
	arrayFirst                        // after '[': a value or ']'
	arrayAfterValue                   // after a value: ',' or ']'
	arrayAfterComma                   // after ',': a value
	arrayDone                         // after ']': only whitespace
)

func newArraySplitter() *arraySplitter { return &arraySplitter{next: 1} }

func (s *arraySplitter) line() int64 { return s.next }

func (s *arraySplitter) split(data []byte, atEOF bool) ([]span, int, error) {
	var recs []span
	i := 0
	for {
		for i < len(data) && isSpace(data[i]) {
			if data[i] == '\n' {
				s.next++
			}
			i++
		}
		if i == len(data) {
			break
		}
		c := data[i]
		s.seen = true
		switch s.state {
		case arrayBefore:
			if c != '[' {
				return nil, 0, &structureError{s.next, fmt.Sprintf("want a JSON array, found %q", c)}
			}
			s.state = arrayFirst
			i++
			continue
		case arrayDone:
			return nil, 0, &structureError{s.next, fmt.Sprintf("unexpected %q after the array's closing ]", c)}
		case arrayAfterValue:
			switch c {
			case ',':
				s.state = arrayAfterComma
			case ']':
				s.state = arrayDone
			default:
				return nil, 0, &structureError{s.next, fmt.Sprintf("want , or ] after an array element, found %q", c)}
			}
			i++
			continue
		case arrayFirst, arrayAfterComma:
			if c == ']' {
				if s.state == arrayAfterComma {
					return nil, 0, &structureError{s.next, "unexpected ] after ,"}
				}
				s.state = arrayDone
				i++
				continue
			}
		}
		end := scanValue(data, i, atEOF)
		if end < 0 {
			if atEOF {
				return nil, 0, &structureError{s.next, "unexpected end of file inside an array element starting here"}
			}
			break
		}
		recs = append(recs, span{start: i, end: end, line: s.next})
		s.next += int64(bytes.Count(data[i:end], []byte{'\n'}))
		s.state = arrayAfterValue
		i = end
	}
	if atEOF && s.seen && s.state != arrayDone {
		return nil, 0, &structureError{s.next, "unexpected end of file: the JSON array is not closed"}
	}
	return recs, i, nil
}

// scanValue returns the end of the JSON value starting at data[i], or -1 when data ends first.
// It matches brackets and skips strings; it does not validate (the decoder does).
func scanValue(data []byte, i int, atEOF bool) int {
	switch data[i] {
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			case '"':
				// Skip the string in place: its next unescaped quote ends it (strings are short,
				// so a loop beats a call per string).
				for j++; j < len(data) && data[j] != '"'; j++ {
					if data[j] == '\\' {
						j++
					}
				}
				if j >= len(data) {
					return -1
				}
			}
		}
		return -1
	case '"':
		k := stringEnd(data, i+1)
		if k < 0 {
			return -1
		}
		return k + 1
	default:
		j := i
		for j < len(data) && !isSpace(data[j]) && data[j] != ',' && data[j] != ']' && data[j] != '}' {
			j++
		}
		if j == len(data) && !atEOF {
			return -1
		}
		return j
	}
}

// stringEnd returns the index of the quote closing a JSON string whose content starts at
// data[j], or -1 when data ends first.
func stringEnd(data []byte, j int) int {
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p >= 0 && data[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		j = q + 1
	}
}

// ---------------------------------------------------------------------------------------------
// CSV (the export utility's users.csv).

// csvSplitter splits CSV records (RFC 4180: a newline inside quotes belongs to the field). A
// record's position is the physical line its first byte is on; blank lines are skipped, as
// encoding/csv skips them.
type csvSplitter struct {
	next int64
}

func newCSVSplitter() *csvSplitter { return &csvSplitter{next: 1} }

func (s *csvSplitter) line() int64 { return s.next }

func (s *csvSplitter) split(data []byte, atEOF bool) ([]span, int, error) {
	var recs []span
	i := 0
	for i < len(data) {
		start, line := i, s.next
		inQuote := false
		j := i
		end := -1
		for j < len(data) {
			if inQuote {
				// Inside quotes only a quote matters (a doubled quote leaves and re-enters).
				k := bytes.IndexByte(data[j:], '"')
				if k < 0 {
					break // the record goes on past this block
				}
				j += k + 1
				inQuote = false
				continue
			}
			c := data[j]
			if c == '\n' {
				end = j
				break
			}
			if c == '"' {
				inQuote = true
			}
			j++
		}
		if end < 0 {
			if !atEOF {
				break
			}
			if inQuote {
				return nil, 0, &structureError{line, "unexpected end of file inside a quoted field of the record starting here"}
			}
			end = len(data)
		}
		if len(bytes.TrimRight(data[start:end], "\r")) > 0 {
			recs = append(recs, span{start: start, end: end, line: line})
		}
		// The record's lines: the newlines inside its quoted fields and the one ending it.
		s.next += int64(bytes.Count(data[start:min(end+1, len(data))], []byte{'\n'}))
		i = end + 1
	}
	return recs, min(i, len(data)), nil
}
