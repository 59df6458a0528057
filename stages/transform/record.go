package transform

import (
	"encoding/binary"
	"unsafe"

	"github.com/stytch-migrate/stytch-migrate/internal/stytchid"
)

// Records are values encoded as bytes, framed by their uvarint length, so that they can live in
// large arenas or files without a Go object each; decoding one makes strings that point into the
// record's bytes, so no per-string allocation happens either. There are two kinds:
//
//   - a payload record is everything a member row needs from its user but its metadata:
//     created (8 bytes), position (varint), the user's row in users.parquet (uvarint), flags,
//     warnings, the user id (17 bytes when it is a canonical Stytch id, see internal/stytchid;
//     else uvarint length and bytes), then the email, name, external id (empty when it is the
//     user id) and MFA phone, each as uvarint length and bytes. Payload records go to the
//     payload file, in input order, and are read back once; the metadata texts, unchanged from
//     users.parquet, are read from there again at the same time (metadataCursor) rather than
//     written out and read back (they are most of a member row's bytes).
//   - a key record is what deduplication needs: created, position, flags, the user id, then
//     the email and the external id (empty when it is the user id), encoded the same way.
//     Key records stay in memory until every membership is decided; past the budget they go to
//     Parquet spill files as typed rows and are rebuilt when read back.

const (
	flagVerified = 1 << iota
	flagPending
	// flagExtIsUserID marks a key record whose external id is its user id (not stored twice).
	flagExtIsUserID
	// flagPackedUserID marks a key record whose user id is stored packed.
	flagPackedUserID
	// extSrcShift is where the external-id source (2 bits) starts in the flags.
	extSrcShift = 4
)

// appendRecord encodes the payload record of pl, whose head is h, at the end of buf.
func appendRecord(buf []byte, pl *payload, h *recordHead) []byte {
	flags, ext := h.flags, h.ext
	if pl.pending {
		flags |= flagPending
	}
	strs := [...]string{pl.email, pl.name, ext, pl.phone}
	n := 8 + varintLen(pl.position) + uvarintLen(uint64(pl.row)) + 2 + userIDLen(flags, pl.userID)
	for _, s := range strs {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(pl.created))
	buf = binary.AppendVarint(buf, pl.position)
	buf = binary.AppendUvarint(buf, uint64(pl.row))
	buf = append(buf, flags, pl.warnings)
	buf = appendUserID(buf, flags, pl.userID, &h.packed)
	for _, s := range strs {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// recordHead is what both record kinds of a user start with: the flags, the external id to
// store (empty when it is the user id) and, with flagPackedUserID, the packed user id. It is
// computed once per user for both records.
type recordHead struct {
	flags  byte
	ext    string
	packed [stytchid.PackedLen]byte
}

// newRecordHead returns the record head of pl.
func newRecordHead(pl *payload) recordHead {
	h := recordHead{flags: pl.extSrc << extSrcShift, ext: pl.extID}
	if pl.verified {
		h.flags |= flagVerified
	}
	if h.ext == pl.userID {
		h.ext = ""
		h.flags |= flagExtIsUserID
	}
	if _, ok := stytchid.AppendPacked(h.packed[:0], pl.userID); ok {
		h.flags |= flagPackedUserID
	}
	return h
}

// userIDLen is the encoded length of a user id.
func userIDLen(flags byte, id string) int {
	if flags&flagPackedUserID != 0 {
		return stytchid.PackedLen
	}
	return uvarintLen(uint64(len(id))) + len(id)
}

// appendUserID appends the encoded user id.
func appendUserID(buf []byte, flags byte, id string, packed *[stytchid.PackedLen]byte) []byte {
	if flags&flagPackedUserID != 0 {
		return append(buf, packed[:]...)
	}
	return append(binary.AppendUvarint(buf, uint64(len(id))), id...)
}

// decodeUserID decodes the user id at the start of b, unpacking a packed one at the end of
// *scratch, and returns it (aliasing b or *scratch) with the rest of b.
func decodeUserID(b []byte, flags byte, scratch *[]byte) (string, []byte) {
	if flags&flagPackedUserID != 0 {
		start := len(*scratch)
		*scratch = stytchid.AppendUnpacked(*scratch, b[:stytchid.PackedLen])
		return bytesString((*scratch)[start:]), b[stytchid.PackedLen:]
	}
	n, w := binary.Uvarint(b)
	return bytesString(b[w : w+int(n)]), b[w+int(n):]
}

// decodeRecordBody decodes a payload record without its length prefix into pl. A packed user id
// is unpacked at the end of *scratch; the strings alias b or *scratch. The metadata texts, not in
// the record, are left empty.
func decodeRecordBody(b []byte, pl *payload, scratch *[]byte) {
	pl.created = int64(binary.LittleEndian.Uint64(b))
	b = b[8:]
	var n int
	pl.position, n = binary.Varint(b)
	b = b[n:]
	row, n := binary.Uvarint(b)
	pl.row = int64(row)
	b = b[n:]
	pl.trusted, pl.untrusted = "", ""
	flags := b[0]
	pl.warnings = b[1]
	pl.verified = flags&flagVerified != 0
	pl.pending = flags&flagPending != 0
	pl.extSrc = flags >> extSrcShift
	pl.userID, b = decodeUserID(b[2:], flags, scratch)
	for _, dst := range [...]*string{&pl.email, &pl.name, &pl.extID, &pl.phone} {
		n, k := binary.Uvarint(b)
		*dst = bytesString(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if flags&flagExtIsUserID != 0 {
		pl.extID = pl.userID
	}
}

// keyRecord is a decoded key record. The strings alias the record's bytes.
type keyRecord struct {
	created, position int64
	verified          bool
	extSrc            uint8
	userID, email     string
	extID             string
}

// appendKeyRecord encodes the key record of pl, whose head is h, at the end of buf.
func appendKeyRecord(buf []byte, pl *payload, h *recordHead) []byte {
	flags, ext := h.flags, h.ext
	n := 8 + varintLen(pl.position) + 1 + userIDLen(flags, pl.userID) + uvarintLen(uint64(len(pl.email))) + len(pl.email) +
		uvarintLen(uint64(len(ext))) + len(ext)
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(pl.created))
	buf = binary.AppendVarint(buf, pl.position)
	buf = append(buf, flags)
	buf = appendUserID(buf, flags, pl.userID, &h.packed)
	for _, s := range [...]string{pl.email, ext} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// decodeKeyRecord decodes the key record at the start of b (its length prefix included) into k.
// A packed user id is unpacked at the end of *scratch; the strings alias b or *scratch, so the
// caller must not overwrite *scratch's bytes while it uses k.
func decodeKeyRecord(b []byte, k *keyRecord, scratch *[]byte) {
	_, n := binary.Uvarint(b)
	b = b[n:]
	k.created = int64(binary.LittleEndian.Uint64(b))
	b = b[8:]
	k.position, n = binary.Varint(b)
	b = b[n:]
	flags := b[0]
	k.verified = flags&flagVerified != 0
	k.extSrc = flags >> extSrcShift
	k.userID, b = decodeUserID(b[1:], flags, scratch)
	for _, dst := range [...]*string{&k.email, &k.extID} {
		n, w := binary.Uvarint(b)
		*dst = bytesString(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	if flags&flagExtIsUserID != 0 {
		k.extID = k.userID
	}
}

// recordBytes returns the record starting at b[0] (its length prefix included).
func recordBytes(b []byte) []byte {
	n, k := binary.Uvarint(b)
	return b[:k+int(n)]
}

// uvarintLen is the length of v as a uvarint.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// varintLen is the length of v as a zig-zag varint.
func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// bytesString views b as a string without copying; b must not change while the string is in use
// (arena chunks are append-only; a CSV batch is reused only once its strings are done with).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// maxArenaChunk and minArenaChunk bound the size of an arena's chunks: large chunks waste less
// room at their ends, small ones keep a small budget honest.
const (
	maxArenaChunk = 4 << 20
	minArenaChunk = 64 << 10
)

// arena stores records in large append-only chunks: no per-record allocation and nothing for the
// garbage collector to scan. A ref is chunk<<32 | offset.
type arena struct {
	// chunkSize is the size of new chunks (maxArenaChunk when zero).
	chunkSize int
	chunks    [][]byte
	bytes     int64
	// size is the chunks' capacity, in bytes.
	size int64
	// next is the first chunk that may still have room (chunks before it are full).
	next int
}

// add copies b (one or more whole records) into the arena and returns the ref of its first byte.
func (a *arena) add(b []byte) uint64 {
	for a.next < len(a.chunks) && cap(a.chunks[a.next])-len(a.chunks[a.next]) < len(b) {
		a.next++
	}
	if a.next == len(a.chunks) {
		size := a.chunkSize
		if size == 0 {
			size = maxArenaChunk
		}
		a.chunks = append(a.chunks, make([]byte, 0, max(size, len(b))))
		a.size += int64(cap(a.chunks[len(a.chunks)-1]))
	}
	i := a.next
	off := len(a.chunks[i])
	a.chunks[i] = append(a.chunks[i], b...)
	a.bytes += int64(len(b))
	return uint64(i)<<32 | uint64(off)
}

// reset empties the arena but keeps its chunks for reuse. Every string decoded from it becomes
// invalid: the caller must be done with them.
func (a *arena) reset() {
	for i := range a.chunks {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.bytes = 0
	a.next = 0
}

// get returns the bytes from ref to the end of its chunk; the record starts at index 0.
func (a *arena) get(ref uint64) []byte {
	return a.chunks[ref>>32][uint32(ref):]
}

// allocated is the arena's memory in use, chunk capacity included.
func (a *arena) allocated() int64 { return a.size }
