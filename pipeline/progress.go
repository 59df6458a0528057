package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress rendering defaults.
const (
	// DefaultBarInterval is how often a terminal progress bar is redrawn.
	DefaultBarInterval = 200 * time.Millisecond
	// DefaultLogInterval is how often progress is logged when stderr is not a terminal.
	DefaultLogInterval = 10 * time.Second
	// barWidth is the width of a terminal progress bar, in characters.
	barWidth = 30
	// unknownTotal marks a counter whose total is not known yet.
	unknownTotal = -1
)

// Progress counts a stage's work. Add and SetTotal only update atomic counters, so they are
// cheap enough to call per record; rendering happens elsewhere, on a timer. All methods are
// safe for concurrent use. Done must be called once the work ends (it stops the renderer and
// renders a final state); calls after Done are ignored.
type Progress interface {
	// Add counts n more units done.
	Add(n int64)
	// SetTotal sets how many units there are in all, when known.
	SetTotal(n int64)
	// Done ends the reporting.
	Done()
}

// ProgressFactory makes a Progress for a piece of work: label says what ("extract users") and
// unit what is counted ("users", "requests").
type ProgressFactory func(label, unit string) Progress

// NoProgress is a ProgressFactory whose reporters do nothing.
func NoProgress(string, string) Progress { return noProgress{} }

// noProgress is the Progress that does nothing.
type noProgress struct{}

func (noProgress) Add(int64)      {}
func (noProgress) SetTotal(int64) {}
func (noProgress) Done()          {}

// NewProgressFactory returns the ProgressFactory for an output w. When isTTY is true, progress is
// drawn on w as a bar with count, rate and (once the total is known) ETA, every interval
// (DefaultBarInterval when zero). Otherwise it is logged on logger every interval
// (DefaultLogInterval when zero) and once more when done; with a nil logger nothing is shown.
func NewProgressFactory(w io.Writer, isTTY bool, logger *slog.Logger, interval time.Duration) ProgressFactory {
	switch {
	case isTTY:
		if interval <= 0 {
			interval = DefaultBarInterval
		}
		return func(label, unit string) Progress {
			return startUpdater(label, unit, interval, newBarRenderer(w, label, unit))
		}
	case logger != nil:
		if interval <= 0 {
			interval = DefaultLogInterval
		}
		return func(label, unit string) Progress {
			return startUpdater(label, unit, interval, logRenderer(logger))
		}
	default:
		return NoProgress
	}
}

// snapshot is a counter's state at one moment.
type snapshot struct {
	label, unit string
	current     int64
	total       int64 // unknownTotal when not known
	elapsed     time.Duration
}

// rate returns units per second so far.
func (s snapshot) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.current) / s.elapsed.Seconds()
}

// renderFunc draws a snapshot; final is true for the last call, after Done.
type renderFunc func(s snapshot, final bool)

// updater holds the counters and calls its renderer on a ticker, in the style of restic's
// ui/progress.Updater: counting and drawing never share a lock.
type updater struct {
	label, unit string
	start       time.Time
	current     atomic.Int64
	total       atomic.Int64
	render      renderFunc
	stop        chan struct{}
	stopped     chan struct{}
	once        sync.Once
}

// startUpdater starts an updater that renders every interval until Done.
func startUpdater(label, unit string, interval time.Duration, render renderFunc) *updater {
	u := &updater{
		label: label, unit: unit, start: time.Now(), render: render,
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	u.total.Store(unknownTotal)
	go u.loop(interval)
	return u
}

// loop renders on every tick until stop is closed.
func (u *updater) loop(interval time.Duration) {
	defer close(u.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case <-t.C:
			u.render(u.snapshot(), false)
		}
	}
}

// snapshot reads the counters.
func (u *updater) snapshot() snapshot {
	return snapshot{
		label: u.label, unit: u.unit,
		current: u.current.Load(), total: u.total.Load(), elapsed: time.Since(u.start),
	}
}

// Add counts n more units done.
func (u *updater) Add(n int64) { u.current.Add(n) }

// SetTotal sets the total.
func (u *updater) SetTotal(n int64) { u.total.Store(n) }

// Done stops the ticker and renders the final state once.
func (u *updater) Done() {
	u.once.Do(func() {
		close(u.stop)
		<-u.stopped
		u.render(u.snapshot(), true)
	})
}

// logRenderer logs progress lines: periodic "progress" records and a final "done" record.
func logRenderer(logger *slog.Logger) renderFunc {
	return func(s snapshot, final bool) {
		attrs := []any{
			slog.String("task", s.label),
			slog.Int64(s.unit, s.current),
			slog.String("rate", fmt.Sprintf("%.0f %s/s", s.rate(), s.unit)),
			slog.Duration("elapsed", s.elapsed.Round(time.Millisecond)),
		}
		if s.total >= 0 {
			attrs = append(attrs, slog.Int64("total", s.total))
			if r := s.rate(); !final && r > 0 && s.total > s.current {
				eta := time.Duration(float64(s.total-s.current) / r * float64(time.Second))
				attrs = append(attrs, slog.Duration("eta", eta.Round(time.Second)))
			}
		}
		msg := "progress"
		if final {
			msg = "done"
		}
		logger.Info(msg, attrs...)
	}
}

// newBarRenderer draws a schollz/progressbar bar on w. The bar is only touched from the updater
// (ticker, then the final render after the ticker stopped), so it needs no lock of its own.
func newBarRenderer(w io.Writer, label, unit string) renderFunc {
	bar := progressbar.NewOptions64(unknownTotal,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetWidth(barWidth),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(0),
		progressbar.OptionOnCompletion(func() { _, _ = fmt.Fprintln(w) }),
	)
	shownMax := int64(unknownTotal)
	return func(s snapshot, final bool) {
		if s.total != shownMax && s.total >= 0 {
			shownMax = s.total
			bar.ChangeMax64(shownMax)
		}
		_ = bar.Set64(s.current)
		if final {
			if shownMax < 0 {
				bar.ChangeMax64(s.current)
			}
			_ = bar.Finish()
		}
	}
}
