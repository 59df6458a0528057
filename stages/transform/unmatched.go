package transform

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// unmatchedRows are the rows of the mapping file that name no user of the extract (a user_id no
// user has, or an email that is no user's valid primary email), by row number: the order in
// which eachMappingRow gives them, from 0. The rows plan nothing, so they are not rejects; the
// stage counts them and lists them in transform/mapping_unmatched.parquet for the user to
// check. A bit per row of the file, whatever their number.
type unmatchedRows struct {
	rows bitSet
	// total is the number of rows of the file.
	total int
	n     atomic.Int64
}

// newUnmatchedRows returns an empty set for a mapping file of total rows.
func newUnmatchedRows(total int) *unmatchedRows {
	return &unmatchedRows{rows: newBitSet(total), total: total}
}

// add adds row, below total, to the set; rows are added once each. It is safe for concurrent
// use.
func (u *unmatchedRows) add(row uint32) {
	u.rows.set(int(row))
	u.n.Add(1)
}

// count returns the number of rows in the set.
func (u *unmatchedRows) count() int64 { return u.n.Load() }

// list reads the mapping file at path again and writes the rows in the set to w, in the file's
// order, with their line numbers and their user_id and email as the file has them. It reads
// nothing when the set is empty, and stops after the last row in the set. A file that cannot be
// read again as it was is a configuration error (pipeline.ExitConfig).
func (u *unmatchedRows) list(path string, w *schemas.Writer[schemas.UnmatchedMappingRow]) error {
	left := u.count()
	if left == 0 {
		return nil
	}
	var (
		row  int
		werr error
		r    schemas.UnmatchedMappingRow
	)
	err := eachMappingRow(path, nil, func(t *csvTable, kind int, _, key string) error {
		n := row
		row++
		if !u.rows.has(n) {
			return nil
		}
		r = schemas.UnmatchedMappingRow{Line: int64(t.line()), MatchedBy: "user_id",
			UserID: t.get("user_id"), Email: t.get("email"), OrgKey: key}
		if kind == mapEmail {
			r.MatchedBy = "email"
		}
		if werr = w.Append(&r); werr != nil {
			return werr
		}
		if left--; left == 0 {
			return errStop
		}
		return nil
	})
	switch {
	case werr != nil:
		return fmt.Errorf("list unmatched mapping rows: %w", werr)
	case err != nil && !errors.Is(err, errStop):
		return pipeline.WithExitCode(fmt.Errorf("read mapping file: %w", err), pipeline.ExitConfig)
	case left > 0:
		return pipeline.WithExitCode(fmt.Errorf("read mapping file: %s: %d rows fewer than when it was first read", path, left),
			pipeline.ExitConfig)
	}
	return nil
}
