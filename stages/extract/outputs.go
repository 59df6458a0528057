package extract

import (
	"fmt"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Permissions of the files the stage writes.
const filePerm = 0o644

// outputs are one users file and its bad-records file, written under temporary names until
// commit.
type outputs struct {
	usersFile *pipeline.AtomicFile
	users     *schemas.Writer[schemas.User]
	badFile   *pipeline.AtomicFile
	bad       *schemas.Writer[schemas.BadRecord]
}

// newOutputs starts writing usersPath and badPath. Call abort on every path that does not commit.
func newOutputs(usersPath, badPath string, meta schemas.FileMeta, opts []schemas.WriterOption) (_ *outputs, err error) {
	o := &outputs{}
	defer func() {
		if err != nil {
			o.abort()
		}
	}()
	if o.usersFile, err = pipeline.CreateAtomic(usersPath, filePerm); err != nil {
		return nil, err
	}
	if o.users, err = schemas.NewWriter(o.usersFile, schemas.Users, meta, opts...); err != nil {
		return nil, err
	}
	if o.badFile, err = pipeline.CreateAtomic(badPath, filePerm); err != nil {
		return nil, err
	}
	if o.bad, err = schemas.NewWriter(o.badFile, schemas.BadRecords, meta, opts...); err != nil {
		return nil, err
	}
	return o, nil
}

// commit finishes both files and renames them into place, bad records first, so a users file
// never appears without its bad-records file.
func (o *outputs) commit() error {
	if err := o.users.Close(); err != nil {
		return err
	}
	if err := o.bad.Close(); err != nil {
		return err
	}
	if err := o.badFile.Commit(); err != nil {
		return err
	}
	return o.usersFile.Commit()
}

// abort drops both files; it is a no-op after commit.
func (o *outputs) abort() {
	if o.users != nil {
		_ = o.users.Close()
	}
	if o.bad != nil {
		_ = o.bad.Close()
	}
	if o.usersFile != nil {
		_ = o.usersFile.Abort()
	}
	if o.badFile != nil {
		_ = o.badFile.Abort()
	}
}

// checker applies the record rules in source order: duplicate user ids and the bad-record policy.
// It writes good users and quarantined records to its current outputs. It is not safe for
// concurrent use.
type checker struct {
	file       string
	quarantine bool
	seen       *idSet
	out        *outputs
	users      int64
	bad        int64
	newest     time.Time
}

func newChecker(file string, quarantine bool) *checker {
	return &checker{file: file, quarantine: quarantine, seen: newIDSet()}
}

// user takes one well-formed user, whose id packs to key (packID). A user id seen before makes
// the record bad (the first occurrence is kept).
func (c *checker) user(u *schemas.User, key idKey, raw []byte) error {
	if !c.seen.addKey(u.UserID, key) {
		return c.reject(&RecordError{File: c.file, Line: u.SourcePosition, Field: "user_id",
			Msg: fmt.Sprintf("duplicate %q (its first occurrence is kept)", u.UserID)}, u.SourcePosition, raw)
	}
	if err := c.out.users.Append(u); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	c.users++
	if u.CreatedAt.After(c.newest) {
		c.newest = u.CreatedAt
	}
	return nil
}

// reject takes one malformed record at position pos: it stops the stage, or is quarantined.
func (c *checker) reject(e *RecordError, pos int64, raw []byte) error {
	if !c.quarantine {
		return e
	}
	row := schemas.BadRecord{SourceFile: e.File, SourcePosition: pos, Field: e.Field, Error: e.Error(), Raw: string(raw)}
	if err := c.out.bad.Append(&row); err != nil {
		return fmt.Errorf("write bad records: %w", err)
	}
	c.bad++
	return nil
}
