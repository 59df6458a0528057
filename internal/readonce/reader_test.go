package readonce

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// writeSynced writes n random bytes to a new file, flushed to the disk so that its pages are
// clean (the kernel drops only clean pages), and returns its path and contents.
func writeSynced(t *testing.T, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "users.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// readAll reads r to its end in reads of chunk bytes.
func readAll(t *testing.T, r io.Reader, chunk int) []byte {
	t.Helper()
	var out []byte
	p := make([]byte, chunk)
	for {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReaderContents checks that a Reader hands on every byte of files around DropEvery in
// size, in reads of several sizes.
func TestReaderContents(t *testing.T) {
	for _, size := range []int{0, 1, 4097, DropEvery - 1, DropEvery, DropEvery + 1, 2*DropEvery + 5000} {
		path, want := writeSynced(t, size)
		for _, chunk := range []int{4096, 1 << 20, 3 << 20} {
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, r, chunk)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("size %d, reads of %d: read %d bytes unlike the file's %d", size, chunk, len(got), len(want))
			}
		}
	}
}

// TestReaderDropsBehind checks that the pages a Reader has read leave the page cache as it goes
// on, and the rest at Close, on a file system that honors the advice (the test's temporary
// folder; skipped where the kernel keeps the pages whatever it is told).
func TestReaderDropsBehind(t *testing.T) {
	const size = 3 * DropEvery
	path, want := writeSynced(t, size)
	cache := func() {
		t.Helper()
		if _, err := os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	cache()
	before, ok := cachedFraction(t, path, 0, size)
	if !ok || before < 0.9 {
		t.Skipf("the page cache is not observable here (%.2f of the file cached after reading it)", before)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = dropCached(f, 0, size)
	f.Close()
	if after, _ := cachedFraction(t, path, 0, size); err != nil || after > 0.1 {
		t.Skipf("this file system keeps pages it is told to drop (%v, %.2f cached)", err, after)
	}

	cache()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2*DropEvery+(1<<20))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if behind, _ := cachedFraction(t, path, 0, 2*DropEvery); behind > 0.1 {
		t.Errorf("%.2f of the first %d bytes still cached after reading past them", behind, 2*DropEvery)
	}
	rest := readAll(t, r, 1<<20)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, rest...), want) {
		t.Fatal("the bytes read differ from the file's")
	}
	if left, _ := cachedFraction(t, path, 0, size); left > 0.1 {
		t.Errorf("%.2f of the file still cached after Close", left)
	}
}

// TestReaderNotRegular checks that a Reader on something other than a regular file reads it
// without advice.
func TestReaderNotRegular(t *testing.T) {
	r, err := Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.advise {
		t.Fatal("advice on a device")
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read %d, %v from %s", n, err, os.DevNull)
	}
}

// TestOpenMissing checks that a missing file is os.Open's error, naming the file.
func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.jsonl")
	_, err := Open(path)
	if !errors.Is(err, os.ErrNotExist) || !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Fatalf("error %v, want not exist naming %s", err, path)
	}
}
