package schemas

import (
	"bytes"
	"hash/maphash"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
)

// column maps one Arrow field to one field of the row type T. Binding happens once per writer or
// once per record batch (reader), so the per-row work is a plain function call with no type
// assertions.
type column[T any] struct {
	field arrow.Field
	// leaves describes the Parquet leaf columns the field is stored as, in schema order.
	leaves []leafShape
	// put binds the writer's buffers of the field's leaves and returns the per-row appender. rep
	// is the repetition level of the value: 0 for a row's own fields, 0 or 1 for the fields of a
	// list's structs.
	put func(ls []*leaf) func(row *T, rep int16)
	// get binds an array of the field's type and returns the per-row decoder.
	get func(a arrow.Array) func(i int, row *T)
	// dict asks for Parquet dictionary encoding: worth it for columns with few distinct values
	// (status, reason, org key), a waste of hashing for ids, emails and metadata. The writer
	// builds the dictionary itself (see leaf.putEnum).
	dict bool
}

// leafShape is what a column expects of one of its Parquet leaf columns; the writer checks it
// against the Parquet schema that pqarrow derives from the Arrow schema.
type leafShape struct {
	typ            parquet.Type
	maxDef, maxRep int16
}

// flatShape is the shape of a top-level primitive column.
func flatShape(typ parquet.Type, optional bool) []leafShape {
	s := leafShape{typ: typ}
	if optional {
		s.maxDef = 1
	}
	return []leafShape{s}
}

// Definition levels of a list column's leaves (an optional list of optional elements): a null
// list, an empty list, and a present element. A present element's own fields add one more level
// when they are optional.
const (
	defNullList  = 0
	defEmptyList = 1
	defElement   = 3
)

// enumCol maps a string field with few distinct values; it is dictionary-encoded, except in row
// groups where it has more than maxDictEntries distinct values.
func enumCol[T any](name string, optional bool, at func(*T) *string) column[T] {
	c := stringCol(name, optional, at)
	c.dict = true
	c.put = func(ls []*leaf) func(*T, int16) {
		l := ls[0]
		if !l.dictionary {
			return stringPut(l, optional, at)
		}
		return func(row *T, _ int16) {
			if s := *at(row); optional && s == "" {
				l.putEnumNull()
			} else {
				l.putEnum(s)
			}
		}
	}
	return c
}

// utcMicros is the timestamp type of every time column: microseconds, UTC.
var utcMicros = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// stringCol maps a string field. When optional, the empty string is written as null.
func stringCol[T any](name string, optional bool, at func(*T) *string) column[T] {
	return column[T]{
		field:  arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: optional},
		leaves: flatShape(parquet.Types.ByteArray, optional),
		put:    func(ls []*leaf) func(*T, int16) { return stringPut(ls[0], optional, at) },
		get: func(a arrow.Array) func(int, *T) {
			value := stringValues(a.(*array.String))
			return func(i int, row *T) { *at(row) = value(i) }
		},
	}
}

// stringPut returns the appender of a string field to leaf l.
func stringPut[T any](l *leaf, optional bool, at func(*T) *string) func(*T, int16) {
	return func(row *T, rep int16) {
		if s := *at(row); optional && s == "" {
			l.putNull(rep)
		} else {
			l.putString(s, rep)
		}
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
	return intCol(name, arrow.PrimitiveTypes.Int64, parquet.Types.Int64, (*leaf).putInt64, optional, at)
}

// int32Col maps an int32 field; when optional, zero is written as null.
func int32Col[T any](name string, optional bool, at func(*T) *int32) column[T] {
	return intCol(name, arrow.PrimitiveTypes.Int32, parquet.Types.Int32, (*leaf).putInt32, optional, at)
}

// intArray is what Arrow's arrays of int32 and int64 have in common.
type intArray[N int32 | int64] interface {
	IsNull(i int) bool
	Value(i int) N
}

// intCol maps an integer field of Arrow type dt and Parquet type typ (Int32 or Int64, matching
// N), whose values putValue appends to a leaf; when optional, zero is written as null.
func intCol[T any, N int32 | int64](name string, dt arrow.DataType, typ parquet.Type, putValue func(*leaf, N, int16), optional bool, at func(*T) *N) column[T] {
	return column[T]{
		field:  arrow.Field{Name: name, Type: dt, Nullable: optional},
		leaves: flatShape(typ, optional),
		put: func(ls []*leaf) func(*T, int16) {
			l := ls[0]
			return func(row *T, rep int16) {
				if v := *at(row); optional && v == 0 {
					l.putNull(rep)
				} else {
					putValue(l, v, rep)
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
		field:  arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean},
		leaves: flatShape(parquet.Types.Boolean, false),
		put: func(ls []*leaf) func(*T, int16) {
			l := ls[0]
			return func(row *T, rep int16) { l.putBool(*at(row), rep) }
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
		field:  arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		leaves: flatShape(parquet.Types.Boolean, true),
		put: func(ls []*leaf) func(*T, int16) {
			l := ls[0]
			return func(row *T, rep int16) {
				if v := *at(row); v == nil {
					l.putNull(rep)
				} else {
					l.putBool(*v, rep)
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
		field:  arrow.Field{Name: name, Type: utcMicros, Nullable: true},
		leaves: flatShape(parquet.Types.Int64, true),
		put: func(ls []*leaf) func(*T, int16) {
			l := ls[0]
			return func(row *T, rep int16) {
				if t := *at(row); t.IsZero() {
					l.putNull(rep)
				} else {
					l.putInt64(t.UnixMicro(), rep)
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
		field:  arrow.Field{Name: name, Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		leaves: []leafShape{{typ: parquet.Types.ByteArray, maxDef: defElement, maxRep: 1}},
		put: func(ls []*leaf) func(*T, int16) {
			l := ls[0]
			return func(row *T, _ int16) {
				list := *at(row)
				switch {
				case list == nil:
					l.level(defNullList, 0)
				case len(list) == 0:
					l.level(defEmptyList, 0)
				default:
					l.putString(list[0], 0)
					for _, s := range list[1:] {
						l.putString(s, 1)
					}
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

// structListCol maps a []E field as a list of structs whose fields are the given columns of E,
// which must be primitive. A nil slice is a null list; the structs themselves are never null.
func structListCol[T, E any](name string, at func(*T) *[]E, fields ...column[E]) column[T] {
	arrowFields := make([]arrow.Field, len(fields))
	var shapes []leafShape
	for i, f := range fields {
		arrowFields[i] = f.field
		for _, s := range f.leaves {
			shapes = append(shapes, leafShape{typ: s.typ, maxDef: defElement + s.maxDef, maxRep: 1})
		}
	}
	return column[T]{
		field:  arrow.Field{Name: name, Type: arrow.ListOf(arrow.StructOf(arrowFields...)), Nullable: true},
		leaves: shapes,
		put: func(ls []*leaf) func(*T, int16) {
			puts := make([]func(*E, int16), len(fields))
			next := 0
			for k, f := range fields {
				puts[k] = f.put(ls[next : next+len(f.leaves)])
				next += len(f.leaves)
			}
			return func(row *T, _ int16) {
				list := *at(row)
				if len(list) == 0 {
					def := int16(defNullList)
					if list != nil {
						def = defEmptyList
					}
					for _, l := range ls {
						l.level(def, 0)
					}
					return
				}
				for j := range list {
					rep := int16(min(j, 1))
					for _, put := range puts {
						put(&list[j], rep)
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

// leaf gathers the values and levels of one Parquet leaf column for the writer. Most leaves hold
// the rows of one batch; a dictionary leaf holds a whole row group, because a column writer takes
// a chunk's dictionary only once.
type leaf struct {
	maxDef, maxRep int16
	def, rep       []int16
	data           []byte // byte-array values, back to back
	ends           []int  // end of each byte-array value in data
	i64            []int64
	i32            []int32
	bools          []bool

	// dictionary marks a top-level dictionary-encoded string leaf: its rows are gathered as
	// indices into a dictionary of the distinct values in order of first appearance, as
	// Parquet's own dictionary encoder would order them. When the dictionary outgrows
	// maxDictEntries or dictLimit bytes, the leaf turns plain for the rest of the row group.
	dictionary bool
	plain      bool
	dictLimit  int
	idx        []int32  // the index of each row's value; 0 for nulls
	dictData   []byte   // the distinct values, back to back
	dictOffs   []int32  // where each distinct value starts in dictData, and where the last ends
	slots      []uint64 // open-addressing hash table of the values: hash tag<<32 | index+1
	seed       maphash.Seed
	last       int32 // the index of the previous row's value; -1 for none
}

func (l *leaf) level(def, rep int16) {
	if l.maxDef > 0 {
		l.def = append(l.def, def)
	}
	if l.maxRep > 0 {
		l.rep = append(l.rep, rep)
	}
}

func (l *leaf) putNull(rep int16) { l.level(l.maxDef-1, rep) }

func (l *leaf) putString(s string, rep int16) {
	l.data = append(l.data, s...)
	l.ends = append(l.ends, len(l.data))
	l.level(l.maxDef, rep)
}

func (l *leaf) putInt64(v int64, rep int16) {
	l.i64 = append(l.i64, v)
	l.level(l.maxDef, rep)
}

func (l *leaf) putInt32(v int32, rep int16) {
	l.i32 = append(l.i32, v)
	l.level(l.maxDef, rep)
}

func (l *leaf) putBool(v bool, rep int16) {
	l.bools = append(l.bools, v)
	l.level(l.maxDef, rep)
}

// maxDictEntries is where a dictionary leaf gives up its dictionary for the rest of the row
// group. Beyond it the hash table outgrows the CPU caches and the lookups cost more than the
// dictionary saves: on BenchmarkWriteMembers (50K org keys in random order) a dictionary org_key
// column is 1.7 MB smaller (2% of the file) but costs about 0.5 CPU-s more per 1.23M rows.
const maxDictEntries = 16 << 10

// putEnum appends s to a dictionary leaf. A run of the same value skips the hash table.
func (l *leaf) putEnum(s string) {
	if l.plain {
		l.putString(s, 0)
		return
	}
	id := l.last
	if id < 0 || string(l.dictValue(id)) != s {
		id = l.lookup(s)
		l.last = id
	}
	l.idx = append(l.idx, id)
	l.level(l.maxDef, 0)
	if l.dictLen() > maxDictEntries || l.dictSize() >= l.dictLimit {
		l.toPlain()
	}
}

func (l *leaf) putEnumNull() {
	if l.plain {
		l.putNull(0)
		return
	}
	l.idx = append(l.idx, 0)
	l.level(l.maxDef-1, 0)
}

// toPlain turns a dictionary leaf plain: the values gathered so far are spelled out, and the
// leaf gathers values as a plain string leaf from now on.
func (l *leaf) toPlain() {
	for i, id := range l.idx {
		if l.maxDef == 0 || l.def[i] == l.maxDef {
			l.data = append(l.data, l.dictValue(id)...)
			l.ends = append(l.ends, len(l.data))
		}
	}
	l.idx = l.idx[:0]
	l.plain = true
}

func (l *leaf) dictLen() int              { return len(l.dictOffs) - 1 }
func (l *leaf) dictValue(id int32) []byte { return l.dictData[l.dictOffs[id]:l.dictOffs[id+1]] }

// dictSize is the size of the dictionary as a plain-encoded dictionary page.
func (l *leaf) dictSize() int { return len(l.dictData) + 4*l.dictLen() }

// lookup returns the dictionary index of s, adding s to the dictionary when it is new. The table
// is kept at most half full; its slots hold the upper half of each value's hash, so that only a
// probable match is compared byte by byte.
func (l *leaf) lookup(s string) int32 {
	h := maphash.String(l.seed, s)
	tag := h >> 32
	mask := uint64(len(l.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := l.slots[i]
		if e == 0 {
			id := int32(l.dictLen())
			l.dictData = append(l.dictData, s...)
			l.dictOffs = append(l.dictOffs, int32(len(l.dictData)))
			l.slots[i] = tag<<32 | uint64(id+1)
			if 2*l.dictLen() > len(l.slots) {
				l.rehash(2 * len(l.slots))
			}
			return id
		}
		if e>>32 == tag {
			if id := int32(uint32(e)) - 1; string(l.dictValue(id)) == s {
				return id
			}
		}
	}
}

// rehash rebuilds the hash table with n slots (a power of two).
func (l *leaf) rehash(n int) {
	if cap(l.slots) >= n {
		l.slots = l.slots[:n]
		clear(l.slots)
	} else {
		l.slots = make([]uint64, n)
	}
	mask := uint64(n - 1)
	for id := range int32(l.dictLen()) {
		h := maphash.Bytes(l.seed, l.dictValue(id))
		i := h & mask
		for l.slots[i] != 0 {
			i = (i + 1) & mask
		}
		l.slots[i] = h>>32<<32 | uint64(id+1)
	}
}

// dictMinMax returns the smallest and the largest value of the dictionary, in byte order.
func (l *leaf) dictMinMax() (lo, hi []byte) {
	lo, hi = l.dictValue(0), l.dictValue(0)
	for id := range int32(l.dictLen()) {
		v := l.dictValue(id)
		if bytes.Compare(v, lo) < 0 {
			lo = v
		}
		if bytes.Compare(v, hi) > 0 {
			hi = v
		}
	}
	return lo, hi
}

// levels returns the leaf's definition and repetition levels, nil where the column has none.
func (l *leaf) levels() (def, rep []int16) {
	if l.maxDef > 0 {
		def = l.def
	}
	if l.maxRep > 0 {
		rep = l.rep
	}
	return def, rep
}

// byteArrays slices data into the values the column writer takes, appending them to vals[:0].
func (l *leaf) byteArrays(vals []parquet.ByteArray) []parquet.ByteArray {
	if l.data == nil {
		l.data = []byte{} // a nil value would be no value to the statistics
	}
	vals = vals[:0]
	start := 0
	for _, end := range l.ends {
		vals = append(vals, l.data[start:end:end])
		start = end
	}
	return vals
}

// denseValues spells out a dictionary leaf's non-null values, appending them to vals[:0].
func (l *leaf) denseValues(vals []parquet.ByteArray) []parquet.ByteArray {
	vals = vals[:0]
	for i, id := range l.idx {
		if l.maxDef == 0 || l.def[i] == l.maxDef {
			vals = append(vals, l.dictValue(id))
		}
	}
	return vals
}

// levelCount is the number of levels (rows, or values in lists) gathered.
func (l *leaf) levelCount() int {
	switch {
	case l.maxDef > 0:
		return len(l.def)
	case l.dictionary && !l.plain:
		return len(l.idx)
	}
	return len(l.ends) + len(l.i64) + len(l.i32) + len(l.bools)
}

// cost estimates the work of encoding the leaf, to start the largest ones first.
func (l *leaf) cost() int {
	return len(l.data) + 8*len(l.i64) + 4*len(l.i32) + len(l.bools) + 2*len(l.idx) + 2*len(l.def) + 2*len(l.rep)
}

// reset empties the leaf, keeping its memory.
func (l *leaf) reset() {
	l.def, l.rep, l.data, l.ends = l.def[:0], l.rep[:0], l.data[:0], l.ends[:0]
	l.i64, l.i32, l.bools = l.i64[:0], l.i32[:0], l.bools[:0]
	if l.dictionary {
		l.plain = false
		if l.dictData == nil {
			l.dictData = []byte{} // as in byteArrays
		}
		l.idx, l.dictData, l.dictOffs, l.last = l.idx[:0], l.dictData[:0], append(l.dictOffs[:0], 0), -1
		l.seed = maphash.MakeSeed()
		l.rehash(64)
	}
}
