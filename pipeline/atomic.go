package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// tempInfix separates a file's final name from the random suffix in its temporary name:
// "users.parquet" is written as ".users.parquet.tmp-123456789".
const tempInfix = ".tmp-"

// tempName returns the os.CreateTemp pattern for a file whose final name is base.
func tempName(base string) string { return "." + base + tempInfix + "*" }

// isTempName reports whether name is a temporary name made by tempName.
func isTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// ErrCommitted is returned by writes to an [AtomicFile] after Commit or Abort.
var ErrCommitted = errors.New("atomic file already committed or aborted")

// AtomicFile is a file being written under a temporary name in its final folder. Commit makes it
// appear under its final name with all its content; until then, and forever if the process dies
// or Abort is called, nothing exists under the final name (or the previous file stays there
// untouched). An AtomicFile is not safe for concurrent use.
type AtomicFile struct {
	f     *os.File
	path  string
	done  bool
	write error
}

// CreateAtomic starts writing the file path with permission perm, creating its parent folders
// (mode 0755). The content goes to a temporary file in the same folder, named
// ".<name>.tmp-<random>", until [AtomicFile.Commit]. Always defer [AtomicFile.Abort]: it is a
// no-op after a successful Commit.
func CreateAtomic(path string, perm os.FileMode) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("create %s: not a file name", path)
	}
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, tempName(base))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &AtomicFile{f: f, path: path}, nil
}

// Path returns the final path the file will have after Commit.
func (f *AtomicFile) Path() string { return f.path }

// TempPath returns the temporary path the content is being written to.
func (f *AtomicFile) TempPath() string { return f.f.Name() }

// Write writes p to the temporary file. It implements io.Writer. After a failed write, Commit
// refuses to commit.
func (f *AtomicFile) Write(p []byte) (int, error) {
	if f.done {
		return 0, ErrCommitted
	}
	n, err := f.f.Write(p)
	if err != nil {
		f.write = err
		return n, fmt.Errorf("write %s: %w", f.path, err)
	}
	return n, nil
}

// Commit flushes the content to disk, closes the file, renames it to its final name (replacing
// any file there) and flushes the folder, so the new name survives a crash. On error the
// temporary file is removed and nothing changes under the final name.
func (f *AtomicFile) Commit() error {
	if f.done {
		return ErrCommitted
	}
	f.done = true
	tmp := f.f.Name()
	fail := func(err error) error {
		_ = f.f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("commit %s: %w", f.path, err)
	}
	if f.write != nil {
		return fail(fmt.Errorf("earlier write failed: %w", f.write))
	}
	if err := f.f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("commit %s: %w", f.path, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("commit %s: %w", f.path, err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("commit %s: %w", f.path, err)
	}
	return nil
}

// Abort closes and removes the temporary file. It is a no-op after Commit or an earlier Abort,
// so it is safe to defer right after CreateAtomic.
func (f *AtomicFile) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	closeErr := f.f.Close()
	if err := os.Remove(f.f.Name()); err != nil {
		return fmt.Errorf("abort %s: %w", f.path, err)
	}
	if closeErr != nil && !errors.Is(closeErr, os.ErrClosed) {
		return fmt.Errorf("abort %s: %w", f.path, closeErr)
	}
	return nil
}

// WriteFileAtomic writes data to path as [CreateAtomic] and [AtomicFile.Commit] do: readers see
// either the old file or the complete new one.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := CreateAtomic(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort() //nolint:errcheck // no-op after Commit; the write error wins
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// syncDir flushes a folder's entries to disk, so a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	if syncErr != nil {
		return fmt.Errorf("sync folder %s: %w", dir, syncErr)
	}
	if closeErr != nil {
		return fmt.Errorf("sync folder %s: %w", dir, closeErr)
	}
	return nil
}
