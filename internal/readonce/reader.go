package readonce

import (
	"os"
)

// DropEvery is how many bytes a Reader reads between two drops of the pages behind it: large
// enough that the advice costs nothing next to the reading, small enough that the pages
// handed back are still in the kernel's recently freed lists when readahead wants memory.
const DropEvery = 8 << 20

// Reader reads one file sequentially, dropping what it has read from the page cache. It is an
// io.ReadCloser; it is not safe for concurrent use.
type Reader struct {
	f       *os.File
	advise  bool  // the file is regular and the platform takes the advice
	off     int64 // bytes read
	dropped int64 // bytes dropped from the page cache, from the start
}

// Open opens path for one sequential read. Errors are os.Open's.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{f: f}
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
		r.advise = adviseSequential(f) == nil
	}
	return r, nil
}

// Read reads up to len(p) bytes, as os.File.Read does.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.off += int64(n)
	if r.advise && r.off-r.dropped >= DropEvery {
		r.drop()
	}
	return n, err
}

// drop drops the pages read since the last drop. Advice the kernel refuses is not an error:
// the pages stay cached, as they would without it.
func (r *Reader) drop() {
	if r.off > r.dropped {
		_ = dropCached(r.f, r.dropped, r.off-r.dropped)
		r.dropped = r.off
	}
}

// Stat returns the file's os.FileInfo.
func (r *Reader) Stat() (os.FileInfo, error) { return r.f.Stat() }

// Close drops the rest of what was read from the page cache and closes the file.
func (r *Reader) Close() error {
	if r.advise {
		r.drop()
	}
	return r.f.Close()
}
