package transform

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// emitCheckEvery is how many payload records emit reads between checks of its context.
const emitCheckEvery = 1 << 14

// emit reads the payload file back, in input order, with the organizations file and the users'
// metadata side by side, and writes a member row (and its password, if any) for every
// membership deduplication kept. Rows are appended in the same order to members.parquet and
// member_passwords.parquet, so the load stage can read both files side by side.
func (t *run) emit(ctx context.Context, out *outputs, dec *decisions) error {
	pr, err := openPayloads(t.store.payloads)
	if err != nil {
		return err
	}
	defer pr.close()
	meta, err := openMetadata(ctx, t.env.Dir.Path(schemas.Users.Path()), t.opts.alloc)
	if err != nil {
		return err
	}
	defer meta.close()
	of, orgs, err := t.store.orgs.open()
	if err != nil {
		return fmt.Errorf("read organizations file: %w", err)
	}
	defer of.Close()
	dict, count := t.store.dict, t.store.memberships()
	dec.merged.sort()
	cursor := mergedCursor{m: &dec.merged}
	empty := make([]string, 0)
	var (
		scratch []byte
		pl      payload
		gid     int
		// One member and one password row, reused: the writers copy what they are given.
		m  schemas.Member
		pw schemas.MemberPassword
	)
	err = pr.each(ctx, func(n, kept int, body []byte) error {
		scratch = scratch[:0]
		decodeRecordBody(body, &pl, &scratch)
		trusted, untrusted, err := meta.at(pl.row)
		if err != nil {
			return err
		}
		pl.trusted = trusted
		if pl.warnings&warnUntrustedDropped == 0 {
			pl.untrusted = untrusted
		}
		for range kept {
			if gid >= count {
				return pr.corrupt("more memberships than were read")
			}
			org, err := binary.ReadUvarint(orgs)
			if err != nil || org >= uint64(dict.len()) {
				return fmt.Errorf("read organizations file: %s: bad organization after %d memberships", t.store.orgs.path, gid)
			}
			switch o := dec.outcome[gid]; {
			case o >= outSurvivor:
				merged := cursor.lookup(uint32(gid), &scratch)
				fillMember(&m, dict.key(uint32(org)), &pl, merged, survivorRules[o-outSurvivor], empty)
				if err := t.writeMember(out, n, &m, &pl, &pw); err != nil {
					return err
				}
			case o == outUndecided:
				return fmt.Errorf("plan members: membership %d of user %s was never decided (a bug in this tool)", gid, pl.userID)
			}
			gid++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if gid != count {
		return pr.corrupt("fewer memberships than were read")
	}
	return nil
}

// metadataCursor reads the two metadata columns of the users file in row order, for emit: the
// payload records name their users' rows (payload.row), in increasing order, and the texts are
// the users file's, unchanged. Only the current record batch is held; its strings stay valid
// until the next row is asked for in another batch.
type metadataCursor struct {
	path               string
	users              *usersReader
	trusted, untrusted *array.String
	// start is the row of the current batch's first user, n its number of users.
	start, n int64
}

// metadataLeaves are the users file's columns metadataCursor reads.
var metadataLeaves = map[string]bool{"trusted_metadata": true, "untrusted_metadata": true}

// metadataBatchRows is the record batch size of metadataCursor: a quarter of the scan's, since
// emit holds it besides the member writers' buffers, at the stage's peak.
const metadataBatchRows = schemas.DefaultReadBatchRows / 4

// openMetadata opens a metadataCursor on the users file at path.
func openMetadata(ctx context.Context, path string, alloc memory.Allocator) (*metadataCursor, error) {
	users, err := openUserLeaves(ctx, path, alloc, metadataLeaves, metadataBatchRows)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return &metadataCursor{path: path, users: users}, nil
}

// at returns the trusted and untrusted metadata of the user on row; rows are asked for in
// increasing order.
func (c *metadataCursor) at(row int64) (trusted, untrusted string, err error) {
	for row >= c.start+c.n {
		if !c.users.rr.Next() {
			if err := c.users.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				return "", "", fmt.Errorf("read users: %s: %w", c.path, err)
			}
			return "", "", fmt.Errorf("read users: %s: no row %d (the file changed during the stage?)", c.path, row)
		}
		rec := c.users.rr.RecordBatch()
		cols := batchColumns{rec: rec}
		c.trusted, c.untrusted = cols.str("trusted_metadata"), cols.str("untrusted_metadata")
		if cols.err != nil {
			return "", "", fmt.Errorf("read users: %s: %w", c.path, cols.err)
		}
		c.start, c.n = c.start+c.n, rec.NumRows()
	}
	if row < c.start {
		return "", "", fmt.Errorf("read users: %s: row %d asked for after row %d (a bug in this tool)", c.path, row, c.start)
	}
	i := int(row - c.start)
	return str(c.trusted, i), str(c.untrusted, i), nil
}

func (c *metadataCursor) close() { c.users.Close() }

// payloadReader reads the payload file back, record by record: for each planned user, the
// number of its candidate memberships and its payload record.
type payloadReader struct {
	path string
	f    *os.File
	r    *bufio.Reader
	buf  []byte
	// n is the number of records read.
	n int
}

// openPayloads opens the finished payload file s.
func openPayloads(s *stream) (*payloadReader, error) {
	f, r, err := s.open()
	if err != nil {
		return nil, fmt.Errorf("read payload file: %w", err)
	}
	return &payloadReader{path: s.path, f: f, r: r}, nil
}

// next returns the next user's membership count and record body (valid until the next call),
// or io.EOF after the last.
func (p *payloadReader) next() (int, []byte, error) {
	kept, err := binary.ReadUvarint(p.r)
	if errors.Is(err, io.EOF) {
		return 0, nil, io.EOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read payload file: %w", err)
	}
	if kept > math.MaxUint32 {
		return 0, nil, p.corrupt("bad membership count")
	}
	if err := readFrame(p.r, &p.buf); err != nil {
		return 0, nil, p.corrupt(fmt.Sprintf("bad record: %v", unexpectedEOF(err)))
	}
	p.n++
	return int(kept), p.buf, nil
}

// each calls fn for every record left, in order, with its number, its membership count and its
// body (valid during the call). It checks ctx every emitCheckEvery records.
func (p *payloadReader) each(ctx context.Context, fn func(n, kept int, body []byte) error) error {
	for {
		if p.n%emitCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		kept, body, err := p.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(p.n-1, kept, body); err != nil {
			return err
		}
	}
}

// corrupt returns an error saying why the file is not what this run wrote.
func (p *payloadReader) corrupt(why string) error {
	return fmt.Errorf("read payload file: %s: %s after %d records", p.path, why, p.n)
}

func (p *payloadReader) close() { p.f.Close() }

// writeMember writes a member row and, when the hash file has one for its user (record n of the
// payload file), its password (built in pw).
func (t *run) writeMember(out *outputs, n int, m *schemas.Member, pl *payload, pw *schemas.MemberPassword) error {
	e, err := t.pws.lookup(n, pl.userID, pl.email)
	if err != nil {
		return err
	}
	if e != nil {
		m.HasPassword = true
		*pw = e.pw
		pw.OrgKey, pw.SourceUserID, pw.EmailAddress, pw.ExternalID, pw.EmailVerified =
			m.OrgKey, pl.userID, pl.email, pl.extID, pl.verified
		out.passwords++
		if err := out.pws.Append(pw); err != nil {
			return err
		}
	}
	t.ledger.members.add(m.SourceUserID, m.OrgKey)
	return out.members.Append(m)
}
