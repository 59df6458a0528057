package pipeline_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// syncBuffer is a bytes.Buffer safe for the renderer goroutine and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count adds 1000 units from 4 goroutines.
func count(p pipeline.Progress) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 250 {
				p.Add(1)
			}
		})
	}
	wg.Wait()
}

func TestProgressLogLines(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	p := pipeline.NewProgressFactory(nil, false, logger, time.Millisecond)("extract users", "users")
	p.SetTotal(1000)
	count(p)
	time.Sleep(20 * time.Millisecond)
	p.Done()
	p.Done()
	p.Add(5) // ignored after Done
	text := out.String()
	if !strings.Contains(text, "msg=progress") || !strings.Contains(text, `task="extract users"`) {
		t.Errorf("no periodic line in %q", text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "msg=done") || !strings.Contains(last, "users=1000") || !strings.Contains(last, "total=1000") {
		t.Errorf("final line %q", last)
	}
	if strings.Count(text, "msg=done") != 1 {
		t.Errorf("Done rendered %d times", strings.Count(text, "msg=done"))
	}
}

func TestProgressBar(t *testing.T) {
	var out syncBuffer
	p := pipeline.NewProgressFactory(&out, true, nil, time.Millisecond)("load members", "members")
	count(p)
	time.Sleep(10 * time.Millisecond)
	p.SetTotal(1000)
	p.Done()
	text := out.String()
	if !strings.Contains(text, "load members") || !strings.Contains(text, "1000/1000") {
		t.Errorf("bar output %q", text)
	}
}

func TestNoProgress(t *testing.T) {
	for _, f := range []pipeline.ProgressFactory{pipeline.NoProgress, pipeline.NewProgressFactory(nil, false, nil, 0)} {
		p := f("x", "y")
		count(p)
		p.Done()
	}
}
