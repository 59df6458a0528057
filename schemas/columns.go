package schemas

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// column maps one Arrow field to one field of the row type T. Binding happens once per builder
// (writer) or once per record batch (reader), so the per-row work is a plain function call with no
// type assertions.
type column[T any] struct {
	field arrow.Field
	// put binds a builder of the field's type and returns the per-row appender.
	put func(b array.Builder) func(row *T)
	// get binds an array of the field's type and returns the per-row decoder.
	get func(a arrow.Array) func(i int, row *T)
	// dict asks for Parquet dictionary encoding: worth it for columns with few distinct values
	// (status, reason, org key), a waste of hashing for ids, emails and metadata.
	dict bool
}

// enumCol maps a string field with few distinct values; it is dictionary-encoded.
func enumCol[T any](name string, optional bool, at func(*T) *string) column[T] {
	c := stringCol(name, optional, at)
	c.dict = true
	return c
}

// utcMicros is the timestamp type of every time column: microseconds, UTC.
var utcMicros = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// stringCol maps a string field. When optional, the empty string is written as null.
func stringCol[T any](name string, optional bool, at func(*T) *string) column[T] {
	return column[T]{
		field: arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: optional},
		put: func(b array.Builder) func(*T) {
			sb := b.(*array.StringBuilder)
			return func(row *T) {
				if s := *at(row); optional && s == "" {
					sb.AppendNull()
				} else {
					sb.Append(s)
				}
			}
		},
		get: func(a arrow.Array) func(int, *T) {
			value := stringValues(a.(*array.String))
			return func(i int, row *T) { *at(row) = value(i) }
		},
	}
}

// stringValues copies a string array's character data into one Go string and returns an accessor
// that slices it: one allocation per batch and column instead of one per value, and the strings
// stay valid after the batch is released. Null values read as "".
func stringValues(sa *array.String) func(i int) string {
	offsets := sa.ValueOffsets()
	data := string(sa.ValueBytes())
	base := offsets[0]
	return func(i int) string {
		if sa.IsNull(i) {
			return ""
		}
		return data[offsets[i]-base : offsets[i+1]-base]
	}
}

// int64Col maps an int64 field; when optional, zero is written as null.
func int64Col[T any](name string, optional bool, at func(*T) *int64) column[T] {
	return intCol(name, arrow.PrimitiveTypes.Int64, optional, at)
}

// int32Col maps an int32 field; when optional, zero is written as null.
func int32Col[T any](name string, optional bool, at func(*T) *int32) column[T] {
	return intCol(name, arrow.PrimitiveTypes.Int32, optional, at)
}

// intBuilder and intArray are what Arrow's builders and arrays of int32 and int64 have in common.
type (
	intBuilder[N int32 | int64] interface {
		Append(v N)
		AppendNull()
	}
	intArray[N int32 | int64] interface {
		IsNull(i int) bool
		Value(i int) N
	}
)

// intCol maps an integer field of Arrow type dt (Int32 or Int64, matching N); when optional,
// zero is written as null.
func intCol[T any, N int32 | int64](name string, dt arrow.DataType, optional bool, at func(*T) *N) column[T] {
	return column[T]{
		field: arrow.Field{Name: name, Type: dt, Nullable: optional},
		put: func(b array.Builder) func(*T) {
			ib := b.(intBuilder[N])
			return func(row *T) {
				if v := *at(row); optional && v == 0 {
					ib.AppendNull()
				} else {
					ib.Append(v)
				}
			}
		},
		get: func(a arrow.Array) func(int, *T) {
			ia := a.(intArray[N])
			return func(i int, row *T) {
				if ia.IsNull(i) {
					*at(row) = 0
				} else {
					*at(row) = ia.Value(i)
				}
			}
		},
	}
}

// boolCol maps a bool field; it is never null.
func boolCol[T any](name string, at func(*T) *bool) column[T] {
	return column[T]{
		field: arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean},
		put: func(b array.Builder) func(*T) {
			bb := b.(*array.BooleanBuilder)
			return func(row *T) { bb.Append(*at(row)) }
		},
		get: func(a arrow.Array) func(int, *T) {
			ba := a.(*array.Boolean)
			return func(i int, row *T) { *at(row) = ba.Value(i) }
		},
	}
}

// optBoolCol maps a *bool field; nil is written as null.
func optBoolCol[T any](name string, at func(*T) **bool) column[T] {
	return column[T]{
		field: arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		put: func(b array.Builder) func(*T) {
			bb := b.(*array.BooleanBuilder)
			return func(row *T) {
				if v := *at(row); v == nil {
					bb.AppendNull()
				} else {
					bb.Append(*v)
				}
			}
		},
		get: func(a arrow.Array) func(int, *T) {
			ba := a.(*array.Boolean)
			return func(i int, row *T) {
				if ba.IsNull(i) {
					*at(row) = nil
				} else {
					v := ba.Value(i)
					*at(row) = &v
				}
			}
		},
	}
}

// timeCol maps a time.Time field as a UTC microsecond timestamp; the zero time is written as null
// and read back as the zero time.
func timeCol[T any](name string, at func(*T) *time.Time) column[T] {
	return column[T]{
		field: arrow.Field{Name: name, Type: utcMicros, Nullable: true},
		put: func(b array.Builder) func(*T) {
			tb := b.(*array.TimestampBuilder)
			return func(row *T) {
				if t := *at(row); t.IsZero() {
					tb.AppendNull()
				} else {
					tb.Append(arrow.Timestamp(t.UnixMicro()))
				}
			}
		},
		get: func(a arrow.Array) func(int, *T) {
			ta := a.(*array.Timestamp)
			return func(i int, row *T) {
				if ta.IsNull(i) {
					*at(row) = time.Time{}
				} else {
					*at(row) = time.UnixMicro(int64(ta.Value(i))).UTC()
				}
			}
		},
	}
}

// stringListCol maps a []string field as a list of non-null strings; a nil slice is a null list.
func stringListCol[T any](name string, at func(*T) *[]string) column[T] {
	return column[T]{
		field: arrow.Field{Name: name, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		put: func(b array.Builder) func(*T) {
			lb := b.(*array.ListBuilder)
			vb := lb.ValueBuilder().(*array.StringBuilder)
			return func(row *T) {
				list := *at(row)
				if list == nil {
					lb.AppendNull()
					return
				}
				lb.Append(true)
				for _, s := range list {
					vb.Append(s)
				}
			}
		},
		get: func(a arrow.Array) func(int, *T) {
			la := a.(*array.List)
			value := stringValues(la.ListValues().(*array.String))
			return func(i int, row *T) {
				if la.IsNull(i) {
					*at(row) = nil
					return
				}
				start, end := la.ValueOffsets(i)
				list := make([]string, end-start)
				for j := range list {
					list[j] = value(int(start) + j)
				}
				*at(row) = list
			}
		},
	}
}

// structListCol maps a []E field as a list of structs whose fields are the given columns of E.
// A nil slice is a null list; the structs themselves are never null.
func structListCol[T, E any](name string, at func(*T) *[]E, fields ...column[E]) column[T] {
	arrowFields := make([]arrow.Field, len(fields))
	for i, f := range fields {
		arrowFields[i] = f.field
	}
	return column[T]{
		field: arrow.Field{Name: name, Type: arrow.ListOf(arrow.StructOf(arrowFields...)), Nullable: true},
		put: func(b array.Builder) func(*T) {
			lb := b.(*array.ListBuilder)
			sb := lb.ValueBuilder().(*array.StructBuilder)
			puts := make([]func(*E), len(fields))
			for k, f := range fields {
				puts[k] = f.put(sb.FieldBuilder(k))
			}
			return func(row *T) {
				list := *at(row)
				if list == nil {
					lb.AppendNull()
					return
				}
				lb.Append(true)
				for j := range list {
					sb.Append(true)
					for _, put := range puts {
						put(&list[j])
					}
				}
			}
		},
		get: func(a arrow.Array) func(int, *T) {
			la := a.(*array.List)
			sa := la.ListValues().(*array.Struct)
			gets := make([]func(int, *E), len(fields))
			for k, f := range fields {
				gets[k] = f.get(sa.Field(k))
			}
			return func(i int, row *T) {
				if la.IsNull(i) {
					*at(row) = nil
					return
				}
				start, end := la.ValueOffsets(i)
				list := make([]E, end-start)
				for j := range list {
					for _, get := range gets {
						get(int(start)+j, &list[j])
					}
				}
				*at(row) = list
			}
		},
	}
}
