package report

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Chart geometry, in SVG user units (pixels at 100% zoom).
const (
	chartWidth     = 760
	barLabelWidth  = 230
	barValueWidth  = 90
	barHeight      = 20
	barGap         = 6
	barChartMargin = 4
	maxLabelRunes  = 32

	timelineHeight = 220
	timelineTop    = 14
	timelineBottom = 34
	timelineLeft   = 56
	timelineRight  = 10
)

// HBarChart is a horizontal bar chart laid out for the template.
type HBarChart struct {
	Width, Height int
	Bars          []HBar
	// LabelX, BarX and ValueX are where the label ends, bars start and values start.
	LabelX, BarX int
}

// HBar is one bar of an HBarChart.
type HBar struct {
	// Label is shown (shortened), Title is the full label for the tooltip.
	Label, Title string
	Value        string
	Y, TextY     int
	W            float64
	ValueX       float64
	// Class styles the bar (e.g. "bad", "warn", "muted").
	Class string
}

// hbar lays out a horizontal bar chart of counts. classOf picks a bar's class (may be nil).
func hbar(counts []Count, classOf func(key string) string) *HBarChart {
	if len(counts) == 0 {
		return nil
	}
	c := &HBarChart{Width: chartWidth, LabelX: barLabelWidth - 8, BarX: barLabelWidth}
	var top int64
	for _, n := range counts {
		top = max(top, n.N)
	}
	span := float64(chartWidth - barLabelWidth - barValueWidth)
	for i, n := range counts {
		y := barChartMargin + i*(barHeight+barGap)
		w := 0.0
		if top > 0 {
			w = math.Max(1, span*float64(n.N)/float64(top))
		}
		if n.N == 0 {
			w = 0
		}
		class := ""
		if classOf != nil {
			class = classOf(n.Key)
		}
		c.Bars = append(c.Bars, HBar{Label: shorten(n.Key), Title: n.Key, Value: thousands(n.N), Y: y,
			TextY: y + barHeight - 6, W: round1(w), ValueX: round1(float64(barLabelWidth) + w + 6), Class: class})
	}
	c.Height = 2*barChartMargin + len(counts)*(barHeight+barGap) - barGap
	return c
}

// TimelineChart is the request timeline laid out for the template: stacked bars of each
// outcome's first attempt and its further attempts per bucket, and a mark per bucket with 429
// failures.
type TimelineChart struct {
	Width, Height int
	Bars          []TimelineBar
	// Axis marks on the y axis and the x axis.
	YTicks []Tick
	XTicks []Tick
	// PlotLeft, PlotRight, PlotTop and PlotBottom bound the plot area.
	PlotLeft, PlotRight, PlotTop, PlotBottom int
	// Unit says what one bucket is ("per second", "per 5 minutes").
	Unit string
}

// TimelineBar is one bucket of the timeline.
type TimelineBar struct {
	X, W float64
	// OkY/OkH draw the first attempts, RetryY/RetryH the retries on top.
	OkY, OkH, RetryY, RetryH float64
	// Limited is true when entries of this bucket failed with too_many_requests.
	Limited bool
	Title   string
}

// Tick is one axis mark. Anchor is the SVG text-anchor that keeps the label inside the chart.
type Tick struct {
	Pos    float64
	Label  string
	Anchor string
}

// timelineChart lays out the timeline.
func timelineChart(t *Timeline) *TimelineChart {
	if t == nil || len(t.Buckets) == 0 {
		return nil
	}
	c := &TimelineChart{Width: chartWidth, Height: timelineHeight, PlotLeft: timelineLeft,
		PlotRight: chartWidth - timelineRight, PlotTop: timelineTop, PlotBottom: timelineHeight - timelineBottom,
		Unit: "per " + widthName(t.BucketSeconds)}
	var top int64
	for _, b := range t.Buckets {
		top = max(top, b.Attempts, b.Outcomes)
	}
	top = niceCeil(max(top, 1))
	plotH := float64(c.PlotBottom - c.PlotTop)
	step := float64(c.PlotRight-c.PlotLeft) / float64(len(t.Buckets))
	scale := func(v int64) float64 { return plotH * float64(v) / float64(top) }
	for i, b := range t.Buckets {
		total := max(b.Attempts, b.Outcomes)
		retries := min(b.Retries, total)
		ok := total - retries
		x := float64(c.PlotLeft) + float64(i)*step
		okH, rH := scale(ok), scale(retries)
		at := t.Start.Add(time.Duration(int64(i)*t.BucketSeconds) * time.Second)
		c.Bars = append(c.Bars, TimelineBar{
			X: round1(x + step*0.1), W: round1(math.Max(step*0.8, 0.5)),
			OkY: round1(float64(c.PlotBottom) - okH), OkH: round1(okH),
			RetryY: round1(float64(c.PlotBottom) - okH - rH), RetryH: round1(rH),
			Limited: b.RateLimited > 0,
			Title: fmt.Sprintf("%s: %d requests, %d retries, %d outcomes, %d failed, %d gave up on 429",
				at.Format("15:04:05"), b.Attempts, b.Retries, b.Outcomes, b.Failed, b.RateLimited),
		})
	}
	for _, f := range []int64{0, 2, 4} {
		v := top * f / 4
		c.YTicks = append(c.YTicks, Tick{Pos: round1(float64(c.PlotBottom) - scale(v)), Label: thousands(v)})
	}
	n := len(t.Buckets)
	for k, i := range []int{0, n / 2, n - 1} {
		at := t.Start.Add(time.Duration(int64(i)*t.BucketSeconds) * time.Second)
		tick := Tick{Pos: round1(float64(c.PlotLeft) + (float64(i)+0.5)*step), Label: at.Format("15:04:05"), Anchor: "middle"}
		switch {
		case n == 1:
		case k == 0:
			tick.Pos, tick.Anchor = float64(c.PlotLeft), "start"
		case k == 2:
			tick.Pos, tick.Anchor = float64(c.PlotRight), "end"
		}
		c.XTicks = append(c.XTicks, tick)
		if n == 1 {
			break
		}
	}
	return c
}

// widthName names a bucket width: "second", "5 seconds", "minute", "15 minutes", "hour".
func widthName(s int64) string {
	switch {
	case s == 1:
		return "second"
	case s < 60:
		return strconv.FormatInt(s, 10) + " seconds"
	case s == 60:
		return "minute"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + " minutes"
	case s == 3600:
		return "hour"
	default:
		return strconv.FormatInt(s/3600, 10) + " hours"
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v int64) int64 {
	p := int64(1)
	for {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
		p *= 10
	}
}

// FunnelChart is the funnel laid out for the template.
type FunnelChart struct {
	Width, Height int
	Steps         []FunnelBar
}

// FunnelBar is one funnel step: a centered bar with its label and count.
type FunnelBar struct {
	Label, Value, Help, Share string
	X, Y, W                   float64
	TextY                     int
	Known                     bool
}

const (
	funnelBarHeight = 34
	funnelGap       = 8
	funnelLabelW    = 110
)

// funnelChart lays out the funnel; unknown steps are drawn as dashed outlines.
func funnelChart(steps []FunnelStep) *FunnelChart {
	c := &FunnelChart{Width: chartWidth}
	var top int64
	for _, s := range steps {
		if s.Known {
			top = max(top, s.Count)
		}
	}
	span := float64(chartWidth - funnelLabelW - barValueWidth)
	var first int64 = -1
	for i, s := range steps {
		y := i * (funnelBarHeight + funnelGap)
		w := span
		if s.Known && top > 0 {
			w = math.Max(2, span*float64(s.Count)/float64(top))
		}
		b := FunnelBar{Label: s.Label, Help: s.Help, Known: s.Known, Y: float64(y), W: round1(w),
			X: round1(float64(funnelLabelW) + (span-w)/2), TextY: y + funnelBarHeight/2 + 5, Value: "not known"}
		if s.Known {
			b.Value = thousands(s.Count)
			if first < 0 {
				first = s.Count
			}
			if first > 0 {
				b.Share = fmt.Sprintf("%.1f%%", 100*float64(s.Count)/float64(first))
			}
		}
		c.Steps = append(c.Steps, b)
	}
	c.Height = len(steps)*(funnelBarHeight+funnelGap) - funnelGap
	return c
}

// shorten cuts a label to maxLabelRunes runes, marking the cut with an ellipsis.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxLabelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelRunes-1]) + "…"
}

// thousands formats n with comma separators: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
