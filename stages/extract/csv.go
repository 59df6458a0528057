package extract

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// csvHeader is the export utility's column order (stytch-api.md §9). A file may order its columns
// differently and may add the User fields the utility leaves out (see csvSetters), but every
// column must be one of them and user_id must be present.
var csvHeader = []string{
	"user_id", "status", "created_at", "name", "emails", "phone_numbers", "trusted_metadata",
	"untrusted_metadata", "providers", "webauthn_registrations", "biometric_registrations", "totps",
	"crypto_wallets", "password",
}

// cellSetter stores one CSV cell into a wire user. Nested values are JSON text; an empty cell is
// null (json2csv writes null and undefined as an empty cell).
type cellSetter func(w *wireUser, cell string) *decodeError

// csvSetters maps every known column to its setter.
func csvSetters() map[string]cellSetter {
	str := func(at func(*wireUser) *string) cellSetter {
		return func(w *wireUser, cell string) *decodeError { *at(w) = cell; return nil }
	}
	js := func(name string, at func(*wireUser) any) cellSetter {
		return func(w *wireUser, cell string) *decodeError {
			if cell == "" {
				return nil
			}
			if err := json.Unmarshal([]byte(cell), at(w)); err != nil {
				return jsonError(err, name)
			}
			return nil
		}
	}
	meta := func(at func(*wireUser) *json.RawMessage) cellSetter {
		return func(w *wireUser, cell string) *decodeError {
			if cell != "" {
				*at(w) = json.RawMessage(cell)
			}
			return nil
		}
	}
	return map[string]cellSetter{
		"user_id":                 str(func(w *wireUser) *string { return &w.UserID }),
		"external_id":             str(func(w *wireUser) *string { return &w.ExternalID }),
		"status":                  str(func(w *wireUser) *string { return &w.Status }),
		"created_at":              str(func(w *wireUser) *string { return &w.CreatedAt }),
		"lock_created_at":         str(func(w *wireUser) *string { return &w.LockCreatedAt }),
		"lock_expires_at":         str(func(w *wireUser) *string { return &w.LockExpiresAt }),
		"name":                    js("name", func(w *wireUser) any { return &w.Name }),
		"emails":                  js("emails", func(w *wireUser) any { return &w.Emails }),
		"phone_numbers":           js("phone_numbers", func(w *wireUser) any { return &w.PhoneNumbers }),
		"providers":               js("providers", func(w *wireUser) any { return &w.Providers }),
		"webauthn_registrations":  js("webauthn_registrations", func(w *wireUser) any { return &w.WebAuthnRegistrations }),
		"biometric_registrations": js("biometric_registrations", func(w *wireUser) any { return &w.BiometricRegistrations }),
		"totps":                   js("totps", func(w *wireUser) any { return &w.TOTPs }),
		"crypto_wallets":          js("crypto_wallets", func(w *wireUser) any { return &w.CryptoWallets }),
		"password":                js("password", func(w *wireUser) any { return &w.Password }),
		"roles":                   js("roles", func(w *wireUser) any { return &w.Roles }),
		"is_locked":               js("is_locked", func(w *wireUser) any { return &w.IsLocked }),
		"trusted_metadata":        meta(func(w *wireUser) *json.RawMessage { return &w.TrustedMetadata }),
		"untrusted_metadata":      meta(func(w *wireUser) *json.RawMessage { return &w.UntrustedMetadata }),
	}
}

// csvLayout is a CSV file's header: its column names and their setters. It is read-only once
// built and shared by the decoding workers.
type csvLayout struct {
	names []string
	set   []cellSetter
	// fields are the columns' User field numbers, for the fast path (fastCSV).
	fields []int
}

// newCSVLayout checks a header row.
func newCSVLayout(header []string) (*csvLayout, error) {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a byte-order mark, if an editor added one
	}
	setters := csvSetters()
	l := &csvLayout{names: slices.Clone(header)}
	for i, name := range header {
		set, ok := setters[name]
		if !ok {
			return nil, fmt.Errorf("column %d %q is not a User field (the export's columns are %s)", i+1, name, strings.Join(csvHeader, ","))
		}
		if slices.Index(header, name) != i {
			return nil, fmt.Errorf("column %q appears twice", name)
		}
		l.set = append(l.set, set)
		l.fields = append(l.fields, userField(name))
	}
	if !slices.Contains(header, "user_id") {
		return nil, errors.New("no user_id column")
	}
	return l, nil
}

// isHeader reports whether a record repeats the header row: the export utility writes the header
// again at the start of every 1,000-user page.
func (l *csvLayout) isHeader(rec []string) bool { return slices.Equal(rec, l.names) }

// readCSVHeader parses the header record.
func readCSVHeader(raw []byte) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// decodeCSV decodes the records of one chunk; spans are contiguous records of data (blank lines
// between them are skipped by both the splitter and encoding/csv). A CSV syntax error is returned
// as a *structureError: the file is malformed.
func (d *decoder) decodeCSV(c *chunk, out []item) ([]item, int64, error) {
	if len(c.spans) == 0 {
		return out, 0, nil
	}
	first, last := c.spans[0], c.spans[len(c.spans)-1]
	base := first.line - 1
	r := csv.NewReader(bytes.NewReader(c.data[first.start:last.end]))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var headers int64
	for _, sp := range c.spans {
		rec, err := r.Read()
		if err != nil {
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				return out, headers, &structureError{base + int64(pe.StartLine), "malformed CSV: " + pe.Err.Error()}
			}
			return out, headers, fmt.Errorf("read CSV record at line %d: %w", sp.line, err)
		}
		if line, _ := r.FieldPos(0); base+int64(line) != sp.line {
			return out, headers, fmt.Errorf("read CSV: record at line %d split at line %d (internal error)", base+int64(line), sp.line)
		}
		if c.layout.isHeader(rec) {
			headers++
			continue
		}
		it := item{raw: c.data[sp.start:sp.end], line: sp.line}
		if len(rec) != len(c.layout.names) {
			it.derr = &decodeError{field: fieldRecord, msg: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(c.layout.names)), offset: -1}
			out = append(out, it)
			continue
		}
		if d.fastCSV(rec, c.layout, &it.user) {
			it.user.SourcePosition = sp.line
			out = append(out, it)
			continue
		}
		var cell int
		if it.derr, cell = d.decodeCSVSlow(rec, c.layout, &it.user); it.derr != nil && cell >= 0 {
			line, _ := r.FieldPos(cell)
			it.errLine = base + int64(line) + newlinesBefore(rec[cell], it.derr.offset)
			it.derr.offset = -1
		}
		it.user.SourcePosition = sp.line
		out = append(out, it)
	}
	if _, err := r.Read(); err != io.EOF {
		return out, headers, fmt.Errorf("read CSV after line %d: records and splits disagree (internal error): %v", last.line, err)
	}
	return out, headers, nil
}

// decodeCSVSlow decodes one CSV record (a row of l's columns) with the encoding/json setters.
// On an error in a cell it also returns the cell's index (else -1). u is overwritten entirely.
func (d *decoder) decodeCSVSlow(rec []string, l *csvLayout, u *schemas.User) (*decodeError, int) {
	*u = schemas.User{}
	var w wireUser
	for i, cell := range rec {
		if derr := l.set[i](&w, cell); derr != nil {
			return derr, i
		}
	}
	return d.finish(&w, u), -1
}

// newlinesBefore counts the newlines of s before offset (all of s when offset is out of range,
// none when it is negative).
func newlinesBefore(s string, offset int64) int64 {
	if offset < 0 {
		return 0
	}
	if offset > int64(len(s)) {
		offset = int64(len(s))
	}
	return int64(strings.Count(s[:offset], "\n"))
}
