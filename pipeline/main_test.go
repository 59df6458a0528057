package pipeline_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// Child-process helpers: the test binary re-executes itself with helperEnv naming a role, and
// TestMain runs that role instead of the tests.
const (
	helperEnv     = "PIPELINE_TEST_HELPER"
	helperPathEnv = "PIPELINE_TEST_PATH"
	helperTimeout = 30 * time.Second
)

func TestMain(m *testing.M) {
	role := os.Getenv(helperEnv)
	if role == "" {
		os.Exit(m.Run())
	}
	path := os.Getenv(helperPathEnv)
	switch role {
	case "slow-writer":
		helperSlowWriter(path)
	case "hold-lock":
		helperHoldLock(path)
	case "try-lock":
		helperTryLock(path)
	}
	fmt.Fprintf(os.Stderr, "unknown helper role %q\n", role)
	os.Exit(99)
}

// helperSlowWriter writes path through CreateAtomic, a little at a time, forever: the parent
// kills it. It prints "writing <temp path>" once the first bytes are on disk.
func helperSlowWriter(path string) {
	f, err := pipeline.CreateAtomic(path, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	chunk := []byte(strings.Repeat("new content ", 100))
	if _, err := f.Write(chunk); err != nil {
		os.Exit(1)
	}
	fmt.Printf("writing %s\n", f.TempPath())
	for {
		time.Sleep(5 * time.Millisecond)
		if _, err := f.Write(chunk); err != nil {
			os.Exit(1)
		}
	}
}

// helperHoldLock locks the run directory at path, prints "locked", and waits to be killed.
func helperHoldLock(path string) {
	d, err := pipeline.OpenRunDir(path)
	if err != nil {
		os.Exit(1)
	}
	if _, err := d.Lock("hold-test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(helperTimeout)
	os.Exit(0)
}

// helperTryLock tries to lock the run directory at path once and exits as the command would.
func helperTryLock(path string) {
	d, err := pipeline.OpenRunDir(path)
	if err == nil {
		var l *pipeline.Lock
		l, err = d.Lock("try-test")
		if err == nil {
			_ = l.Release()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "stytch-migrate: %v\n", err)
	}
	os.Exit(pipeline.ExitCode(err))
}

// child is a helper process started by startHelper.
type child struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
}

// startHelper starts the test binary as a helper with role on path, and registers a cleanup
// that kills it.
func startHelper(t *testing.T, role, path string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, helperPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdout: bufio.NewReader(out)}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

// readLine waits for the helper's next output line.
func (c *child) readLine(t *testing.T) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := c.stdout.ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.err != io.EOF {
			t.Fatalf("read helper output: %v", r.err)
		}
		return r.line
	case <-time.After(helperTimeout):
		t.Fatal("helper said nothing")
		return ""
	}
}

// kill9 SIGKILLs the helper and reaps it.
func (c *child) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}
