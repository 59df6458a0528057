package transform

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// emitCheckEvery is how many payload records emit reads between checks of its context.
const emitCheckEvery = 1 << 14

// emit reads the payload file back, in input order, with the organizations file side by side,
// and writes a member row (and its password, if any) for every membership deduplication kept.
// Rows are appended in the same order to members.parquet and member_passwords.parquet, so the
// load stage can read both files side by side.
func (t *run) emit(ctx context.Context, out *outputs, dec *decisions) error {
	f, r, err := t.store.payloads.open()
	if err != nil {
		return fmt.Errorf("read payload file: %w", err)
	}
	defer f.Close()
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
		buf, scratch []byte
		pl           payload
		gid          int
		// One member and one password row, reused: the writers copy what they are given.
		m  schemas.Member
		pw schemas.MemberPassword
	)
	corrupt := func(why string) error {
		return fmt.Errorf("read payload file: %s: %s after %d memberships", t.store.payloads.path, why, gid)
	}
	for n := 0; ; n++ {
		if n%emitCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		kept, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read payload file: %w", err)
		}
		size, err := binary.ReadUvarint(r)
		if err != nil || size > 1<<30 {
			return corrupt("bad record length")
		}
		buf = slices.Grow(buf[:0], int(size))[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return corrupt("truncated record")
		}
		scratch = scratch[:0]
		decodeRecordBody(buf, &pl, &scratch)
		for range kept {
			if gid >= count {
				return corrupt("more memberships than were read")
			}
			org, err := binary.ReadUvarint(orgs)
			if err != nil || org >= uint64(dict.len()) {
				return fmt.Errorf("read organizations file: %s: bad organization after %d memberships", t.store.orgs.path, gid)
			}
			switch o := dec.outcome[gid]; {
			case o >= outSurvivor:
				merged := cursor.lookup(uint32(gid), &scratch)
				fillMember(&m, dict.key(uint32(org)), &pl, merged, survivorRules[o-outSurvivor], empty)
				if err := t.writeMember(out, &m, &pl, &pw); err != nil {
					return err
				}
			case o == outUndecided:
				return fmt.Errorf("plan members: membership %d of user %s was never decided (a bug in this tool)", gid, pl.userID)
			}
			gid++
		}
	}
	if gid != count {
		return corrupt("fewer memberships than were read")
	}
	return nil
}

// writeMember writes a member row and, when the hash file has one for its user, its password
// (built in pw).
func (t *run) writeMember(out *outputs, m *schemas.Member, pl *payload, pw *schemas.MemberPassword) error {
	if e := t.pws.lookup(pl.userID, pl.email); e != nil {
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
