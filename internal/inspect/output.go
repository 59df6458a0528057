package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// Table layout limits.
const (
	// maxCellRunes caps a table cell; longer values end in "…".
	maxCellRunes = 40
	// maxValueRunes caps a key-value metadata value in the table.
	maxValueRunes = 80
	// maxRowGroupsShown caps the row group sizes listed in the table.
	maxRowGroupsShown = 16
	// arrowSchemaKey is the metadata key where Arrow writers store their schema (base64).
	arrowSchemaKey = "ARROW:schema"
)

// writeJSON writes the summary as one JSON line, then one JSON line per row.
func writeJSON(buf *bytes.Buffer, sum Summary, sc *arrow.Schema, rows []row) error {
	head, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	buf.Write(head)
	buf.WriteByte('\n')
	for i, r := range rows {
		line, err := marshalRow(sc, r)
		if err != nil {
			return fmt.Errorf("encode row %d: %w", i, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return nil
}

// writeTable writes the summary and the rows for people.
func writeTable(buf *bytes.Buffer, sum Summary, sc *arrow.Schema, rows []row) {
	tw := tabwriter.NewWriter(buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", sum.Path)
	fmt.Fprintf(tw, "size\t%s\n", humanBytes(sum.Size))
	fmt.Fprintf(tw, "rows\t%d\n", sum.Rows)
	fmt.Fprintf(tw, "row groups\t%s\n", rowGroups(sum.RowGroups))
	if sum.CreatedBy != "" {
		fmt.Fprintf(tw, "created by\t%s\n", sanitize(sum.CreatedBy))
	}
	_ = tw.Flush()

	buf.WriteString("\nkey-value metadata\n")
	if len(sum.KeyValue) == 0 {
		buf.WriteString("  (none)\n")
	}
	tw = tabwriter.NewWriter(buf, 0, 0, 2, ' ', 0)
	for _, kv := range sum.KeyValue {
		v := truncate(sanitize(kv.Value), maxValueRunes)
		if kv.Key == arrowSchemaKey {
			v = fmt.Sprintf("(Arrow schema, %d bytes base64, shown below)", len(kv.Value))
		}
		fmt.Fprintf(tw, "  %s\t%s\n", sanitize(kv.Key), v)
	}
	_ = tw.Flush()

	buf.WriteString("\nschema\n")
	for _, f := range sc.Fields() {
		null := ""
		if f.Nullable {
			null = ", nullable"
		}
		fmt.Fprintf(buf, "  %s: %s%s\n", sanitize(f.Name), f.Type, null)
	}

	fmt.Fprintf(buf, "\nfirst %d of %d rows\n", len(rows), sum.Rows)
	if len(rows) == 0 {
		return
	}
	tw = tabwriter.NewWriter(buf, 0, 0, 2, ' ', 0)
	names := make([]string, sc.NumFields())
	for i, f := range sc.Fields() {
		names[i] = truncate(sanitize(f.Name), maxCellRunes)
	}
	fmt.Fprintf(tw, "  %s\n", strings.Join(names, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = truncate(sanitize(cellText(v)), maxCellRunes)
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
}

// rowGroups lists the row groups' sizes: "3: 100, 100, 50".
func rowGroups(sizes []int64) string {
	parts := make([]string, 0, min(len(sizes), maxRowGroupsShown)+1)
	for i, n := range sizes {
		if i == maxRowGroupsShown {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(sizes)-i))
			break
		}
		parts = append(parts, fmt.Sprint(n))
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s rows", len(sizes), strings.Join(parts, ", "))
}

// humanBytes renders a size as "1.5 MiB (1572864 bytes)".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

// sanitize escapes control characters (line breaks, tabs, escapes) so a value stays in its cell.
func sanitize(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := fmt.Sprintf("%+q", string(r))
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
