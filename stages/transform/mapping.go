package transform

import (
	"fmt"
	"math"

	"github.com/stytch-migrate/stytch-migrate/internal/stytchid"
)

// Mapping file settings.
const (
	// mappingShare: the mapping file's index may take 1/mappingShare of the memory limit. It is
	// counted against the candidate store's share (budgetShare), which keeps at least half of its
	// own.
	mappingShare = 6
	// mappingCheckEvery is how many rows are read between two checks of the index's size.
	mappingCheckEvery = 1024
	// maxMappingRows bounds the rows of a mapping file: rows are numbered in 32 bits.
	maxMappingRows = math.MaxUint32 - 1
)

// Owner kinds of the mapping's index, each interned in its own dictionary.
const (
	mapPackedID = iota // a canonical Stytch user id, packed (stytchid.AppendPacked)
	mapOtherID         // any other user id, as text
	mapEmail           // a normalized email
	mapKinds
)

// mapping is the content of a mapping file: for each owner (a user id or a normalized email), the
// organization keys of its rows, in the file's order. It holds no Go pointers: owners and keys
// are interned in stringDicts, and each owner's rows are a chain through two integer arrays, so
// it takes about 60 bytes per user with one row keyed by a Stytch user id, where Go maps of
// string slices took about 210. Once read it is read-only, so the scan's workers share it.
type mapping struct {
	owners [mapKinds]mappingOwners
	orgs   *stringDict
	// org is each row's organization key (an index in orgs); next is the number of the owner's
	// row after it, plus one (0 ends the chain).
	org, next []uint32
}

// mappingOwners are the owners of one kind, interned, each with its first and last row.
type mappingOwners struct {
	dict        *stringDict
	first, last []uint32
}

func newMapping() *mapping {
	m := &mapping{orgs: newStringDict()}
	for k := range m.owners {
		m.owners[k].dict = newStringDict()
	}
	return m
}

// size is the memory the index takes, in bytes.
func (m *mapping) size() int64 {
	n := m.orgs.size() + 4*int64(cap(m.org)+cap(m.next))
	for _, o := range m.owners {
		n += o.dict.size() + 4*int64(cap(o.first)+cap(o.last))
	}
	return n
}

// rows is the number of rows in the index.
func (m *mapping) rows() int { return len(m.org) }

// add appends a row: owner, of kind, is in the organization key.
func (m *mapping) add(kind int, owner, key string) {
	row := uint32(len(m.org))
	m.org, m.next = append(m.org, m.orgs.intern(key)), append(m.next, 0)
	o := &m.owners[kind]
	i, added := o.dict.insert(owner)
	if added {
		o.first, o.last = append(o.first, row), append(o.last, row)
		return
	}
	m.next[o.last[i]] = row + 1
	o.last[i] = row
}

// addUser appends a row keyed by user id.
func (m *mapping) addUser(id, key string) {
	var buf [stytchid.PackedLen]byte
	if p, ok := stytchid.AppendPacked(buf[:0], id); ok {
		m.add(mapPackedID, string(p), key)
		return
	}
	m.add(mapOtherID, id, key)
}

// appendUserKeys appends the organization keys of the rows of user id to keys, in the file's
// order. The strings are the index's: they stay valid as long as it does.
func (m *mapping) appendUserKeys(keys []string, id string) []string {
	var buf [stytchid.PackedLen]byte
	if p, ok := stytchid.AppendPacked(buf[:0], id); ok {
		return m.appendKeys(keys, mapPackedID, bytesString(p))
	}
	return m.appendKeys(keys, mapOtherID, id)
}

// appendEmailKeys appends the organization keys of the rows of a normalized email to keys.
func (m *mapping) appendEmailKeys(keys []string, email string) []string {
	return m.appendKeys(keys, mapEmail, email)
}

func (m *mapping) appendKeys(keys []string, kind int, owner string) []string {
	o := &m.owners[kind]
	i, ok := o.dict.lookup(owner)
	if !ok {
		return keys
	}
	for row := o.first[i] + 1; row != 0; row = m.next[row-1] {
		keys = append(keys, m.orgs.key(m.org[row-1]))
	}
	return keys
}

// readMappingFile reads the mapping CSV: org_key and a user_id or email column; a row names one
// (user, organization) pair, so a user in three organizations has three rows. Its index may
// take limit bytes (none when 0): a file whose index passes it is an error that says which
// memory limit the whole file needs.
func readMappingFile(path string, limit int64) (*mapping, error) {
	m, err := readMapping(path, limit)
	if err != nil {
		return nil, fmt.Errorf("read mapping file: %w", err)
	}
	return m, nil
}

func readMapping(path string, limit int64) (*mapping, error) {
	t, err := openCSV(path, []string{"org_key"}, []string{"user_id", "email"})
	if err != nil {
		return nil, err
	}
	defer t.close()
	keyCol, userCol, emailCol := t.col("org_key"), t.col("user_id"), t.col("email")
	m := newMapping()
	for {
		ok, err := t.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if m.rows() == maxMappingRows {
			return nil, fmt.Errorf("%s: line %d: more than %d rows", path, t.line(), maxMappingRows)
		}
		key := t.at(keyCol)
		if key == "" {
			return nil, t.errorf("org_key", "empty org_key")
		}
		if id := t.at(userCol); id != "" {
			m.addUser(id, key)
		} else {
			raw := t.at(emailCol)
			if raw == "" {
				col := "email"
				if userCol >= 0 {
					col = "user_id"
				}
				return nil, t.errorf(col, "neither user_id nor email is set")
			}
			email, valid, why := normalizeEmail(raw)
			if !valid {
				return nil, t.errorf("email", "invalid email: %s", why)
			}
			m.add(mapEmail, email, key)
		}
		if limit > 0 && m.rows()%mappingCheckEvery == 0 && m.size() > limit {
			return nil, mappingTooLarge(t, m.size(), limit)
		}
	}
	if limit > 0 && m.size() > limit {
		return nil, mappingTooLarge(t, m.size(), limit)
	}
	return m, nil
}

// mappingTooLarge is the error of a mapping file whose index took size bytes, past limit, with
// the part of the file read so far: it names the memory limit the whole file would need.
func mappingTooLarge(t *csvTable, size, limit int64) error {
	need := float64(size) / max(t.progress(), 1e-6) * mappingShare * 1.1 // 10% for the estimate's error
	unit := float64(64 << 20)
	if need > 1<<30 {
		unit = 1 << 30
	}
	return fmt.Errorf("%s: line %d: the mapping's index took %.1f MiB, past its share of the memory limit (1/%d, %.1f MiB); "+
		"the whole file needs a memory limit of about %s (transform.memory_limit or --memory-limit)",
		t.path, t.line(), float64(size)/(1<<20), mappingShare, float64(limit)/(1<<20), ByteSize(math.Ceil(need/unit)*unit))
}
