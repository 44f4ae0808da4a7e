package reports

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// header is a table's header row: the row axis, then the column labels.
func (t *Table) header() []string {
	h := []string{t.RowAxis + " \\ " + t.ColAxis}
	for _, c := range t.Columns {
		h = append(h, unquote(c))
	}
	return h
}

// unquote shows a JSON string label without its quotes.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func (r Row) texts() []string {
	out := []string{unquote(r.Label)}
	for _, c := range r.Cells {
		out = append(out, c.Text)
	}
	return out
}

func render(w io.Writer, t *Table, opts ...tablewriter.Option) error {
	rows := [][]string{t.header()}
	for _, r := range t.Rows {
		rows = append(rows, r.texts())
	}
	for _, r := range t.Summary {
		rows = append(rows, r.texts())
	}
	return renderRows(w, rows, opts...)
}

// renderRows renders a header row and body rows with tablewriter.
func renderRows(w io.Writer, rows [][]string, opts ...tablewriter.Option) error {
	opts = append(opts,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignRight),
		tablewriter.WithHeaderAlignment(tw.AlignCenter))
	tb := tablewriter.NewTable(w, opts...)
	tb.Header(rows[0])
	for _, r := range rows[1:] {
		if err := tb.Append(r); err != nil {
			return err
		}
	}
	return tb.Render()
}

// renderFolded renders t within width columns of text: cells longer than
// a third of the width are cut with "…", and if the table is still wider
// its columns are split into groups, each printed with the row labels. It
// reports whether anything was cut or folded (the CSV has the whole
// table).
func renderFolded(w io.Writer, t *Table, width int) (bool, error) {
	rows := [][]string{t.header()}
	for _, r := range t.Rows {
		rows = append(rows, r.texts())
	}
	for _, r := range t.Summary {
		rows = append(rows, r.texts())
	}
	maxCell := max(12, width/3)
	changed := false
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for j, c := range r {
			if n := len([]rune(c)); n > maxCell {
				r[j] = string([]rune(c)[:maxCell-1]) + "…"
				changed = true
			}
			widths[j] = max(widths[j], len([]rune(r[j])))
		}
	}
	// Each column takes its text plus " │ " (3 runes); the frame 1 more.
	var groups [][]int
	var cur []int
	used := widths[0] + 4
	for j := 1; j < len(widths); j++ {
		if len(cur) > 0 && used+widths[j]+3 > width {
			groups = append(groups, cur)
			cur, used = nil, widths[0]+4
		}
		cur = append(cur, j)
		used += widths[j] + 3
	}
	groups = append(groups, cur)
	if len(groups) > 1 {
		changed = true
	}
	for _, g := range groups {
		if len(groups) > 1 {
			fmt.Fprintf(w, "(columns %d–%d of %d)\n", g[0], g[len(g)-1], len(widths)-1)
		}
		part := make([][]string, len(rows))
		for i, r := range rows {
			part[i] = []string{r[0]}
			for _, j := range g {
				part[i] = append(part[i], r[j])
			}
		}
		if err := renderRows(w, part); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func flipLines(t *Table) []string {
	var out []string
	for _, f := range t.Flips {
		out = append(out, fmt.Sprintf("%s: %s → %s between %s = %s and %s", unquote(f.Column), f.From, f.To, t.RowAxis, unquote(f.After), unquote(f.Before)))
	}
	return out
}

// WriteText renders the report for a terminal, tables at full width.
func (r *Report) WriteText(w io.Writer) error { return r.WriteTextWidth(w, 0) }

// WriteTextWidth renders the report for a terminal of width columns: a
// wider table has its long cells cut and its columns folded into groups,
// with a pointer to its CSV, which holds the whole table (width 0: no
// limit).
func (r *Report) WriteTextWidth(w io.Writer, width int) error {
	fmt.Fprintf(w, "# %s\n", r.Name)
	for _, x := range r.Experiments {
		fmt.Fprintf(w, "\n## %s\n", x.Name)
		if x.Description != "" {
			fmt.Fprintf(w, "%s\n", x.Description)
		}
		for i := range x.Tables {
			t := &x.Tables[i]
			fmt.Fprintf(w, "\n%s\n", t.FullTitle())
			if width > 0 {
				cut, err := renderFolded(w, t, width)
				if err != nil {
					return fmt.Errorf("rendering %s/%s: %w", x.Name, t.Name, err)
				}
				if cut {
					fmt.Fprintf(w, "  (cut to %d columns; the whole table is in %s)\n", width, CSVName(x.Name, t))
				}
			} else if err := render(w, t); err != nil {
				return fmt.Errorf("rendering %s/%s: %w", x.Name, t.Name, err)
			}
			for _, l := range flipLines(t) {
				fmt.Fprintf(w, "  flip  %s\n", l)
			}
		}
		if len(x.Claims) > 0 {
			fmt.Fprintf(w, "\nclaims\n")
			WriteClaims(w, x.Claims, "  ")
		}
	}
	return nil
}

// MarginText writes a claim's relative margin as a signed percentage
// ("margin +12%"), or "no margin" when no number measures it.
func (c Claim) MarginText() string {
	if c.Margin == nil {
		return "no margin"
	}
	return fmt.Sprintf("margin %+.3g%%", 100**c.Margin)
}

// SourceText is where the claim's threshold comes from, or "source not
// stated".
func (c Claim) SourceText() string {
	if c.Source == "" {
		return "source not stated"
	}
	return c.Source
}

// WeakClaims are the claims whose relative margin is under r, or that
// have none (a margin cannot say how close they are to failing).
func WeakClaims(claims []Claim, r float64) []Claim {
	var out []Claim
	for _, c := range claims {
		if c.Margin == nil || *c.Margin < r {
			out = append(out, c)
		}
	}
	return out
}

// WriteClaims prints claims briefly, one per line after indent: ✓ or ✗,
// the name, what it says and the comparison with its numbers; then the
// relative margin and the source of the threshold.
func WriteClaims(w io.Writer, claims []Claim, indent string) {
	for _, c := range claims {
		fmt.Fprintf(w, "%s%s %s: %s (%s)\n", indent, c.Mark(), c.Name, c.Says, c.Statement)
		fmt.Fprintf(w, "%s    %s; threshold: %s\n", indent, c.MarginText(), c.SourceText())
		if len(c.Failing) > 0 {
			fmt.Fprintf(w, "%s    fails for %s\n", indent, strings.Join(c.Failing, ", "))
		}
	}
}

// claimsMarkdown is an experiment's "Claims" section.
func claimsMarkdown(b *bytes.Buffer, claims []Claim) {
	if len(claims) == 0 {
		return
	}
	b.WriteString("### Claims\n\n")
	for _, c := range claims {
		fmt.Fprintf(b, "- %s **%s**: %s  \n  %s  \n  %s; threshold: %s\n", c.Mark(), c.Name, c.Says, c.Statement, c.MarginText(), c.SourceText())
		if len(c.Failing) > 0 {
			fmt.Fprintf(b, "  (fails for %s)\n", strings.Join(c.Failing, ", "))
		}
		if c.Paper != "" {
			fmt.Fprintf(b, "\n  The paper states: %s\n", c.Paper)
		}
	}
	b.WriteString("\n")
}

// Markdown renders the report as a Markdown document.
func (r *Report) Markdown() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Report: %s\n\nGenerated by hetalign; report.json holds every value.\n", r.Name)
	for _, x := range r.Experiments {
		fmt.Fprintf(&b, "\n## %s\n\n", x.Name)
		if x.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", x.Description)
		}
		for i := range x.Tables {
			t := &x.Tables[i]
			fmt.Fprintf(&b, "### %s\n\n", t.FullTitle())
			if err := render(&b, t, tablewriter.WithRenderer(renderer.NewMarkdown())); err != nil {
				return nil, fmt.Errorf("rendering %s/%s: %w", x.Name, t.Name, err)
			}
			if len(t.Summary) > 0 {
				fmt.Fprintf(&b, "\n%s\n", SummaryCaption(t))
			}
			if fl := flipLines(t); len(fl) > 0 {
				b.WriteString("\nChanges along the rows:\n\n")
				for _, l := range fl {
					fmt.Fprintf(&b, "- %s\n", l)
				}
			}
			b.WriteString("\n")
			for _, p := range x.Plots {
				if p.Table == t.Name {
					f := FigureFile(x.Name, p, t)
					fmt.Fprintf(&b, "![%s](%s.png) ([SVG](%s.svg))\n\n", p.Name, f, f)
				}
			}
		}
		claimsMarkdown(&b, x.Claims)
	}
	return b.Bytes(), nil
}

// summaryMeaning explains the summary labels that need it.
var summaryMeaning = []struct{ labels, says string }{
	{"p25, p75", "25th and 75th percentiles"},
	{"p25", "25th percentile"},
	{"p75", "75th percentile"},
	{"count", "how many are numbers"},
}

// SummaryCaption is the sentence under a table with summary rows: it names
// the rows it has ("The last 2 rows (mean, max) summarise the rows
// above.") and explains only the labels that are there.
func SummaryCaption(t *Table) string {
	labels := make([]string, len(t.Summary))
	has := map[string]bool{}
	for i, r := range t.Summary {
		labels[i] = unquote(r.Label)
		has[labels[i]] = true
	}
	var s string
	if len(labels) == 1 {
		s = fmt.Sprintf("The last row (%s) summarises the rows above", labels[0])
	} else {
		s = fmt.Sprintf("The last %d rows (%s) summarise the rows above", len(labels), strings.Join(labels, ", "))
	}
	var notes []string
	for _, m := range summaryMeaning {
		all := true
		for _, l := range strings.Split(m.labels, ", ") {
			all = all && has[l]
		}
		if !all {
			continue
		}
		for _, l := range strings.Split(m.labels, ", ") {
			delete(has, l)
		}
		notes = append(notes, m.labels+": "+m.says)
	}
	if len(notes) > 0 {
		s += "; " + strings.Join(notes, "; ")
	}
	return s + "."
}

// CSV renders one table (rows, then summary rows) as CSV.
func (t *Table) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(t.header()); err != nil {
		return nil, err
	}
	for _, r := range append(append([]Row{}, t.Rows...), t.Summary...) {
		if err := w.Write(r.texts()); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// FullTitle is the title, followed for a table of a series by its value.
func (t *Table) FullTitle() string {
	if t.Each == "" {
		return t.Title
	}
	return fmt.Sprintf("%s — %s = %s", t.Title, t.Each, unquote(t.EachValue))
}

// CSVName is the file name of a table's CSV: <experiment>.<table>.csv, or
// <experiment>.<table>.<value>.csv for a table of a series.
func CSVName(experiment string, t *Table) string {
	return fileName(experiment, t.Name, t) + ".csv"
}

// fileName is <experiment>.<name>[.<each value>] with characters that do
// not belong in file names replaced by '_'.
func fileName(experiment, name string, t *Table) string {
	name = experiment + "." + name
	if t.Each != "" {
		name += "." + unquote(t.EachValue)
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '\\', ' ', ':', '"', '\'':
			return '_'
		}
		return r
	}, name)
}
