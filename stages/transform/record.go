package transform

import (
	"encoding/binary"
	"unsafe"
)

// A record is a payload encoded as bytes: uvarint total length, created (8 bytes), position
// (8 bytes), flags, warnings, then the seven strings, each as uvarint length and bytes. Records
// live in arenas (memory) or in spill files; decoding them makes strings that point into the
// record's bytes, so no per-string allocation happens.

const (
	flagVerified = 1 << iota
	flagPending
)

// appendRecord encodes pl at the end of buf.
func appendRecord(buf []byte, pl *payload) []byte {
	strs := [...]string{pl.userID, pl.email, pl.name, pl.extID, pl.phone, pl.trusted, pl.untrusted}
	n := 8 + 8 + 1 + 1
	for _, s := range strs {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(pl.created))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(pl.position))
	flags := pl.extSrc << 2
	if pl.verified {
		flags |= flagVerified
	}
	if pl.pending {
		flags |= flagPending
	}
	buf = append(buf, flags, pl.warnings)
	for _, s := range strs {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// recordBytes returns the record starting at b[0] (its length prefix included).
func recordBytes(b []byte) []byte {
	n, k := binary.Uvarint(b)
	return b[:k+int(n)]
}

// decodeRecord decodes the record at the start of b into pl. The strings alias b.
func decodeRecord(b []byte, pl *payload) {
	_, k := binary.Uvarint(b)
	b = b[k:]
	pl.created = int64(binary.LittleEndian.Uint64(b))
	pl.position = int64(binary.LittleEndian.Uint64(b[8:]))
	flags := b[16]
	pl.warnings = b[17]
	pl.verified = flags&flagVerified != 0
	pl.pending = flags&flagPending != 0
	pl.extSrc = flags >> 2
	b = b[18:]
	for _, dst := range [...]*string{&pl.userID, &pl.email, &pl.name, &pl.extID, &pl.phone, &pl.trusted, &pl.untrusted} {
		n, k := binary.Uvarint(b)
		*dst = bytesString(b[k : k+int(n)])
		b = b[k+int(n):]
	}
}

// decodeKeys decodes only what dedupe sorts on: created, the verified flag, the user id and the
// email.
func decodeKeys(b []byte) (created int64, verified bool, userID, email string) {
	_, k := binary.Uvarint(b)
	b = b[k:]
	created = int64(binary.LittleEndian.Uint64(b))
	verified = b[16]&flagVerified != 0
	b = b[18:]
	n, k := binary.Uvarint(b)
	userID = bytesString(b[k : k+int(n)])
	b = b[k+int(n):]
	n, k = binary.Uvarint(b)
	email = bytesString(b[k : k+int(n)])
	return
}

// bytesString views b as a string without copying; b must never change afterwards (arena chunks
// are append-only).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// arenaChunk is the size of an arena's chunks.
const arenaChunk = 4 << 20

// arena stores records in large append-only chunks: no per-record allocation and nothing for the
// garbage collector to scan. A ref is chunk<<32 | offset.
type arena struct {
	chunks [][]byte
	bytes  int64
	// next is the first chunk that may still have room (chunks before it are full).
	next int
}

// add copies b (one or more whole records) into the arena and returns the ref of its first byte.
func (a *arena) add(b []byte) uint64 {
	for a.next < len(a.chunks) && cap(a.chunks[a.next])-len(a.chunks[a.next]) < len(b) {
		a.next++
	}
	if a.next == len(a.chunks) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(b))))
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
func (a *arena) allocated() int64 {
	var n int64
	for _, c := range a.chunks {
		n += int64(cap(c))
	}
	return n
}
