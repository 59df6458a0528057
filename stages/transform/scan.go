package transform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// userColumns decodes the columns of a users record batch the transform needs into a
// schemas.User, without touching the others (providers, WebAuthn, TOTP, wallets, roles...).
// Decoded strings alias the batch's memory: they are valid until the batch is released.
type userColumns struct {
	userID, externalID, status, first, middle, last *array.String
	trusted, untrusted                              *array.String
	created                                         *array.Timestamp
	position                                        *array.Int64
	emails                                          emailColumns
	phones                                          *array.List
	phoneNum                                        *array.String
	phoneVerified                                   *array.Boolean
}

// bindUserColumns finds the needed columns of rec by name.
func bindUserColumns(rec arrow.RecordBatch) (*userColumns, error) {
	b := batchColumns{rec: rec}
	c := userColumns{
		userID: b.str("user_id"), externalID: b.str("external_id"), status: b.str("status"),
		first: b.str("first_name"), middle: b.str("middle_name"), last: b.str("last_name"),
		trusted: b.str("trusted_metadata"), untrusted: b.str("untrusted_metadata"),
		emails: b.emails(),
	}
	if a := b.col("created_at"); a != nil {
		c.created = a.(*array.Timestamp)
	}
	if a := b.col("source_position"); a != nil {
		c.position = a.(*array.Int64)
	}
	if a := b.col("phone_numbers"); a != nil {
		c.phones = a.(*array.List)
		if num, verified := b.field(c.phones, "phone_number"), b.field(c.phones, "verified"); num != nil && verified != nil {
			c.phoneNum, c.phoneVerified = num.(*array.String), verified.(*array.Boolean)
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	return &c, nil
}

// batchColumns finds the columns of a users record batch by name, keeping the first one it
// could not find as err.
type batchColumns struct {
	rec arrow.RecordBatch
	err error
}

// col returns column name, or nil when the batch has none.
func (b *batchColumns) col(name string) arrow.Array {
	idx := b.rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		b.fail(fmt.Errorf("users file has no %s column", name))
		return nil
	}
	return b.rec.Column(idx[0])
}

// str returns string column name, or nil when the batch has none.
func (b *batchColumns) str(name string) *array.String {
	if a := b.col(name); a != nil {
		return a.(*array.String)
	}
	return nil
}

// field returns field name of the structs in list l, or nil when they have none.
func (b *batchColumns) field(l *array.List, name string) arrow.Array {
	s := l.ListValues().(*array.Struct)
	i, ok := s.DataType().(*arrow.StructType).FieldIdx(name)
	if !ok {
		b.fail(fmt.Errorf("users file has no %s field in %s", name, l.DataType()))
		return nil
	}
	return s.Field(i)
}

// emails returns the emails column and the fields of it the transform reads.
func (b *batchColumns) emails() emailColumns {
	var e emailColumns
	if a := b.col("emails"); a != nil {
		e.list = a.(*array.List)
		if addr, verified := b.field(e.list, "email"), b.field(e.list, "verified"); addr != nil && verified != nil {
			e.addr, e.verified = addr.(*array.String), verified.(*array.Boolean)
		}
	}
	return e
}

func (b *batchColumns) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// emailColumns are the emails of a users record batch: the list, and the address and verified
// flag of its entries.
type emailColumns struct {
	list     *array.List
	addr     *array.String
	verified *array.Boolean
}

// appendTo appends the emails of row i to dst.
func (e *emailColumns) appendTo(dst []schemas.Email, i int) []schemas.Email {
	if e.list.IsNull(i) {
		return dst
	}
	start, end := e.list.ValueOffsets(i)
	for j := int(start); j < int(end); j++ {
		dst = append(dst, schemas.Email{Email: str(e.addr, j), Verified: e.verified.Value(j)})
	}
	return dst
}

// str returns value i of a string array, "" for null.
func str(a *array.String, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}

// row decodes row i into u, reusing u's slices.
func (c *userColumns) row(i int, u *schemas.User) {
	u.UserID = str(c.userID, i)
	u.ExternalID = str(c.externalID, i)
	u.Status = str(c.status, i)
	u.FirstName, u.MiddleName, u.LastName = str(c.first, i), str(c.middle, i), str(c.last, i)
	u.TrustedMetadata, u.UntrustedMetadata = str(c.trusted, i), str(c.untrusted, i)
	u.CreatedAt = time.Time{}
	if !c.created.IsNull(i) {
		u.CreatedAt = time.UnixMicro(int64(c.created.Value(i)))
	}
	u.SourcePosition = c.position.Value(i)
	u.Emails = c.emails.appendTo(u.Emails[:0], i)
	u.PhoneNumbers = u.PhoneNumbers[:0]
	if !c.phones.IsNull(i) {
		start, end := c.phones.ValueOffsets(i)
		for j := int(start); j < int(end); j++ {
			u.PhoneNumbers = append(u.PhoneNumbers, schemas.PhoneNumber{PhoneNumber: str(c.phoneNum, j), Verified: c.phoneVerified.Value(j)})
		}
	}
}

// neededLeaves are the users file's leaf columns the transform reads, by dotted path without
// the list levels; every other column (providers, WebAuthn, TOTPs, wallets, roles, ids of
// emails and phones...) is never decoded.
var neededLeaves = map[string]bool{
	"user_id": true, "external_id": true, "status": true, "created_at": true,
	"first_name": true, "middle_name": true, "last_name": true,
	"emails.email": true, "emails.verified": true,
	"phone_numbers.phone_number": true, "phone_numbers.verified": true,
	"trusted_metadata": true, "untrusted_metadata": true, "source_position": true,
}

// usersReadBuffer is the read buffer of each column of the users file.
const usersReadBuffer = 1 << 20

// usersReader streams the needed columns of a users file, decoding columns in parallel.
type usersReader struct {
	pf   *file.Reader
	rr   pqarrow.RecordReader
	rows int64
}

// openUsers checks that path is a users file of the version this tool reads (through
// schemas.Open), then opens it again reading only the needed columns (neededLeaves).
func openUsers(ctx context.Context, path string, alloc memory.Allocator) (*usersReader, error) {
	return openUserLeaves(ctx, path, alloc, neededLeaves, schemas.DefaultReadBatchRows)
}

// openUserLeaves is openUsers reading only the given leaves (dotted paths without the list
// levels), in record batches of batchRows rows.
func openUserLeaves(ctx context.Context, path string, alloc memory.Allocator, needed map[string]bool, batchRows int) (*usersReader, error) {
	check, err := schemas.Open(path, schemas.Users, schemas.WithReaderAllocator(alloc))
	if err != nil {
		return nil, err
	}
	rows := check.Info().Rows
	check.Close()
	props := parquet.NewReaderProperties(alloc)
	props.BufferedStreamEnabled = true // read pages as needed, not whole column chunks
	props.BufferSize = usersReadBuffer
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batchRows), Parallel: true}, alloc)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc := pf.MetaData().Schema
	var leaves []int
	for i := range sc.NumColumns() {
		var parts []string
		for _, p := range sc.Column(i).ColumnPath() {
			if p != "list" && p != "element" && p != "item" {
				parts = append(parts, p)
			}
		}
		if needed[strings.Join(parts, ".")] {
			leaves = append(leaves, i)
		}
	}
	rr, err := fr.GetRecordReader(ctx, leaves, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &usersReader{pf: pf, rr: rr, rows: rows}, nil
}

// Close releases the reader.
func (u *usersReader) Close() {
	u.rr.Release()
	u.pf.Close()
}
