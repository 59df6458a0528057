package parquettest

import (
	"fmt"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Schema is the Arrow schema of the files Write makes: an id, a nullable name, a list of email
// structs and a flag.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "emails", Type: arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "email", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "verified", Type: arrow.FixedWidthTypes.Boolean},
	)), Nullable: true},
	{Name: "age", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// Options shape the file Write makes.
type Options struct {
	// Rows is the number of rows.
	Rows int
	// RowGroupRows caps the rows per row group; 0 means one row group.
	RowGroupRows int64
	// KeyValue is written as the file's key-value metadata.
	KeyValue map[string]string
}

// Write writes a Parquet file at path with o.Rows deterministic rows, allocating through mem.
// Row i has user_id "user-<i>", name "Zoë <i>" (null when i%3 == 2), emails with i%3 entries
// (null when i%5 == 4) and age i (null when i%4 == 3).
func Write(t testing.TB, path string, mem memory.Allocator, o Options) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := arrow.MetadataFrom(o.KeyValue)
	sc := arrow.NewSchema(Schema.Fields(), &kv)
	rowGroupRows := o.RowGroupRows
	if rowGroupRows <= 0 {
		rowGroupRows = max(int64(o.Rows), 1)
	}
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem),
		parquet.WithMaxRowGroupLength(rowGroupRows))
	w, err := pqarrow.NewFileWriter(sc, f, props, pqarrow.NewArrowWriterProperties(
		pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	rec := record(mem, sc, o.Rows)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// record builds the rows Write documents.
func record(mem memory.Allocator, sc *arrow.Schema, rows int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	ids := b.Field(0).(*array.StringBuilder)
	names := b.Field(1).(*array.StringBuilder)
	emails := b.Field(2).(*array.ListBuilder)
	email := emails.ValueBuilder().(*array.StructBuilder)
	addr := email.FieldBuilder(0).(*array.StringBuilder)
	verified := email.FieldBuilder(1).(*array.BooleanBuilder)
	ages := b.Field(3).(*array.Int64Builder)
	for i := range rows {
		ids.Append(fmt.Sprintf("user-%d", i))
		if i%3 == 2 {
			names.AppendNull()
		} else {
			names.Append(fmt.Sprintf("Zoë %d", i))
		}
		if i%5 == 4 {
			emails.AppendNull()
		} else {
			emails.Append(true)
			for j := range i % 3 {
				email.Append(true)
				addr.Append(fmt.Sprintf("u%d.%d@example.com", i, j))
				verified.Append(j == 0)
			}
		}
		if i%4 == 3 {
			ages.AppendNull()
		} else {
			ages.Append(int64(i))
		}
	}
	return b.NewRecordBatch()
}
