package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/internal/inspect"
	"github.com/stytch-migrate/stytch-migrate/internal/parquettest"
)

// writeSample writes a 25-row file in row groups of 10 and returns its path.
func writeSample(t *testing.T, mem memory.Allocator) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.parquet")
	parquettest.Write(t, path, mem, parquettest.Options{Rows: 25, RowGroupRows: 10, KeyValue: map[string]string{
		"stytch_migrate.schema":         "users",
		"stytch_migrate.schema_version": "1",
		"note":                          "two\nlines",
	}})
	return path
}

func run(t *testing.T, mem memory.Allocator, path string, opts ...inspect.Option) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := inspect.File(context.Background(), &out, path, append(opts, inspect.WithAllocator(mem))...)
	return out.String(), err
}

func TestTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	path := writeSample(t, mem)
	out, err := run(t, mem, path, inspect.WithLimit(4))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"file        " + path + "\n",
		"rows        25\n",
		"row groups  3: 10, 10, 5 rows\n",
		"  stytch_migrate.schema          users\n",
		"  stytch_migrate.schema_version  1\n",
		`  note                           two\nlines` + "\n",
		"  user_id: utf8\n",
		"  name: utf8, nullable\n",
		"  emails: list<element: struct<email: utf8, verified: bool>, nullable>, nullable\n",
		"first 4 of 25 rows\n",
		"  user_id  name   emails                                    age\n",
		"  user-0   Zoë 0  []                                        0\n",
		`  user-1   Zoë 1  [{"email":"u1.0@example.com","verified"…  1` + "\n",
		`  user-2   NULL   [{"email":"u2.0@example.com","verified"…  2` + "\n",
		"  user-3   Zoë 3  []                                        NULL\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "user-4") {
		t.Error("limit 4 printed a fifth row")
	}
}

func TestJSON(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	path := writeSample(t, mem)
	out, err := run(t, mem, path, inspect.WithLimit(100), inspect.WithFormat(inspect.FormatJSON))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 26 {
		t.Fatalf("%d lines, want a summary and 25 rows", len(lines))
	}
	var sum inspect.Summary
	if err := json.Unmarshal([]byte(lines[0]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 25 || len(sum.RowGroups) != 3 || sum.Size == 0 || len(sum.Schema) != 4 || sum.Schema[2].Name != "emails" {
		t.Errorf("summary %+v", sum)
	}
	if want := `{"user_id":"user-2","name":null,"emails":[{"email":"u2.0@example.com","verified":true},{"email":"u2.1@example.com","verified":false}],"age":2}`; lines[3] != want {
		t.Errorf("row 2:\n got %s\nwant %s", lines[3], want)
	}
	if want := `{"user_id":"user-24","name":"Zoë 24","emails":null,"age":24}`; lines[25] != want {
		t.Errorf("row 24:\n got %s\nwant %s", lines[25], want)
	}
	out, err = run(t, mem, path, inspect.WithLimit(0), inspect.WithFormat(inspect.FormatJSON))
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("limit 0: %q, %v", out, err)
	}
}

func TestNotParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	good, err := os.ReadFile(writeSample(t, mem))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte
		reason  string
	}{
		{"text.parquet", []byte("user_id,email\n1,a@example.com\n"), "not a Parquet file (no PAR1 magic at the start)"},
		{"empty.parquet", nil, "not a Parquet file (only 0 bytes)"},
		{"truncated.parquet", good[:len(good)/2], "not a Parquet file (no PAR1 magic at the end; truncated?)"},
		{"footer.parquet", append(append([]byte("PAR1"), bytes.Repeat([]byte{0xff}, 64)...), []byte("\x10\x00\x00\x00PAR1")...),
			"not a Parquet file (unreadable footer: "},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, tt.content, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := run(t, mem, path)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "inspect "+path+": "+tt.reason) || strings.Contains(msg, "\n") || out != "" {
			t.Errorf("%s: error %q (output %q), want one line starting %q", tt.name, msg, out, tt.reason)
		}
	}
	if _, err := run(t, mem, filepath.Join(dir, "missing.parquet")); err == nil || !strings.HasSuffix(err.Error(), ": no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	if f, err := inspect.ParseFormat("json"); err != nil || f != inspect.FormatJSON {
		t.Errorf("json: %v %v", f, err)
	}
	if _, err := inspect.ParseFormat("csv"); err == nil {
		t.Error("csv accepted")
	}
}
