package transform

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
)

// csvParser splits CSV text into records as encoding/csv's Reader does with its defaults (fields
// separated by commas, quotes not lazy, no comment lines, every record as wide as the first),
// with the same errors (*csv.ParseError) and field positions, and the same input offsets. Its
// parsing is encoding/csv's readRecord, kept step for step; what differs is where the fields go:
// they are appended to a csvBatch's byte arena, where encoding/csv makes a string of every
// record, so reading a file of millions of rows makes no garbage per row.
type csvParser struct {
	r *bufio.Reader
	// raw holds a line longer than r's buffer.
	raw []byte
	// numLine is the number of lines read, offset the number of bytes.
	numLine int
	offset  int64
	// width is the number of fields of the first record, which every other record must have.
	width int
}

// csvBatch is records parsed by a csvParser: their fields' bytes one after the other (data),
// where each field ends in data (ends), each field's position, and the input offset after each
// record. err, set by csvTable's parser goroutine, comes after the records.
type csvBatch struct {
	data []byte
	ends []int
	pos  []csvPos
	offs []int64
	err  error
}

// csvPos is the position of a field: its line and column (in bytes), from 1.
type csvPos struct{ line, col int }

// len is the number of records in the batch.
func (b *csvBatch) len() int { return len(b.offs) }

// reset empties the batch for reuse.
func (b *csvBatch) reset() {
	b.data, b.ends, b.pos, b.offs, b.err = b.data[:0], b.ends[:0], b.pos[:0], b.offs[:0], nil
}

// field returns field k of the batch (counted over all its records), valid until the batch is
// reset.
func (b *csvBatch) field(k int) []byte {
	start := 0
	if k > 0 {
		start = b.ends[k-1]
	}
	return b.data[start:b.ends[k]]
}

// readLine is encoding/csv's Reader.readLine.
func (p *csvParser) readLine() ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		p.raw = append(p.raw[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = p.r.ReadSlice('\n')
			p.raw = append(p.raw, line...)
		}
		line = p.raw
	}
	readSize := len(line)
	if readSize > 0 && err == io.EOF {
		err = nil
		// For backwards compatibility, drop trailing \r before EOF.
		if line[readSize-1] == '\r' {
			line = line[:readSize-1]
		}
	}
	p.numLine++
	p.offset += int64(readSize)
	// Normalize \r\n to \n on all input lines.
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, err
}

// lengthNL is encoding/csv's: 1 when b ends with a newline.
func lengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}

// record appends the next record to b, or returns io.EOF at the end of the input. On any other
// error (a *csv.ParseError, or the reader's) b is left as it was. It is encoding/csv's
// Reader.readRecord with comma ',', no comments, TrimLeadingSpace and LazyQuotes false, and
// FieldsPerRecord 0.
func (p *csvParser) record(b *csvBatch) error {
	// Read line (automatically skipping past empty lines).
	var line []byte
	var errRead error
	for errRead == nil {
		line, errRead = p.readLine()
		if errRead == nil && len(line) == lengthNL(line) {
			line = nil
			continue // Skip empty lines
		}
		break
	}
	if errRead == io.EOF {
		return errRead
	}

	// Parse each field in the record.
	var err error
	const quoteLen, commaLen = 1, 1
	recLine := p.numLine // Starting line for record
	data, fields := len(b.data), len(b.ends)
	pos := csvPos{line: p.numLine, col: 1}
	endField := func(at csvPos) {
		b.ends = append(b.ends, len(b.data))
		b.pos = append(b.pos, at)
	}
parseField:
	for {
		if len(line) == 0 || line[0] != '"' {
			// Non-quoted string field
			i := bytes.IndexByte(line, ',')
			field := line
			if i >= 0 {
				field = field[:i]
			} else {
				field = field[:len(field)-lengthNL(field)]
			}
			// Check to make sure a quote does not appear in field.
			if j := bytes.IndexByte(field, '"'); j >= 0 {
				col := pos.col + j
				err = &csv.ParseError{StartLine: recLine, Line: p.numLine, Column: col, Err: csv.ErrBareQuote}
				break parseField
			}
			b.data = append(b.data, field...)
			endField(pos)
			if i >= 0 {
				line = line[i+commaLen:]
				pos.col += i + commaLen
				continue parseField
			}
			break parseField
		} else {
			// Quoted string field
			fieldPos := pos
			line = line[quoteLen:]
			pos.col += quoteLen
			for {
				i := bytes.IndexByte(line, '"')
				if i >= 0 {
					// Hit next quote.
					b.data = append(b.data, line[:i]...)
					line = line[i+quoteLen:]
					pos.col += i + quoteLen
					switch {
					case len(line) > 0 && line[0] == '"':
						// `""` sequence (append quote).
						b.data = append(b.data, '"')
						line = line[quoteLen:]
						pos.col += quoteLen
					case len(line) > 0 && line[0] == ',':
						// `",` sequence (end of field).
						line = line[commaLen:]
						pos.col += commaLen
						endField(fieldPos)
						continue parseField
					case lengthNL(line) == len(line):
						// `"\n` sequence (end of line).
						endField(fieldPos)
						break parseField
					default:
						// `"*` sequence (invalid non-escaped quote).
						err = &csv.ParseError{StartLine: recLine, Line: p.numLine, Column: pos.col - quoteLen, Err: csv.ErrQuote}
						break parseField
					}
				} else if len(line) > 0 {
					// Hit end of line (copy all data so far).
					b.data = append(b.data, line...)
					if errRead != nil {
						break parseField
					}
					pos.col += len(line)
					line, errRead = p.readLine()
					if len(line) > 0 {
						pos.line++
						pos.col = 1
					}
					if errRead == io.EOF {
						errRead = nil
					}
				} else {
					// Abrupt end of file (EOF or error).
					if errRead == nil {
						err = &csv.ParseError{StartLine: recLine, Line: pos.line, Column: pos.col, Err: csv.ErrQuote}
						break parseField
					}
					endField(fieldPos)
					break parseField
				}
			}
		}
	}
	if err == nil {
		err = errRead
	}
	// Check or set the expected fields per record.
	if n := len(b.ends) - fields; p.width == 0 {
		p.width = n
	} else if n != p.width && err == nil {
		err = &csv.ParseError{StartLine: recLine, Line: recLine, Column: 1, Err: csv.ErrFieldCount}
	}
	if err != nil {
		b.data, b.ends, b.pos = b.data[:data], b.ends[:fields], b.pos[:fields]
		return err
	}
	b.offs = append(b.offs, p.offset)
	return nil
}
