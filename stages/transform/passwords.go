package transform

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Password reject reasons (scope "password"): the member still migrates, without a password.
const (
	// ReasonUnknownHashType is a hash_type Stytch does not migrate.
	ReasonUnknownHashType = "unknown_hash_type"
	// ReasonMalformedHash is a missing hash or a missing, misplaced or malformed parameter.
	ReasonMalformedHash = "malformed_hash"
	// ReasonAmbiguousPassword is an owner (user_id or email) with more than one row.
	ReasonAmbiguousPassword = "ambiguous_password"
	// ReasonPasswordOwnerNotMigrated is a row whose user or email became no planned member.
	ReasonPasswordOwnerNotMigrated = "password_owner_not_migrated"
)

// hashParams are the parameter columns of the hash file, named as Stytch's migrate endpoint names
// them.
var hashParams = []string{
	"prepend_salt", "append_salt", "salt", "iteration_amount", "memory", "threads", "key_length",
	"n_parameter", "r_parameter", "p_parameter", "algorithm",
}

// hashRule says which parameters a hash type takes and which it needs.
type hashRule struct {
	allowed []string
	// required lists the parameters needed unless the hash is self-describing (PHC form, "$...").
	required []string
	// prefixes, when set, are the accepted starts of the hash.
	prefixes []string
	base64   bool
}

// hashRules are Stytch's hash types (stytch-api.md, B2B passwords/migrate).
var hashRules = map[string]hashRule{
	"bcrypt":    {prefixes: []string{"$2a$", "$2b$", "$2x$", "$2y$"}},
	"md_5":      {allowed: []string{"prepend_salt", "append_salt"}},
	"sha_1":     {allowed: []string{"prepend_salt", "append_salt"}},
	"sha_512":   {allowed: []string{"prepend_salt", "append_salt"}},
	"argon_2i":  {allowed: argonParams, required: argonParams},
	"argon_2id": {allowed: argonParams, required: argonParams},
	"scrypt":    {allowed: scryptParams, required: scryptParams, base64: true},
	"phpass":    {prefixes: []string{"$P$", "$H$"}},
	"pbkdf_2": {allowed: []string{"salt", "iteration_amount", "key_length", "algorithm"},
		required: []string{"salt", "iteration_amount", "key_length"}, base64: true},
}

var (
	argonParams  = []string{"salt", "iteration_amount", "memory", "threads", "key_length"}
	scryptParams = []string{"salt", "n_parameter", "r_parameter", "p_parameter", "key_length"}
)

// maxScryptN is the largest scrypt N Stytch accepts.
const maxScryptN = 262144

// hashEntry is one usable row of the hash file. Entries decoded from the index have strings that
// alias its memory.
type hashEntry struct {
	pw   schemas.MemberPassword
	line int
	// state is the row's state byte (pwUsed, pwAmbiguous).
	state byte
	// owner is the user_id or normalized email the row belongs to; byEmail says which.
	owner   string
	byEmail bool
}

// States of an indexed row: its first byte, changed in place.
const (
	// pwUsed marks a row some member took.
	pwUsed = 1 << iota
	// pwAmbiguous marks an owner with more than one row: none of its rows is used.
	pwAmbiguous
)

// Owner kinds: the first byte of an owner's key in the index's dictionary.
const (
	ownerUserID = 'u'
	ownerEmail  = 'e'
)

// passwordIndex is the content of the hash file: usable rows by owner, and the rows rejected.
// Owners are interned in a stringDict (kind byte, then the user id or email); row i of the
// dictionary is encoded in an arena at refs[i]. So the index holds no Go pointers and takes about
// the bytes of the rows (a bcrypt row keyed by a Stytch user id: about 150 bytes, where maps of
// structs took 400). Lookups and marks are for one goroutine at a time.
type passwordIndex struct {
	// path is the file's base name, used in reject details.
	path   string
	owners *stringDict
	rows   arena
	refs   []uint64
	// reject takes the rejects of the rows (it is the stage's reject set).
	reject func(schemas.Reject) error
	// onAmbiguous, when set, is told the line of every row rejected as ambiguous.
	onAmbiguous func(line int)
	// key builds an owner's key; buf encodes a row; found holds lookup's result.
	key, buf []byte
	found    hashEntry
	// join, once the index passed its budget, holds the rows instead (see hashJoin).
	join *hashJoin
}

func newPasswordIndex(path string, reject func(schemas.Reject) error) *passwordIndex {
	return &passwordIndex{path: path, owners: newStringDict(), reject: reject}
}

// size is the memory the index takes, in bytes.
func (p *passwordIndex) size() int64 {
	return p.rows.allocated() + int64(cap(p.refs))*8 + p.owners.size()
}

// ownerKey returns the dictionary key of an owner, valid until the next call.
func (p *passwordIndex) ownerKey(owner string, byEmail bool) string {
	kind := byte(ownerUserID)
	if byEmail {
		kind = ownerEmail
	}
	p.key = append(append(p.key[:0], kind), owner...)
	return bytesString(p.key)
}

// find returns the index of owner's row, if the index has one.
func (p *passwordIndex) find(owner string, byEmail bool) (uint32, bool) {
	return p.owners.lookup(p.ownerKey(owner, byEmail))
}

// state returns the state byte of row i, which may be changed in place.
func (p *passwordIndex) state(i uint32) *byte { return &p.rows.get(p.refs[i])[0] }

// decode decodes row i into e.
func (p *passwordIndex) decode(i uint32, e *hashEntry) {
	decodePasswordRow(p.rows.get(p.refs[i]), e)
	key := p.owners.key(i)
	e.owner, e.byEmail = key[1:], key[0] == ownerEmail
}

// encodePasswordRow appends row e to buf: its state byte, the line, then the hash fields
// (strings as uvarint length and bytes, numbers as uvarints). The owner is the dictionary's.
func encodePasswordRow(buf []byte, e *hashEntry) []byte {
	buf = append(buf, e.state)
	buf = binary.AppendUvarint(buf, uint64(e.line))
	pw := &e.pw
	for _, s := range [...]string{pw.HashType, pw.Hash, pw.PrependSalt, pw.AppendSalt, pw.Salt, pw.Algorithm} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	for _, n := range [...]int32{pw.IterationAmount, pw.Memory, pw.Threads, pw.KeyLength, pw.NParameter, pw.RParameter, pw.PParameter} {
		buf = binary.AppendUvarint(buf, uint64(uint32(n)))
	}
	return buf
}

// decodePasswordRow decodes a row encoded by encodePasswordRow, but its owner; the strings alias
// b.
func decodePasswordRow(b []byte, e *hashEntry) {
	*e = hashEntry{state: b[0]}
	line, k := binary.Uvarint(b[1:])
	e.line, b = int(line), b[1+k:]
	pw := &e.pw
	for _, dst := range [...]*string{&pw.HashType, &pw.Hash, &pw.PrependSalt, &pw.AppendSalt, &pw.Salt, &pw.Algorithm} {
		n, w := binary.Uvarint(b)
		*dst = bytesString(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	for _, dst := range [...]*int32{&pw.IterationAmount, &pw.Memory, &pw.Threads, &pw.KeyLength, &pw.NParameter, &pw.RParameter, &pw.PParameter} {
		n, w := binary.Uvarint(b)
		*dst = int32(uint32(n))
		b = b[w:]
	}
}

// insert indexes row e. An owner seen before makes its rows ambiguous: each of them is rejected
// (the first one once) and none is used.
func (p *passwordIndex) insert(e *hashEntry) error {
	i, added := p.owners.insert(p.ownerKey(e.owner, e.byEmail))
	if added {
		p.buf = encodePasswordRow(p.buf[:0], e)
		p.refs = append(p.refs, p.rows.add(p.buf))
		return nil
	}
	if st := p.state(i); *st&pwAmbiguous == 0 {
		*st |= pwAmbiguous
		var prev hashEntry
		p.decode(i, &prev)
		if err := p.rejectAmbiguous(&prev); err != nil {
			return err
		}
	}
	return p.rejectAmbiguous(e)
}

// rejectAmbiguous rejects row e as one of several rows of its owner.
func (p *passwordIndex) rejectAmbiguous(e *hashEntry) error {
	if p.onAmbiguous != nil {
		p.onAmbiguous(e.line)
	}
	return p.reject(ownerReject(e, ReasonAmbiguousPassword, fmt.Sprintf("%s line %d: this owner has more than one row", p.path, e.line)))
}

// rejectUnused rejects row e, which no planned member took.
func (p *passwordIndex) rejectUnused(e *hashEntry) error {
	return p.reject(ownerReject(e, ReasonPasswordOwnerNotMigrated, fmt.Sprintf("%s line %d: no planned member for this row", p.path, e.line)))
}

// ownerReject is a password reject of row e that names its owner (a copy of it: e may alias a
// buffer).
func ownerReject(e *hashEntry, reason, detail string) schemas.Reject {
	r := schemas.Reject{Scope: scopePassword, Reason: reason, Field: "user_id", RawValue: strings.Clone(e.owner), Detail: detail}
	if e.byEmail {
		r.Field = "email"
	} else {
		r.SourceUserID = r.RawValue
	}
	return r
}

// lookup returns the hash for a member made from userID with the given email, the user being
// record n of the payload file, or nil; it marks the row used. A row keyed by user_id wins over
// one keyed by email; an ambiguous owner has none. The entry is valid until the next lookup.
func (p *passwordIndex) lookup(n int, userID, email string) (*hashEntry, error) {
	if p == nil {
		return nil, nil
	}
	if p.join != nil {
		return p.join.lookup(n)
	}
	for _, k := range [...]struct {
		owner   string
		byEmail bool
	}{{userID, false}, {email, true}} {
		if i, ok := p.find(k.owner, k.byEmail); ok && *p.state(i)&pwAmbiguous == 0 {
			*p.state(i) |= pwUsed
			p.decode(i, &p.found)
			return &p.found, nil
		}
	}
	return nil, nil
}

// finish rejects every usable row no member took, once every member is written.
func (p *passwordIndex) finish() error {
	if p == nil {
		return nil
	}
	if p.join != nil {
		return p.join.unused(p)
	}
	var e hashEntry
	for i := range uint32(p.owners.len()) {
		if *p.state(i)&(pwUsed|pwAmbiguous) == 0 {
			p.decode(i, &e)
			if err := p.rejectUnused(&e); err != nil {
				return err
			}
		}
	}
	return nil
}

// close closes the join's files, if any, after a failure.
func (p *passwordIndex) close() {
	if p != nil && p.join != nil {
		p.join.close()
	}
}

// joinOptions are how a file that may be joined partition by partition (the hash file, the
// mapping file) is held.
type joinOptions struct {
	// limit is the memory the index may take before its rows go to partition files (0: no
	// limit).
	limit int64
	// parts, when set, is the number of partitions instead of the estimate, and splitFloor
	// the file size below which a partition is never split instead of minJoinSplitBytes (tests).
	parts      int
	splitFloor int64
	// dir is the stage's scratch folder.
	dir string
}

// readHashFile reads the password hash CSV, giving reject the rows that cannot be migrated (a
// bad row is never a file error). The file itself must be a readable CSV with a user_id or email
// column and hash_type and hash columns; its errors carry pipeline.ExitConfig. Hashes never
// appear in errors or rejects. Past o.limit the rows go to partition files (see hashJoin). The
// bytes read are counted on prog (nil: no report).
func readHashFile(path string, o joinOptions, reject func(schemas.Reject) error, prog pipeline.Progress) (*passwordIndex, error) {
	t, err := openCSV(path, prog, []string{"hash_type", "hash"}, []string{"user_id", "email"})
	if err != nil {
		return nil, pipeline.WithExitCode(fmt.Errorf("read hashes file: %w", err), pipeline.ExitConfig)
	}
	defer t.close()
	p := newPasswordIndex(filepath.Base(path), reject)
	if o.limit > 0 {
		p.rows.chunkSize = int(min(max(o.limit/16, minArenaChunk), maxArenaChunk))
	}
	cols := findHashColumns(t)
	lastLine := 0
	for rows := 1; ; rows++ {
		ok, err := t.next()
		if err != nil {
			p.close()
			return nil, pipeline.WithExitCode(fmt.Errorf("read hashes file: %w", err), pipeline.ExitConfig)
		}
		if !ok {
			break
		}
		if err := p.readRow(t, &cols); err != nil {
			p.close()
			return nil, err
		}
		lastLine = t.line()
		if rows == presizeAfterRows && p.join == nil {
			p.presize(t.progress(), o.limit)
		}
		if p.join == nil && o.limit > 0 && p.size() > o.limit {
			if err := p.startJoin(o, t); err != nil {
				p.close()
				return nil, err
			}
		}
	}
	if p.join != nil {
		if err := p.join.finishRows(lastLine); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

// presizeAfterRows is the number of hash file rows read before the index is sized for the
// whole file.
const presizeAfterRows = 4096

// presize makes room in the owner dictionary and the row refs for the rows of the whole file,
// estimated from the part read so far (progress), so that reading the rest copies neither again.
// It does nothing when the file is nearly read, or when the index estimated for the whole file
// would not fit in limit (then its rows go to partition files, see hashJoin, before long).
func (p *passwordIndex) presize(progress float64, limit int64) {
	if progress <= 0 || progress > 0.5 {
		return
	}
	n := p.owners.len()
	keys := int(float64(n) * (1/progress - 1)) // the rows still to read
	total := n + keys
	slots := max(dictSlots(total), len(p.owners.table))
	// Per row: its encoding, its owner's key, the key's offset and its ref; then the table, and
	// a last arena chunk.
	perRow := float64(p.rows.bytes+int64(len(p.owners.data)))/float64(max(n, 1)) + 4 + 8
	if limit > 0 && perRow*float64(total)+8*float64(slots)+float64(p.rows.chunkSize) > float64(limit) {
		return
	}
	p.owners.reserve(keys, int(float64(len(p.owners.data))*float64(keys)/float64(max(n, 1))))
	p.refs = grown(p.refs, keys)
}

// hashColumns are the hash file's columns, found once (-1: not in the header).
type hashColumns struct {
	userID, email, hashType, hash int
	// params holds the column of each of hashParams, in the same order.
	params []int
}

// findHashColumns finds the columns of the hash file t.
func findHashColumns(t *csvTable) hashColumns {
	c := hashColumns{userID: t.col("user_id"), email: t.col("email"), hashType: t.col("hash_type"), hash: t.col("hash")}
	for _, name := range hashParams {
		c.params = append(c.params, t.col(name))
	}
	return c
}

// readRow indexes the current row of t, whose columns are cols, or rejects it.
func (p *passwordIndex) readRow(t *csvTable, cols *hashColumns) error {
	line := t.line()
	// A reject is kept: its values are copied out of the reader's buffer.
	reject := func(reason, field, raw, format string, args ...any) error {
		return p.reject(schemas.Reject{SourceUserID: strings.Clone(t.at(cols.userID)), Scope: scopePassword, Reason: reason,
			Field: field, RawValue: strings.Clone(raw), Detail: fmt.Sprintf("%s line %d: %s", p.path, line, fmt.Sprintf(format, args...))})
	}
	e := hashEntry{line: line}
	if id := t.at(cols.userID); id != "" {
		e.owner = id
	} else if raw := t.at(cols.email); raw != "" {
		email, valid, why := normalizeEmail(raw)
		if !valid {
			return reject(ReasonMalformedHash, "email", raw, "invalid email: %s", why)
		}
		e.owner, e.byEmail = email, true
	} else {
		return reject(ReasonMalformedHash, "user_id", "", "neither user_id nor email is set")
	}
	if field, raw, why := parseHashRow(t, cols, &e.pw); why != "" {
		reason := ReasonMalformedHash
		if field == "hash_type" {
			reason = ReasonUnknownHashType
		}
		return reject(reason, field, raw, "%s", why)
	}
	if p.join != nil {
		return p.join.addRow(p.ownerKey(e.owner, e.byEmail), &e)
	}
	return p.insert(&e)
}

// parseHashRow reads the hash type, hash and parameters of the current row into pw. On a
// problem it returns the field, a raw value safe to record (never a hash or salt) and why.
func parseHashRow(t *csvTable, cols *hashColumns, pw *schemas.MemberPassword) (field, raw, why string) {
	pw.HashType = t.at(cols.hashType)
	rule, ok := hashRules[pw.HashType]
	if !ok {
		return "hash_type", pw.HashType, fmt.Sprintf("unknown hash_type %q", pw.HashType)
	}
	pw.Hash = t.at(cols.hash)
	if pw.Hash == "" {
		return "hash", "", "empty hash"
	}
	if len(rule.prefixes) > 0 && !slices.ContainsFunc(rule.prefixes, func(p string) bool { return strings.HasPrefix(pw.Hash, p) }) {
		return "hash", "", fmt.Sprintf("a %s hash starts with %s", pw.HashType, strings.Join(rule.prefixes, " or "))
	}
	phc := strings.HasPrefix(pw.Hash, "$")
	if rule.base64 && !phc && !isBase64(pw.Hash) {
		return "hash", "", fmt.Sprintf("a %s hash must be base64", pw.HashType)
	}
	for k, name := range hashParams {
		v := t.at(cols.params[k])
		if v == "" {
			if slices.Contains(rule.required, name) && !phc {
				return name, "", fmt.Sprintf("%s needs %s", pw.HashType, name)
			}
			continue
		}
		if !slices.Contains(rule.allowed, name) {
			return name, safeParam(name, v), fmt.Sprintf("%s does not take %s", pw.HashType, name)
		}
		if err := setHashParam(pw, name, v); err != nil {
			return name, safeParam(name, v), err.Error()
		}
	}
	return "", "", ""
}

// safeParam returns v when the parameter is not secret-like (salts are never recorded).
func safeParam(name, v string) string {
	if strings.Contains(name, "salt") {
		return ""
	}
	return v
}

// setHashParam stores one parameter value in pw, checking its form.
func setHashParam(pw *schemas.MemberPassword, name, v string) error {
	num := func(dst *int32) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s must be a positive 32-bit integer", name)
		}
		*dst = int32(n)
		return nil
	}
	switch name {
	case "prepend_salt":
		pw.PrependSalt = v
	case "append_salt":
		pw.AppendSalt = v
	case "salt":
		if pw.HashType == "scrypt" || pw.HashType == "pbkdf_2" {
			if !isBase64(v) {
				return fmt.Errorf("a %s salt must be base64", pw.HashType)
			}
		}
		pw.Salt = v
	case "iteration_amount":
		return num(&pw.IterationAmount)
	case "memory":
		return num(&pw.Memory)
	case "threads":
		return num(&pw.Threads)
	case "key_length":
		return num(&pw.KeyLength)
	case "n_parameter":
		if err := num(&pw.NParameter); err != nil {
			return err
		}
		if n := pw.NParameter; n <= 1 || n > maxScryptN || n&(n-1) != 0 {
			return fmt.Errorf("n_parameter must be a power of 2 above 1 and at most %d", maxScryptN)
		}
	case "r_parameter":
		return num(&pw.RParameter)
	case "p_parameter":
		return num(&pw.PParameter)
	case "algorithm":
		if v != "sha256" && v != "sha512" {
			return fmt.Errorf("algorithm must be sha256 or sha512")
		}
		pw.Algorithm = v
	}
	return nil
}

func isBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}
