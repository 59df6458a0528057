package pipeline_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

func TestLockInProcess(t *testing.T) {
	d, err := pipeline.OpenRunDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := d.Lock("first")
	if err != nil {
		t.Fatal(err)
	}
	if l.Previous != nil {
		t.Errorf("Previous = %v on a fresh directory", l.Previous)
	}
	_, err = d.Lock("second")
	var locked *pipeline.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, pipeline.ErrLocked) {
		t.Fatalf("second Lock: %v, want *LockedError", err)
	}
	if locked.Holder.PID != os.Getpid() || locked.Holder.Command != "first" {
		t.Errorf("holder %+v", locked.Holder)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := d.Lock("third")
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	if l2.Previous != nil {
		t.Errorf("Previous = %v after a clean release", l2.Previous)
	}
	_ = l2.Release()
}

// TestLockAcrossProcesses: while one process holds the lock, another process gets a clear error
// naming it; after the holder is SIGKILLed, the lock is taken over.
func TestLockAcrossProcesses(t *testing.T) {
	root := t.TempDir()
	holder := startHelper(t, "hold-lock", root)
	if line := holder.readLine(t); line != "locked" {
		t.Fatalf("holder said %q", line)
	}
	pid := holder.cmd.Process.Pid

	// A second process exits with the error, naming the holder.
	try := exec.Command(os.Args[0], "-test.run=^$")
	try.Env = append(os.Environ(), helperEnv+"=try-lock", helperPathEnv+"="+root)
	var stderr bytes.Buffer
	try.Stderr = &stderr
	err := try.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != pipeline.ExitFailed {
		t.Fatalf("second process: %v, want exit %d", err, pipeline.ExitFailed)
	}
	msg := strings.TrimSpace(stderr.String())
	want := fmt.Sprintf("is locked by pid %d on host ", pid)
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) || !strings.Contains(msg, `running "hold-test"`) {
		t.Errorf("second process said %q, want one line containing %q", msg, want)
	}

	// This process too.
	d, err := pipeline.OpenRunDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lock("parent"); !errors.Is(err, pipeline.ErrLocked) {
		t.Fatalf("Lock while held: %v", err)
	}

	// The holder dies without releasing: the lock is taken over.
	holder.kill9(t)
	l, err := d.Lock("parent")
	if err != nil {
		t.Fatalf("Lock after holder died: %v", err)
	}
	defer l.Release()
	if l.Previous == nil || l.Previous.PID != pid || l.Previous.Command != "hold-test" {
		t.Errorf("Previous = %+v, want the dead holder pid %d", l.Previous, pid)
	}
}
