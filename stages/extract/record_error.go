package extract

import "fmt"

// fieldRecord names the whole record in a RecordError when no single field is at fault.
const fieldRecord = "record"

// RecordError is a malformed source record. Its text has the form "file:line: field: what is
// wrong"; Line is the source position documented per source type (see the package
// documentation), or, for a field inside a multi-line record, the line of that field.
type RecordError struct {
	// File is the source file's path, or "stytch_api" for the API source.
	File string
	// Line is where the fault is: a line number, or the record ordinal for the API source.
	Line int64
	// Field names the offending field ("user_id", "emails.verified"), or "record".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line: field: what is wrong".
func (e *RecordError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}
