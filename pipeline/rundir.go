package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dirPerm is the permission of the run directory and of the folders created in it.
const dirPerm = 0o755

// RunDir is an open run directory: the folder that holds one migration's staged files, its
// manifest and its lock. Its methods are safe for concurrent use.
type RunDir struct {
	root string
}

// OpenRunDir opens the run directory at path, creating it (mode 0755) if it does not exist.
// It does not lock the directory and does not touch its files: a reader such as inspect may open
// a run directory another process is working in. Call [RunDir.Lock] before changing anything.
func OpenRunDir(path string) (*RunDir, error) {
	if path == "" {
		return nil, errors.New("open run directory: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open run directory %s: %w", path, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("open run directory: %w", err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open run directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("open run directory %s: not a directory", abs)
	}
	return &RunDir{root: abs}, nil
}

// Root returns the run directory's absolute path.
func (d *RunDir) Root() string { return d.root }

// Path returns the absolute path of rel, a run-directory-relative path such as
// "extract/users.parquet". An absolute rel is returned unchanged.
func (d *RunDir) Path(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(d.root, rel)
}

// Rel returns path relative to the run directory, with forward slashes, as the manifest records
// it. A path outside the run directory is returned absolute and cleaned.
func (d *RunDir) Rel(path string) string {
	if !filepath.IsAbs(path) {
		return filepath.ToSlash(filepath.Clean(path))
	}
	rel, err := filepath.Rel(d.root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.Clean(path)
	}
	return filepath.ToSlash(rel)
}

// CleanTemp removes the temporary files that interrupted atomic writes (see [CreateAtomic]) left
// anywhere in the run directory, and returns the run-directory-relative paths it removed. Only
// the lock holder may call it: another process's write in progress would lose its temporary
// file. [RunDir.Lock] calls it after taking the lock.
func (d *RunDir) CleanTemp() ([]string, error) {
	var removed []string
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.IsDir() || !isTempName(e.Name()) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = append(removed, d.Rel(path))
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("clean temporary files: %w", err)
	}
	return removed, nil
}
