package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var reportTemplate string

// view is what the template renders: the model and its charts.
type view struct {
	*Model
	FunnelChart        *FunnelChart
	RejectChart        *HBarChart
	DuplicateChart     *HBarChart
	OrgOutcomeChart    *HBarChart
	MemberOutcomeChart *HBarChart
	ErrorTypeChart     *HBarChart
	TimelineChart      *TimelineChart
	LargestChart       *HBarChart
	DriftChart         *HBarChart
	Generated          string
}

// outcomeClass colors load outcomes: failures red, conflicts and skips amber.
func outcomeClass(key string) string {
	switch key {
	case "failed":
		return "bad"
	case "conflict", "skipped_org_failed":
		return "warn"
	}
	return ""
}

// newTemplate parses the report template. html/template escapes every value by context, so user
// data (emails, organization names) can never become markup.
func newTemplate() (*template.Template, error) {
	funcs := template.FuncMap{
		"n":  thousands,
		"ni": func(i int) string { return thousands(int64(i)) },
		"nptr": func(p *int64) string {
			if p == nil {
				return ""
			}
			return thousands(*p)
		},
		"bytes": humanBytes,
		"dur": func(d time.Duration) string {
			if d == 0 {
				return ""
			}
			return d.Round(time.Millisecond).String()
		},
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
	}
	return template.New("report").Funcs(funcs).Parse(reportTemplate)
}

// Render writes the report's HTML for m to w: one self-contained page with inline CSS and SVG, no
// script and no external reference.
func Render(w io.Writer, m *Model) error {
	t, err := newTemplate()
	if err != nil {
		return err
	}
	v := &view{Model: m, FunnelChart: funnelChart(m.Funnel), TimelineChart: timelineChart(m.Timeline),
		Generated: m.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC")}
	if m.Rejects != nil {
		v.RejectChart = hbar(m.Rejects.ByReason, nil)
	}
	if m.Duplicates != nil {
		v.DuplicateChart = hbar(m.Duplicates.TopOrgs, nil)
	}
	if m.Load != nil {
		v.OrgOutcomeChart = hbar(m.Load.Organizations, outcomeClass)
		v.MemberOutcomeChart = hbar(m.Load.Members, outcomeClass)
		v.ErrorTypeChart = hbar(m.Load.ErrorTypes, func(string) string { return "bad" })
	}
	if len(m.LargestOrgs) > 0 {
		counts := make([]Count, len(m.LargestOrgs))
		for i, o := range m.LargestOrgs {
			label := o.OrgKey
			if o.Name != "" && o.Name != o.OrgKey {
				label = o.Name + " (" + o.OrgKey + ")"
			}
			counts[i] = Count{Key: label, N: o.Members}
		}
		v.LargestChart = hbar(counts, nil)
	}
	if m.Drift != nil {
		v.DriftChart = hbar(m.Drift.ByKind, func(string) string { return "bad" })
	}
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// humanBytes formats a size: 512 B, 1.5 KiB, 12.0 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %s", float64(n)/float64(div), strings.Split("KiB MiB GiB TiB", " ")[exp])
}
