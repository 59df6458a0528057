package transform

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/stytch-migrate/stytch-migrate/internal/stytchid"
)

// mergedLists holds the user ids merged into each survivor that has duplicates, compactly: one
// byte slice of encoded lists (uvarint count, then each user id as flags and the id, packed when
// canonical) and an index by membership id. Deciders fill lists in organization order; sort puts
// the index in membership order, which is the order emit asks in.
type mergedLists struct {
	index []mergedRef
	data  []byte
}

// mergedRef locates one survivor's list.
type mergedRef struct {
	gid uint32
	off uint64
}

// add records the sorted user ids merged into survivor gid.
func (m *mergedLists) add(gid uint32, userIDs []string) {
	m.index = append(m.index, mergedRef{gid: gid, off: uint64(len(m.data))})
	m.data = binary.AppendUvarint(m.data, uint64(len(userIDs)))
	for _, id := range userIDs {
		var packed [stytchid.PackedLen]byte
		var flags byte
		if _, ok := stytchid.AppendPacked(packed[:0], id); ok {
			flags = flagPackedUserID
		}
		m.data = append(m.data, flags)
		m.data = appendUserID(m.data, flags, id, &packed)
	}
}

// addAll appends o's lists.
func (m *mergedLists) addAll(o *mergedLists) {
	base := uint64(len(m.data))
	for _, r := range o.index {
		m.index = append(m.index, mergedRef{gid: r.gid, off: base + r.off})
	}
	m.data = append(m.data, o.data...)
}

// sort orders the index by membership id.
func (m *mergedLists) sort() {
	slices.SortFunc(m.index, func(a, b mergedRef) int { return cmp.Compare(a.gid, b.gid) })
}

// mergedCursor looks lists up in increasing membership id order.
type mergedCursor struct {
	m    *mergedLists
	next int
	ids  []string
}

// lookup returns the list of survivor gid, or nil; gid must not decrease from call to call. The
// strings alias the lists' bytes or *scratch; the slice is reused by the next call.
func (c *mergedCursor) lookup(gid uint32, scratch *[]byte) []string {
	idx := c.m.index
	for c.next < len(idx) && idx[c.next].gid < gid {
		c.next++
	}
	if c.next == len(idx) || idx[c.next].gid != gid {
		return nil
	}
	b := c.m.data[idx[c.next].off:]
	n, w := binary.Uvarint(b)
	b = b[w:]
	c.ids = c.ids[:0]
	for range n {
		var id string
		id, b = decodeUserID(b[1:], b[0], scratch)
		c.ids = append(c.ids, id)
	}
	return c.ids
}
