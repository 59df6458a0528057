package load

import (
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"io/fs"
	"os"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// rowKey identifies a planned member (organization key and source user) in the ledger's done set
// and in compaction: a 128-bit FNV-1a hash, so that a million members cost 16 bytes of key each
// instead of their strings. A collision is a 2^-128-scale event.
type rowKey [16]byte

// keyHasher computes rowKeys; it is not safe for concurrent use.
type keyHasher struct{ h hash.Hash }

func newKeyHasher() *keyHasher { return &keyHasher{h: fnv.New128a()} }

// key returns the rowKey of (kind, orgKey, sourceUserID).
func (k *keyHasher) key(kind, orgKey, sourceUserID string) rowKey {
	k.h.Reset()
	_, _ = io.WriteString(k.h, kind)
	_, _ = k.h.Write([]byte{0})
	_, _ = io.WriteString(k.h, orgKey)
	_, _ = k.h.Write([]byte{0})
	_, _ = io.WriteString(k.h, sourceUserID)
	var out rowKey
	k.h.Sum(out[:0])
	return out
}

// readOrganizations reads the planned organizations. They are few (one row per organization),
// so they are held in memory, in file order.
func readOrganizations(path string, opts ...schemas.ReaderOption) ([]schemas.Organization, error) {
	rows, err := schemas.ReadAll(path, schemas.Organizations, opts...)
	if err != nil {
		return nil, fmt.Errorf("read organizations: %w", err)
	}
	seen := make(map[string]int, len(rows))
	for i, o := range rows {
		if o.OrgKey == "" {
			return nil, fmt.Errorf("read organizations: %s: row %d: field org_key: empty", path, i+1)
		}
		if j, dup := seen[o.OrgKey]; dup {
			return nil, fmt.Errorf("read organizations: %s: row %d: field org_key: %q repeats row %d", path, i+1, o.OrgKey, j+1)
		}
		if o.ExternalID == "" {
			return nil, fmt.Errorf("read organizations: %s: row %d: field organization_external_id: empty", path, i+1)
		}
		seen[o.OrgKey] = i
	}
	return rows, nil
}

// countRows returns the number of rows of a staged file from its footer.
func countRows(path string) (int64, error) {
	info, err := schemas.ReadInfo(path)
	if err != nil {
		return 0, err
	}
	return info.Rows, nil
}

// passwordJoin joins member_passwords.parquet to the members streamed from members.parquet,
// keyed by (org_key, source_user_id), without holding the password file in memory when both
// files come in the same order (as transform writes them): it reads the password file forward
// only as far as the member it is asked for, keeping the rows it passes over in a small map until
// their member comes. When the files are in different orders, the map grows up to the password
// file's size (about 200 bytes a row); peakPending reports how far it grew.
//
// Hashes live only in this map and in the Migrate request body; they are never logged.
// A passwordJoin is not safe for concurrent use.
type passwordJoin struct {
	r       *schemas.Reader[schemas.MemberPassword]
	path    string
	row     int64
	pending map[[2]string]schemas.MemberPassword
	eof     bool
	peak    int
}

// openPasswordJoin opens the password file at path; a missing file gives an empty join.
func openPasswordJoin(path string, opts ...schemas.ReaderOption) (*passwordJoin, error) {
	j := &passwordJoin{path: path, pending: map[[2]string]schemas.MemberPassword{}}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		j.eof = true
		return j, nil
	}
	r, err := schemas.Open(path, schemas.MemberPasswords, opts...)
	if err != nil {
		return nil, fmt.Errorf("read member passwords: %w", err)
	}
	j.r = r
	return j, nil
}

// take returns (and forgets) the password of the member (orgKey, sourceUserID), reading the file
// forward as far as needed. ok is false when the file holds none.
func (j *passwordJoin) take(orgKey, sourceUserID string) (p *schemas.MemberPassword, ok bool, err error) {
	k := [2]string{orgKey, sourceUserID}
	if v, found := j.pending[k]; found {
		delete(j.pending, k)
		return &v, true, nil
	}
	for !j.eof {
		if !j.r.Next() {
			j.eof = true
			if err := j.r.Err(); err != nil {
				return nil, false, fmt.Errorf("read member passwords: %w", err)
			}
			break
		}
		j.row++
		row := j.r.Row()
		if row.OrgKey == orgKey && row.SourceUserID == sourceUserID {
			v := *row
			return &v, true, nil
		}
		rk := [2]string{row.OrgKey, row.SourceUserID}
		if _, dup := j.pending[rk]; dup {
			return nil, false, fmt.Errorf("read member passwords: %s: row %d: field source_user_id: (%s, %s) has two password rows",
				j.path, j.row, row.OrgKey, row.SourceUserID)
		}
		j.pending[rk] = *row
		j.peak = max(j.peak, len(j.pending))
	}
	return nil, false, nil
}

// peakPending is the largest number of password rows held while waiting for their member.
func (j *passwordJoin) peakPending() int { return j.peak }

// Close closes the password file and drops the rows still held.
func (j *passwordJoin) Close() error {
	clear(j.pending)
	if j.r != nil {
		return j.r.Close()
	}
	return nil
}
