package schemas

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Sizes of the members benchmark: a large B2B migration's transform/members.parquet.
const (
	benchMembers     = 1_230_000
	benchMemberOrgs  = 50_000
	benchMemberPool  = 64 * 1024
	benchMemberPhone = 3 // one member in three has an MFA phone number
)

// syntheticMembers returns a pool of planned members shaped like a real migration's: org keys of
// ~50K organizations in random order, UUID user ids, ~25-byte emails and ~100-byte metadata JSON.
// The pool is larger than a Parquet page of any column, so cycling through it does not make the
// data more compressible than distinct rows would be.
func syntheticMembers(n int) []Member {
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-south-1"}
	plans := []string{"free", "pro", "team", "enterprise"}
	themes := []string{"dark", "light", "system"}
	locales := []string{"en-US", "en-GB", "de-DE", "fr-FR", "ja-JP"}
	pool := make([]Member, n)
	for i := range pool {
		id := fmt.Sprintf("user-test-%08x-%04x-4%03x-%04x-%012x",
			rng.Uint32(), rng.Uint32N(1<<16), rng.Uint32N(1<<12), 0x8000|rng.Uint32N(1<<14), rng.Uint64N(1<<48))
		org := rng.IntN(benchMemberOrgs)
		m := Member{
			OrgKey:           fmt.Sprintf("org-%d", org),
			SourceUserID:     id,
			EmailAddress:     fmt.Sprintf("user%d.%d@example%d.com", rng.IntN(100_000), i%97, org%1000),
			EmailVerified:    rng.IntN(10) != 0,
			Name:             fmt.Sprintf("Ada Lovel%03d", rng.IntN(1000)),
			ExternalID:       id,
			ExternalIDSource: "user_id",
			Status:           "active",
			TrustedMetadata: fmt.Sprintf(`{"org_ids":["org-%d"],"plan":"%s","seats":%d,"region":"%s","flags":{"beta":%t,"sso":%t}}`,
				org, plans[rng.IntN(len(plans))], rng.IntN(1000), regions[rng.IntN(len(regions))], rng.IntN(2) == 0, rng.IntN(3) != 0),
			UntrustedMetadata: fmt.Sprintf(`{"theme":"%s","locale":"%s","onboarded":%t,"last_seen_page":"/app/p/%d"}`,
				themes[rng.IntN(len(themes))], locales[rng.IntN(len(locales))], rng.IntN(2) == 0, rng.IntN(100_000)),
			MergedUserIDs: []string{},
			SurvivorRule:  "unique",
			HasPassword:   rng.IntN(4) != 0,
			Warnings:      []string{},
		}
		if i%benchMemberPhone == 0 {
			m.MFAPhoneNumber = fmt.Sprintf("+1415%07d", rng.IntN(10_000_000))
		}
		if i%50 == 0 {
			m.MergedUserIDs = []string{fmt.Sprintf("user-test-%08x-0000-4000-8000-%012x", rng.Uint32(), rng.Uint64N(1<<48))}
			m.SurvivorRule = "verified"
		}
		pool[i] = m
	}
	return pool
}

// cpuSeconds is the user plus system CPU time the process has used so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func writeMembersFile(b *testing.B, path string, pool []Member, opts ...WriterOption) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := NewWriter(bw, Members, FileMeta{ToolVersion: "bench", RunID: "bench"}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchMembers {
		m := &pool[i%len(pool)]
		m.SourcePosition = int64(i + 1)
		if err := w.Append(m); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteMembers writes 1.23M planned members to a members.parquet file, as the transform
// stage does, and reports rows/s, the CPU seconds (user + system, all goroutines) one file costs,
// and the file size.
func BenchmarkWriteMembers(b *testing.B) {
	benchWriteMembers(b)
}

// BenchmarkWriteMembersParallel encodes two columns at a time (WithEncoders).
func BenchmarkWriteMembersParallel(b *testing.B) {
	benchWriteMembers(b, WithEncoders(2))
}

func benchWriteMembers(b *testing.B, opts ...WriterOption) {
	pool := syntheticMembers(benchMemberPool)
	path := filepath.Join(b.TempDir(), "members.parquet")
	cpu0, start := cpuSeconds(b), time.Now()
	for b.Loop() {
		writeMembersFile(b, path, pool, opts...)
	}
	cpu, wall := cpuSeconds(b)-cpu0, time.Since(start).Seconds()
	b.ReportMetric(float64(benchMembers*b.N)/wall, "rows/s")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	if st, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
	}
}

// TestWriterMatchesPqarrow checks that the Writer, which drives Parquet's column writers itself,
// writes the files pqarrow's FileWriter would: the same Parquet schema, key-value metadata (the
// stored Arrow schema included), row groups, and per column chunk the same encodings, dictionary
// pages, value counts and statistics. The reference file is pqarrow's rewrite of the batches read
// back from ours; the round-trip tests check the values themselves.
func TestWriterMatchesPqarrow(t *testing.T) {
	matchPqarrow(t, Users, randomRows[User](1, 700))
	matchPqarrow(t, BadRecords, randomRows[BadRecord](2, 700))
	matchPqarrow(t, Organizations, randomRows[Organization](3, 700))
	matchPqarrow(t, Members, randomRows[Member](4, 700))
	matchPqarrow(t, Members, syntheticMembers(700))
	matchPqarrow(t, MemberPasswords, randomRows[MemberPassword](5, 700))
	matchPqarrow(t, Rejects, randomRows[Reject](6, 700))
	matchPqarrow(t, Duplicates, randomRows[Duplicate](7, 700))
	matchPqarrow(t, Ledger, randomRows[LedgerEntry](8, 700))
	matchPqarrow(t, OrganizationResults, randomRows[OrganizationResult](9, 700))
	matchPqarrow(t, MemberResults, randomRows[MemberResult](10, 700))
	matchPqarrow(t, Drift, randomRows[DriftRow](11, 700))
	matchPqarrow(t, SpillMemberships, randomRows[SpillMembership](13, 700))
	matchPqarrow(t, MappingUnmatched, randomRows[UnmatchedMappingRow](14, 700))

	// Distinct 6 KB reasons overflow the 1 MB dictionary page limit of a 200-row row group: pqarrow
	// falls back to plain encoding part way through the chunk, ours writes it plain throughout.
	rejects := randomRows[Reject](12, 700)
	for i := range rejects {
		rejects[i].Reason = fmt.Sprintf("%04d", i) + strings.Repeat("r", 6000)
	}
	matchPqarrow(t, Rejects, rejects, "reason")

	// Empty strings only: they are values, not nulls, of the required columns.
	matchPqarrow(t, Duplicates, make([]Duplicate, 100))
}

// TestDictionaryGivesUp checks a dictionary column whose row group has more distinct values than
// maxDictEntries: the writer gives the dictionary up for that row group only, and every value,
// null or not, before and after the switch, reads back.
func TestDictionaryGivesUp(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := make([]Reject, 40_000)
	for i := range rows {
		rows[i] = Reject{SourceUserID: fmt.Sprintf("user-%d", i), Scope: []string{"user", "membership"}[i%2], Reason: "no_email"}
		if i%7 != 0 {
			rows[i].OrgKey = fmt.Sprintf("org-%d", i)
		}
	}
	path := filepath.Join(t.TempDir(), "rejects.parquet")
	writeRows(t, path, Rejects, rows, WithWriterAllocator(mem), WithBatchRows(1000), WithRowGroupRows(30_000))
	got, err := ReadAll(path, Rejects, WithReaderAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatal("rows read back differ from what was written")
	}
	compareWithIndependentReader(t, path, Rejects, mem)

	md := footer(t, path)
	for g, want := range []bool{false, true} { // 30K distinct org keys, then 10K
		for c, dict := range map[int]bool{1: want, 2: true} { // org_key, scope
			cc, err := md.RowGroup(g).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if cc.HasDictionaryPage() != dict {
				t.Fatalf("row group %d column %s: dictionary page %t, want %t", g, cc.PathInSchema(), cc.HasDictionaryPage(), dict)
			}
		}
	}
}

// matchPqarrow writes rows with our Writer and with pqarrow and compares the footers. The plain
// columns are ones where pqarrow falls back from dictionary to plain encoding part way: ours must
// be plain throughout.
// TestParallelEncodersWriteTheSameFile checks that encoding several columns at a time changes
// nothing in the file.
func TestParallelEncodersWriteTheSameFile(t *testing.T) {
	sameFile(t, Users, randomRows[User](21, 700))
	sameFile(t, Members, randomRows[Member](22, 700))
	sameFile(t, Organizations, randomRows[Organization](23, 700))
}

func sameFile[T any](t *testing.T, spec *Spec[T], rows []T) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	var files [2][]byte
	for k, encoders := range []int{1, 3} {
		path := filepath.Join(dir, fmt.Sprintf("%d.parquet", encoders))
		writeRows(t, path, spec, rows, WithWriterAllocator(mem), WithBatchRows(64), WithRowGroupRows(250), WithEncoders(encoders))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[k] = b
	}
	if !slices.Equal(files[0], files[1]) {
		t.Fatalf("%s: 3 encoders wrote a different file than 1", spec.name)
	}
}

func matchPqarrow[T any](t *testing.T, spec *Spec[T], rows []T, plain ...string) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	ours, ref := filepath.Join(dir, "ours.parquet"), filepath.Join(dir, "pqarrow.parquet")
	opts := []WriterOption{WithWriterAllocator(mem), WithBatchRows(64), WithRowGroupRows(250)}
	writeRows(t, ours, spec, rows, opts...)

	cfg := newWriterConfig(opts...)
	meta := FileMeta{ToolVersion: "test", RunID: "run-1"}
	f, err := os.Create(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fw, err := pqarrow.NewFileWriter(spec.schema, f, writerProps(spec, cfg, meta),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{MetaSchemaName: spec.name, MetaSchemaVersion: strconv.Itoa(spec.version),
		MetaToolVersion: meta.ToolVersion, MetaRunID: meta.RunID} {
		if err := fw.AppendKeyValueMetadata(k, v); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(ours, spec, WithReaderAllocator(mem), WithReadBatchRows(64))
	if err != nil {
		t.Fatal(err)
	}
	for r.NextBatch() {
		rec := r.Batch()
		cols := make([]arrow.Array, rec.NumCols())
		for i, f := range spec.schema.Fields() {
			data := retype(rec.Column(i).Data(), f.Type)
			cols[i] = array.MakeFromData(data)
			data.Release()
		}
		same := array.NewRecordBatch(spec.schema, cols, rec.NumRows())
		for _, c := range cols {
			c.Release()
		}
		err := fw.WriteBuffered(same)
		same.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}

	a, b := footer(t, ours), footer(t, ref)
	if !a.Schema.Equals(b.Schema) {
		t.Fatalf("%s: Parquet schema\nours    %s\npqarrow %s", spec.name, a.Schema, b.Schema)
	}
	if ak, bk := kvMap(a.KeyValueMetadata()), kvMap(b.KeyValueMetadata()); !reflect.DeepEqual(ak, bk) {
		t.Fatalf("%s: key-value metadata\nours    %v\npqarrow %v", spec.name, ak, bk)
	}
	if a.NumRows != b.NumRows || a.NumRowGroups() != b.NumRowGroups() {
		t.Fatalf("%s: %d rows in %d row groups, pqarrow %d in %d", spec.name, a.NumRows, a.NumRowGroups(), b.NumRows, b.NumRowGroups())
	}
	for g := range a.NumRowGroups() {
		ga, gb := a.RowGroup(g), b.RowGroup(g)
		if ga.NumRows() != gb.NumRows() {
			t.Fatalf("%s: row group %d has %d rows, pqarrow %d", spec.name, g, ga.NumRows(), gb.NumRows())
		}
		for c := range ga.NumColumns() {
			ca, err := ga.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := gb.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			where := fmt.Sprintf("%s: row group %d column %s", spec.name, g, ca.PathInSchema())
			ea, eb := sortedEncodings(ca.Encodings()), sortedEncodings(cb.Encodings())
			if slices.Contains(plain, ca.PathInSchema().String()) {
				if ca.HasDictionaryPage() || !slices.Equal(ea, []parquet.Encoding{parquet.Encodings.Plain, parquet.Encodings.RLE}) || !slices.Contains(eb, parquet.Encodings.Plain) {
					t.Fatalf("%s: dictionary page %t, encodings %v, pqarrow %v; want plain", where, ca.HasDictionaryPage(), ea, eb)
				}
			} else if !slices.Equal(ea, eb) || ca.HasDictionaryPage() != cb.HasDictionaryPage() {
				t.Fatalf("%s: encodings %v, dictionary page %t; pqarrow %v, %t", where, ea, ca.HasDictionaryPage(), eb, cb.HasDictionaryPage())
			}
			if ca.NumValues() != cb.NumValues() || ca.Compression() != cb.Compression() {
				t.Fatalf("%s: %d values, %s; pqarrow %d, %s", where, ca.NumValues(), ca.Compression(), cb.NumValues(), cb.Compression())
			}
			if sa, sb := encodedStats(t, ca), encodedStats(t, cb); !reflect.DeepEqual(sa, sb) {
				t.Fatalf("%s: statistics %+v, pqarrow %+v", where, sa, sb)
			}
		}
	}
}

// retype relabels array data read back from a file with the spec's own type (the reader names list
// elements "element", arrow.ListOf names them "item").
func retype(d arrow.ArrayData, dt arrow.DataType) arrow.ArrayData {
	children := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		switch t := dt.(type) {
		case *arrow.ListType:
			children[i] = retype(c, t.Elem())
		case *arrow.StructType:
			children[i] = retype(c, t.Field(i).Type)
		}
	}
	out := array.NewData(dt, d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
	for _, c := range children {
		c.Release()
	}
	return out
}

func footer(t *testing.T, path string) *metadata.FileMetaData {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.MetaData()
}

func kvMap(kv metadata.KeyValueMetadata) map[string]string {
	m := map[string]string{}
	for _, k := range kv.Keys() {
		m[k] = *kv.FindValue(k)
	}
	return m
}

func sortedEncodings(e []parquet.Encoding) []parquet.Encoding {
	e = slices.Clone(e)
	slices.Sort(e)
	return slices.Compact(e)
}

func encodedStats(t *testing.T, c *metadata.ColumnChunkMetaData) any {
	t.Helper()
	if ok, err := c.StatsSet(); err != nil || !ok {
		return err
	}
	s, err := c.Statistics()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestScratchOptions checks WithCompression and WithoutStatistics: every column chunk of a file
// written with them is uncompressed and has no statistics, one written without them is zstd with
// statistics on every column but the plain (not dictionary) strings (see textLeaves), and both
// read back the same rows.
func TestScratchOptions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := randomRows[SpillMembership](14, 300)
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		opts  []WriterOption
		codec compress.Compression
		stats bool
	}{
		{"default", nil, compress.Codecs.Zstd, true},
		{"scratch", []WriterOption{WithCompression(compress.Codecs.Uncompressed), WithoutStatistics()}, compress.Codecs.Uncompressed, false},
	} {
		path := filepath.Join(dir, c.name+".parquet")
		writeRows(t, path, SpillMemberships, rows, append(c.opts, WithWriterAllocator(mem))...)
		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		rg := pf.MetaData().RowGroup(0)
		for i := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			if cc.Compression() != c.codec {
				t.Errorf("%s: column %s is %s, want %s", c.name, cc.PathInSchema(), cc.Compression(), c.codec)
			}
			text := pf.MetaData().Schema.Column(i).PhysicalType() == parquet.Types.ByteArray && !cc.HasDictionaryPage()
			if set, _ := cc.StatsSet(); set != (c.stats && !text) {
				t.Errorf("%s: column %s has statistics %v, want %v", c.name, cc.PathInSchema(), set, c.stats && !text)
			}
		}
		pf.Close()
		got, err := ReadAll(path, SpillMemberships, WithReaderAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("%s: rows differ after the round trip", c.name)
		}
	}
}
