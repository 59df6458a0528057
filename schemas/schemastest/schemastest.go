package schemastest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// WriteFile writes rows as a file of spec at path, creating its folder, with meta in its footer.
// opts go to the writer (tests pass their checked allocator with schemas.WithWriterAllocator).
// Any error fails the test.
func WriteFile[T any](t testing.TB, path string, spec *schemas.Spec[T], meta schemas.FileMeta, rows []T, opts ...schemas.WriterOption) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := schemas.NewWriter(f, spec, meta, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.Append(&rows[i]); err != nil {
			w.Close()
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
