package inspect

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// nullText shows a null value in the table.
const nullText = "NULL"

// row is one row's values, one JSON-ready value per top-level field.
type row []any

// readRows reads the first limit rows, converting them to plain Go values so no Arrow memory
// outlives the call. Only the row groups that hold those rows are read.
func readRows(ctx context.Context, fr *pqarrow.FileReader, sc *arrow.Schema, limit int) (rows []row, err error) {
	if limit <= 0 || fr.ParquetReader().NumRows() == 0 {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			rows, err = nil, fmt.Errorf("corrupt data: %v", r)
		}
	}()
	var groups []int
	var covered int64
	for i := 0; i < fr.ParquetReader().NumRowGroups() && covered < int64(limit); i++ {
		groups = append(groups, i)
		covered += fr.ParquetReader().MetaData().RowGroup(i).NumRows()
	}
	rr, err := fr.GetRecordReader(ctx, nil, groups)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	for len(rows) < limit && rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		n := min(int(rec.NumRows()), limit-len(rows))
		for i := range n {
			r := make(row, rec.NumCols())
			for c := range r {
				r[c] = rec.Column(c).GetOneForMarshal(i)
			}
			rows = append(rows, r)
		}
	}
	if err := rr.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// marshalRow encodes a row as a JSON object with the fields in schema order.
func marshalRow(sc *arrow.Schema, r row) ([]byte, error) {
	buf := []byte{'{'}
	for i, f := range sc.Fields() {
		if i > 0 {
			buf = append(buf, ',')
		}
		key, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(r[i])
		if err != nil {
			return nil, fmt.Errorf("encode field %s: %w", f.Name, err)
		}
		buf = append(append(append(buf, key...), ':'), val...)
	}
	return append(buf, '}'), nil
}

// cellText renders a value for the table: strings as they are, null as "NULL", everything
// else (numbers, lists, structs) as JSON.
func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return nullText
	case string:
		return v
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(data)
}
