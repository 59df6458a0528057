package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Lock file settings.
const (
	// lockFile is the run-directory-relative path of the lock file. It holds the holder record
	// as JSON while the lock is held and is empty otherwise; it is never removed, because
	// removing a file others may be waiting to flock would let two processes hold "the" lock.
	lockFile = ".lock"
	// lockFilePerm is the lock file's permission.
	lockFilePerm = 0o644
	// holderReadTries and holderReadPause bound how long a process that found the directory
	// locked waits for the holder to finish writing its record.
	holderReadTries = 20
	holderReadPause = 10 * time.Millisecond
)

// ErrLocked matches a [*LockedError] with errors.Is.
var ErrLocked = errors.New("run directory is locked")

// LockHolder describes the process that holds, or held, a run directory's lock.
type LockHolder struct {
	// PID is the holder's process id.
	PID int `json:"pid"`
	// Host is the holder's host name.
	Host string `json:"host"`
	// Command is what the holder is doing, such as "load".
	Command string `json:"command"`
	// Since is when the holder took the lock.
	Since time.Time `json:"since"`
}

// String describes the holder for people: "pid 123 on host db1 running "load" since ...".
func (h LockHolder) String() string {
	if h.PID == 0 {
		return "an unknown process"
	}
	return fmt.Sprintf("pid %d on host %s running %q since %s",
		h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
}

// LockedError is returned by [RunDir.Lock] when another holder has the lock.
type LockedError struct {
	// Dir is the run directory's path.
	Dir string
	// Holder is the current holder, as its record says; zero if the record could not be read.
	Holder LockHolder
}

// Error names the run directory and the holder.
func (e *LockedError) Error() string {
	return fmt.Sprintf("run directory %s is locked by %s", e.Dir, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true for a *LockedError.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is an exclusive lock on a run directory, held until Release or the end of the process.
type Lock struct {
	f *os.File
	// Holder is this lock's holder record.
	Holder LockHolder
	// Previous is the record of a holder that died without releasing the lock, which this lock
	// took over; nil if the lock was free.
	Previous *LockHolder
	// Removed lists the temporary files of interrupted writes that taking the lock cleaned up.
	Removed []string
}

// Lock takes the run directory's exclusive lock for command (a short description such as
// "load", recorded for whoever finds the directory locked). It does not wait: if another
// process, or another Lock in this process, holds it, Lock returns a [*LockedError] naming the
// holder. A lock whose holder died is free again (the kernel drops flock locks with their
// process) and is taken over; [Lock.Previous] then names the dead holder. Once it holds the
// lock, Lock removes the temporary files interrupted writes left (see [RunDir.CleanTemp]).
func (d *RunDir) Lock(command string) (*Lock, error) {
	path := d.Path(lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, lockFilePerm)
	if err != nil {
		return nil, fmt.Errorf("lock run directory: %w", err)
	}
	if err := flock(f); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: d.root, Holder: readHolder(path)}
		}
		return nil, fmt.Errorf("lock run directory %s: %w", d.root, err)
	}
	l := &Lock{f: f}
	if prev, ok := parseHolder(readAll(f)); ok {
		l.Previous = &prev
	}
	host, _ := os.Hostname()
	l.Holder = LockHolder{PID: os.Getpid(), Host: host, Command: command, Since: time.Now().UTC()}
	if err := writeHolder(f, l.Holder); err != nil {
		_ = l.Release()
		return nil, fmt.Errorf("lock run directory %s: write holder: %w", d.root, err)
	}
	removed, err := d.CleanTemp()
	l.Removed = removed
	if err != nil {
		_ = l.Release()
		return nil, fmt.Errorf("lock run directory %s: %w", d.root, err)
	}
	return l, nil
}

// Release empties the holder record and drops the lock. Calling it again is a no-op.
func (l *Lock) Release() error {
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	truncErr := f.Truncate(0)
	closeErr := f.Close() // closing the only descriptor drops the flock
	if truncErr != nil {
		return fmt.Errorf("release lock: %w", truncErr)
	}
	if closeErr != nil {
		return fmt.Errorf("release lock: %w", closeErr)
	}
	return nil
}

// flock takes an exclusive, non-blocking flock(2) on f, retrying on EINTR.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// writeHolder replaces the lock file's content with h's record in one write, then flushes it.
func writeHolder(f *os.File, h LockHolder) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readHolder reads the holder record of a lock someone else holds. The holder may be between
// truncating the file and writing its record, so an empty or partial record is read again for
// a short while before giving up with a zero LockHolder.
func readHolder(path string) LockHolder {
	for range holderReadTries {
		data, err := os.ReadFile(path)
		if err == nil {
			if h, ok := parseHolder(data); ok {
				return h
			}
		}
		time.Sleep(holderReadPause)
	}
	return LockHolder{}
}

// readAll reads f's whole content from the start; errors read as empty.
func readAll(f *os.File) []byte {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return nil
	}
	buf := make([]byte, info.Size())
	n, _ := f.ReadAt(buf, 0)
	return buf[:n]
}

// parseHolder decodes a holder record; ok is false for an empty or malformed one.
func parseHolder(data []byte) (LockHolder, bool) {
	if strings.TrimSpace(string(data)) == "" {
		return LockHolder{}, false
	}
	var h LockHolder
	if err := json.Unmarshal(data, &h); err != nil || h.PID == 0 {
		return LockHolder{}, false
	}
	return h, true
}
