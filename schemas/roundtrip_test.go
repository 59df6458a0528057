package schemas

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/xitongsys/parquet-go-source/local"
	"github.com/xitongsys/parquet-go/reader"
)

// alphabet mixes ASCII, Latin accents, CJK, emoji and JSON punctuation, so that round trips cover
// multi-byte UTF-8 and characters that need escaping.
var alphabet = []rune(`abcXYZ019 .-_@"\{}:,éüßøñ漢字日本語🙂👩‍💻`)

// filler fills any row type with random values by reflection: strings (sometimes empty, sometimes
// 10 KB), numbers, bools, optional bools, UTC microsecond times (sometimes zero), and slices that
// are nil, empty or populated.
type filler struct{ rng *rand.Rand }

func (f filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if f.rng.IntN(4) > 0 {
				v.Set(reflect.ValueOf(time.UnixMicro(f.rng.Int64N(4_000_000_000_000_000)).UTC()))
			}
			return
		}
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	case reflect.String:
		v.SetString(f.str())
	case reflect.Int64, reflect.Int32:
		if f.rng.IntN(4) > 0 {
			v.SetInt(f.rng.Int64N(1<<31) - 1<<30)
		}
	case reflect.Bool:
		v.SetBool(f.rng.IntN(2) == 0)
	case reflect.Pointer:
		if f.rng.IntN(3) > 0 {
			p := reflect.New(v.Type().Elem())
			f.fill(p.Elem())
			v.Set(p)
		}
	case reflect.Slice:
		switch f.rng.IntN(4) {
		case 0: // nil: a null list
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + f.rng.IntN(3)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				f.fill(s.Index(i))
			}
			v.Set(s)
		}
	default:
		panic("filler: unsupported kind " + v.Kind().String())
	}
}

func (f filler) str() string {
	switch f.rng.IntN(10) {
	case 0:
		return ""
	case 1:
		return strings.Repeat(`{"k":"ü漢🙂"}`, 10*1024/16) // about 10 KB of metadata-like text
	}
	n := 1 + f.rng.IntN(24)
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[f.rng.IntN(len(alphabet))])
	}
	return b.String()
}

func randomRows[T any](seed uint64, n int) []T {
	f := filler{rng: rand.New(rand.NewPCG(seed, 7))}
	rows := make([]T, n)
	for i := range rows {
		f.fill(reflect.ValueOf(&rows[i]).Elem())
	}
	return rows
}

func writeRows[T any](t testing.TB, path string, spec *Spec[T], rows []T, opts ...WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, spec, FileMeta{ToolVersion: "test", RunID: "run-1"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.Append(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// roundTrip writes random rows of one spec, reads them back with our reader and with xitongsys'
// independent implementation, and checks that both see exactly what was written.
func roundTrip[T any](t *testing.T, spec *Spec[T]) {
	t.Run(spec.Name(), func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
		defer mem.AssertSize(t, 0)
		rows := randomRows[T](uint64(len(spec.Name())), 700)
		path := filepath.Join(t.TempDir(), spec.Name()+".parquet")
		// Small batches and row groups so the test crosses batch and row-group boundaries.
		writeRows(t, path, spec, rows, WithWriterAllocator(mem), WithBatchRows(64), WithRowGroupRows(250))

		got, err := ReadAll(path, spec, WithReaderAllocator(mem), WithReadBatchRows(100))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) {
			t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
		}
		for i := range rows {
			if !reflect.DeepEqual(rows[i], got[i]) {
				t.Fatalf("row %d differs:\nwrote %s\nread  %s", i, short(rows[i]), short(got[i]))
			}
		}

		info, err := ReadInfo(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Schema != spec.Name() || info.Version != spec.Version() || info.RunID != "run-1" || info.ToolVersion != "test" {
			t.Fatalf("footer metadata: %+v", info)
		}
		if info.Rows != 700 || info.RowGroups != 3 {
			t.Fatalf("rows %d in %d row groups, want 700 in 3", info.Rows, info.RowGroups)
		}

		compareWithIndependentReader(t, path, spec, mem)
	})
}

func TestRoundTripEverySchema(t *testing.T) {
	roundTrip(t, Users)
	roundTrip(t, BadRecords)
	roundTrip(t, Organizations)
	roundTrip(t, Members)
	roundTrip(t, MemberPasswords)
	roundTrip(t, Rejects)
	roundTrip(t, Duplicates)
	roundTrip(t, MappingUnmatched)
	roundTrip(t, Ledger)
	roundTrip(t, OrganizationResults)
	roundTrip(t, MemberResults)
	roundTrip(t, Drift)
	roundTrip(t, SpillMemberships)
	if got, want := len(All()), 13; got != want {
		t.Fatalf("All lists %d schemas, the round trip covers %d", got, want)
	}
}

// compareWithIndependentReader reads every leaf column with xitongsys/parquet-go and compares
// its values, in Parquet's flattened order, with the leaves of the batches our reader returns.
func compareWithIndependentReader[T any](t *testing.T, path string, spec *Spec[T], mem memory.Allocator) {
	t.Helper()
	want := make([][]any, 0)
	for _, f := range spec.Arrow().Fields() {
		for range countLeaves(f.Type) {
			want = append(want, nil)
		}
	}
	r, err := Open(path, spec, WithReaderAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.NextBatch() {
		rec := r.Batch()
		leaf := 0
		for c, f := range spec.Arrow().Fields() {
			for _, p := range leafPaths(f.Type, nil) {
				for i := range int(rec.NumRows()) {
					want[leaf] = append(want[leaf], leafValues(rec.Column(c), i, p)...)
				}
				leaf++
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}

	pf, err := local.NewLocalFileReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	xr, err := reader.NewParquetColumnReader(pf, 1)
	if err != nil {
		t.Fatalf("xitongsys cannot open our file: %v", err)
	}
	defer xr.ReadStop()
	rows := xr.GetNumRows()
	for leaf := range want {
		got, _, _, err := xr.ReadColumnByIndex(int64(leaf), rows)
		if err != nil {
			t.Fatalf("xitongsys leaf %d: %v", leaf, err)
		}
		if len(got) != len(want[leaf]) {
			t.Fatalf("leaf %d (%s): xitongsys read %d values, we have %d", leaf, xr.SchemaHandler.ValueColumns[leaf], len(got), len(want[leaf]))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[leaf][i]) {
				t.Fatalf("leaf %d (%s) value %d: xitongsys %s, we have %s", leaf, xr.SchemaHandler.ValueColumns[leaf], i, short(got[i]), short(want[leaf][i]))
			}
		}
	}
}

func countLeaves(dt arrow.DataType) int { return len(leafPaths(dt, nil)) }

// leafPaths lists the child-index paths from a column's type to each of its primitive leaves, in
// Parquet's depth-first order. A list contributes no index (its only child is the element).
func leafPaths(dt arrow.DataType, prefix []int) [][]int {
	switch t := dt.(type) {
	case *arrow.ListType:
		return leafPaths(t.Elem(), prefix)
	case *arrow.StructType:
		var out [][]int
		for k, f := range t.Fields() {
			out = append(out, leafPaths(f.Type, append(append([]int{}, prefix...), k))...)
		}
		return out
	default:
		return [][]int{prefix}
	}
}

// leafValues flattens row i of arr down one leaf path the way Parquet stores it: a null or empty
// list yields one nil, a populated list yields one value per element, a null value yields nil.
func leafValues(arr arrow.Array, i int, path []int) []any {
	switch a := arr.(type) {
	case *array.List:
		start, end := a.ValueOffsets(i)
		if a.IsNull(i) || start == end {
			return []any{nil}
		}
		var out []any
		for j := start; j < end; j++ {
			out = append(out, leafValues(a.ListValues(), int(j), path)...)
		}
		return out
	case *array.Struct:
		return leafValues(a.Field(path[0]), i, path[1:])
	}
	if arr.IsNull(i) {
		return []any{nil}
	}
	switch a := arr.(type) {
	case *array.String:
		return []any{a.Value(i)}
	case *array.Int64:
		return []any{a.Value(i)}
	case *array.Int32:
		return []any{a.Value(i)}
	case *array.Boolean:
		return []any{a.Value(i)}
	case *array.Timestamp:
		return []any{int64(a.Value(i))}
	}
	panic("leafValues: unsupported array " + arr.DataType().String())
}

func TestReaderRefusesOtherSchemaAndVersion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "members.parquet")
	writeRows(t, path, Members, randomRows[Member](1, 3))

	_, err := Open(path, Rejects)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `holds schema "members", expected "rejects"`) {
		t.Fatalf("wrong schema: got %v", err)
	}

	newer := &Spec[Member]{name: Members.name, version: Members.version + 1, path: Members.path, cols: Members.cols, schema: Members.schema}
	_, err = Open(path, newer)
	if err == nil || !strings.Contains(err.Error(), `schema "members" version 1, this tool reads version 2`) {
		t.Fatalf("wrong version: got %v", err)
	}

	plain := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(plain, []byte("user_id,email\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(plain, Users); err == nil || !strings.Contains(err.Error(), plain) {
		t.Fatalf("non-Parquet file: got %v", err)
	}
}

func TestRowsOutliveTheReader(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := randomRows[User](3, 50)
	path := filepath.Join(t.TempDir(), "users.parquet")
	writeRows(t, path, Users, rows, WithWriterAllocator(mem))
	r, err := Open(path, Users, WithReaderAllocator(mem), WithReadBatchRows(8))
	if err != nil {
		t.Fatal(err)
	}
	var kept []User
	for r.Next() {
		kept = append(kept, *r.Row())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kept, rows) {
		t.Fatal("rows kept across batches and after Close differ from what was written")
	}
}

// short renders a value for a failure message, cut to a readable length.
func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

func TestCloseMidFileReleasesEverything(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := randomRows[Member](4, 300)
	path := filepath.Join(t.TempDir(), "members.parquet")
	writeRows(t, path, Members, rows, WithWriterAllocator(mem))
	for _, read := range []int{0, 1, 150} {
		r, err := Open(path, Members, WithReaderAllocator(mem), WithReadBatchRows(16))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < read && r.Next(); i++ {
			if got := *r.Row(); !reflect.DeepEqual(got, rows[i]) {
				t.Fatalf("row %d differs", i)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatalf("close after %d rows: %v", read, err)
		}
		if r.Next() {
			t.Fatal("Next after Close")
		}
	}
}
