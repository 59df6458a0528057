package transform

import (
	"errors"
	"fmt"
	"math"

	"github.com/stytch-migrate/stytch-migrate/internal/stytchid"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
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
	// mapUserText asks a lookup for a user id as text: mapPackedID when it packs, else
	// mapOtherID.
	mapUserText = mapKinds
)

// mapping is the content of a mapping file: for each owner (a user id or a normalized email), the
// organization keys of its rows, in the file's order. It holds no Go pointers: owners and keys
// are interned in stringDicts, and each owner's rows are a chain through two integer arrays, so
// it takes about 60 bytes per user with one row keyed by a Stytch user id, where Go maps of
// string slices took about 210. Once read, only its seen bits change (atomically), so the
// scan's workers share it.
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
	// seen, once the index is complete (track), has a bit per owner: set when a user of the
	// extract has that user id or primary email. Lookups set it, concurrently.
	seen bitSet
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

// track makes lookups record the owners they find, for eachUnmatched. The index must be
// complete.
func (m *mapping) track() {
	for k := range m.owners {
		m.owners[k].seen = newBitSet(m.owners[k].dict.len())
	}
}

// eachUnmatched calls fn with the number of every row whose owner no lookup found since track,
// owner by owner.
func (m *mapping) eachUnmatched(fn func(row uint32)) {
	for _, o := range m.owners {
		for i := range o.first {
			if !o.seen.has(i) {
				for row := o.first[i] + 1; row != 0; row = m.next[row-1] {
					fn(row - 1)
				}
			}
		}
	}
}

// add appends a row: owner, of kind, is in the organization key.
func (m *mapping) add(kind int, owner, key string) { m.addOrg(kind, owner, m.orgs.intern(key)) }

// addOrg appends a row: owner, of kind, is in organization org of m.orgs.
func (m *mapping) addOrg(kind int, owner string, org uint32) {
	row := uint32(len(m.org))
	m.org, m.next = append(m.org, org), append(m.next, 0)
	o := &m.owners[kind]
	i, added := o.dict.insert(owner)
	if added {
		o.first, o.last = append(o.first, row), append(o.last, row)
		return
	}
	m.next[o.last[i]] = row + 1
	o.last[i] = row
}

// appendUserKeys appends the organization keys of the rows of user id to keys, in the file's
// order. The strings are the index's: they stay valid as long as it does.
func (m *mapping) appendUserKeys(keys []string, id string) []string {
	return m.appendKeys(keys, mapUserText, id)
}

// appendEmailKeys appends the organization keys of the rows of a normalized email to keys.
func (m *mapping) appendEmailKeys(keys []string, email string) []string {
	return m.appendKeys(keys, mapEmail, email)
}

func (m *mapping) appendKeys(keys []string, kind int, owner string) []string {
	for row := m.chain(kind, owner); row != 0; row = m.next[row-1] {
		keys = append(keys, m.orgs.key(m.org[row-1]))
	}
	return keys
}

// appendOrgs appends the organizations (indexes in m.orgs) of owner's rows to dst, in the
// file's order.
func (m *mapping) appendOrgs(dst []uint32, kind int, owner string) []uint32 {
	for row := m.chain(kind, owner); row != 0; row = m.next[row-1] {
		dst = append(dst, m.org[row-1])
	}
	return dst
}

// chain returns the number of owner's first row plus one, 0 when it has none; m.next links the
// others. A found owner is marked seen (see track).
func (m *mapping) chain(kind int, owner string) uint32 {
	if kind == mapUserText {
		var buf [stytchid.PackedLen]byte
		kind, owner, _ = userOwner(buf[:0], owner)
	}
	o := &m.owners[kind]
	i, ok := o.dict.lookup(owner)
	if !ok {
		return 0
	}
	if o.seen != nil {
		o.seen.set(int(i))
	}
	return o.first[i] + 1
}

// userOwner returns the kind and key under which the mapping keys user id: the packed id when
// it is a canonical Stytch user id (mapPackedID; the key aliases packed, the buffer it is written
// to, returned for reuse), else the text (mapOtherID).
func userOwner(packed []byte, id string) (kind int, owner string, buf []byte) {
	if p, ok := stytchid.AppendPacked(packed[:0], id); ok {
		return mapPackedID, bytesString(p), p
	}
	return mapOtherID, id, packed
}

// readMappingFile reads the mapping CSV into an index of up to limit bytes (no bound when 0),
// counting the bytes read on prog (nil: no report).
// When the index passes limit it stops and returns nil and the *mappingOverflow that says how
// far it read: the file is then joined with the users partition by partition instead (see
// mappingJoin). Other errors are the file's.
func readMappingFile(path string, limit int64, prog pipeline.Progress) (*mapping, *mappingOverflow, error) {
	m := newMapping()
	var over *mappingOverflow
	err := eachMappingRow(path, prog, func(t *csvTable, kind int, owner, key string) error {
		m.add(kind, owner, key)
		if m.rows() == presizeAfterRows {
			m.presize(t.progress(), limit)
		}
		if limit > 0 && m.rows()%mappingCheckEvery == 0 && m.size() > limit {
			over = &mappingOverflow{size: m.size(), progress: t.progress()}
			return errStop
		}
		return nil
	})
	switch {
	case over != nil:
		return nil, over, nil
	case err != nil:
		return nil, nil, fmt.Errorf("read mapping file: %w", err)
	case limit > 0 && m.size() > limit:
		return nil, &mappingOverflow{size: m.size(), progress: 1}, nil
	}
	m.track()
	return m, nil, nil
}

// presize makes room in the index for the rows of the whole file, estimated from the part read
// so far (progress), so that reading the rest copies no array and rehashes no owner table again:
// each kind of owner growing as it did so far. (The organization keys, which stop growing early,
// grow as they come.) It does nothing when the file is nearly read, or when the index so sized
// would not fit in limit (then the file is joined, see mappingJoin, before long).
func (m *mapping) presize(progress float64, limit int64) {
	if progress <= 0 || progress > 0.5 {
		return
	}
	grow := func(n int) int { return int(float64(n) * (1/progress - 1)) }
	size := m.orgs.size() + 8*int64(len(m.org)+grow(len(m.org)))
	for _, o := range m.owners {
		keys := o.dict.len() + grow(o.dict.len())
		size += int64(len(o.dict.data)+grow(len(o.dict.data))) + 4*int64(keys) + 8*int64(dictSlots(keys)) + 8*int64(keys)
	}
	if limit > 0 && size > limit {
		return
	}
	for k := range m.owners {
		o := &m.owners[k]
		o.dict.reserve(grow(o.dict.len()), grow(len(o.dict.data)))
		o.first, o.last = grown(o.first, grow(len(o.first))), grown(o.last, grow(len(o.last)))
	}
	m.org, m.next = grown(m.org, grow(len(m.org))), grown(m.next, grow(len(m.next)))
}

// mappingOverflow says how far readMappingFile read when its index passed its limit.
type mappingOverflow struct {
	size     int64   // the index's size
	progress float64 // the part of the file read
}

// errStop stops eachMappingRow without an error.
var errStop = errors.New("stop")

// eachMappingRow reads the mapping CSV (org_key and a user_id or email column; a row names one
// (user, organization) pair, so a user in three organizations has three rows) and calls fn for
// each row with its owner's kind and key (a packed user id, valid during the call) and its
// organization key. A row with a user_id is keyed by it, else by its normalized email. The bytes
// read are counted on prog (nil: no report).
func eachMappingRow(path string, prog pipeline.Progress, fn func(t *csvTable, kind int, owner, key string) error) error {
	t, err := openCSV(path, prog, []string{"org_key"}, []string{"user_id", "email"})
	if err != nil {
		return err
	}
	defer t.close()
	keyCol, userCol, emailCol := t.col("org_key"), t.col("user_id"), t.col("email")
	var packed []byte
	for rows := 0; ; rows++ {
		ok, err := t.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if rows == maxMappingRows {
			return fmt.Errorf("%s: line %d: more than %d rows", path, t.line(), maxMappingRows)
		}
		key := t.at(keyCol)
		if key == "" {
			return t.errorf("org_key", "empty org_key")
		}
		kind, owner := mapOtherID, t.at(userCol)
		if owner != "" {
			kind, owner, packed = userOwner(packed, owner)
		} else {
			raw := t.at(emailCol)
			if raw == "" {
				col := "email"
				if userCol >= 0 {
					col = "user_id"
				}
				return t.errorf(col, "neither user_id nor email is set")
			}
			email, valid, why := normalizeEmail(raw)
			if !valid {
				return t.errorf("email", "invalid email: %s", why)
			}
			kind, owner = mapEmail, email
		}
		if err := fn(t, kind, owner, key); err != nil {
			return err
		}
	}
}
