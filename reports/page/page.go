// Package page renders a report as one self-contained HTML page (inline
// CSS, inline SVG figures, a small inline script; no network request), the
// index of every report of a directory, and a diff of two reports as a
// page. Pages are built with html/template from report.json, provenance.json
// and the figures' SVG alone: rendering one computes nothing.
package page

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"hetalign/metrics"
	"hetalign/reports"
)

//go:embed assets
var assets embed.FS

// FileName is the page's name in a report directory, and the index's in
// the reports directory.
const FileName = "index.html"

// DataFile is a data file a spec read: its path, the SHA-256 of its bytes
// and its licence, as the README of its folder states it.
type DataFile struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Licence string `json:"licence"`
}

// Provenance is what a page shows of provenance.json (the runner writes
// it; unknown fields are ignored).
type Provenance struct {
	Report     string         `json:"report"`
	Spec       string         `json:"spec"`
	SpecDigest string         `json:"spec_digest,omitempty"`
	Profile    string         `json:"profile,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Created    string         `json:"created"`
	Host       string         `json:"host"`
	OS         string         `json:"os"`
	Go         string         `json:"go"`
	Hetalign   string         `json:"hetalign"`
	Code       string         `json:"code"`
	Backend    string         `json:"backend"`
	Device     string         `json:"device"`
	Git        *GitInfo       `json:"git,omitempty"`
	Steps      map[string]int `json:"steps"`
	Seconds    float64        `json:"seconds"`
	Failures   []string       `json:"failures,omitempty"`
	Data       []DataFile     `json:"data,omitempty"`
}

// GitInfo is the commit of the spec's repository and its dirty flag.
type GitInfo struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// ParseProvenance reads provenance.json.
func ParseProvenance(b []byte) (*Provenance, error) {
	p := new(Provenance)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("reading provenance: %w", err)
	}
	return p, nil
}

// Input is everything a report page is made of.
type Input struct {
	Report *reports.Report
	// Provenance, nil when the report has none.
	Provenance *Provenance
	// Figures maps a figure's file name without extension (see
	// reports.FigureFile) to its SVG.
	Figures map[string][]byte
	// Spec is the spec's text, "" when it cannot be read.
	Spec string
}

// Load reads a report directory: report.json, provenance.json when there
// is one, the figures' SVG files, and the spec's text when its path (as
// provenance.json names it, relative to the working directory) is readable.
func Load(dir string) (Input, error) {
	var in Input
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return in, fmt.Errorf("loading %s: %w", dir, err)
	}
	if in.Report, err = reports.ParseReport(b); err != nil {
		return in, fmt.Errorf("loading %s: %w", filepath.Join(dir, "report.json"), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "provenance.json")); err == nil {
		if in.Provenance, err = ParseProvenance(b); err != nil {
			return in, fmt.Errorf("loading %s: %w", filepath.Join(dir, "provenance.json"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return in, fmt.Errorf("loading %s: %w", dir, err)
	}
	in.Figures = map[string][]byte{}
	for _, x := range in.Report.Experiments {
		for _, f := range figureFiles(&x) {
			if b, err := os.ReadFile(filepath.Join(dir, f+".svg")); err == nil {
				in.Figures[f] = b
			}
		}
	}
	if in.Provenance != nil && in.Provenance.Spec != "" {
		if b, err := os.ReadFile(in.Provenance.Spec); err == nil {
			in.Spec = string(b)
		}
	}
	return in, nil
}

// figureFiles lists the figure files of an experiment.
func figureFiles(x *reports.Experiment) []string {
	var out []string
	for _, p := range x.Plots {
		for i := range x.Tables {
			if x.Tables[i].Name == p.Table {
				out = append(out, reports.FigureFile(x.Name, p, &x.Tables[i]))
			}
		}
	}
	return out
}

// WriteDir renders the page of the report directory dir into
// dir/index.html (unchanged bytes are not rewritten).
func WriteDir(dir string) error {
	in, err := Load(dir)
	if err != nil {
		return err
	}
	b, err := Render(in)
	if err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dir, FileName), b)
}

func writeIfChanged(p string, b []byte) error {
	if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// The view the templates render.

type reportView struct {
	Title  string
	Report *reports.Report
	Prov   *Provenance
	Spec   string
	Claims []claimView
	Held   int
	// Margins: some claim has a margin or a threshold's source.
	Margins    bool
	Experiment []experimentView
	CSS        template.CSS
	JS         template.JS
}

type claimView struct {
	Experiment string
	reports.Claim
	Margin string
}

type experimentView struct {
	Name, ID    string
	Description string
	Tables      []tableView
	Claims      int
}

type tableView struct {
	ID, Title, Caption string
	Corner             string
	Columns            []string
	Numeric            []bool
	Rows               []rowView
	Summary            []rowView
	Flips              []string
	Figures            []figureView
	CSV                string
}

type rowView struct {
	Label string
	Cells []cellView
}

type cellView struct {
	Text string
	// Sort is the number the column sorts by ("" for text).
	Sort    string
	Title   string
	Partial string
	// Seeds lists the values of the rows a summary cell summarises.
	Seeds  []seedView
	Spread string
	Num    bool
	// Pad is hidden text after a number ("0", ".00") that lines its
	// decimal point up with the column's other numbers.
	Pad string
	// ID names a witness cell; Link points a metric's cell at the cell of
	// its witness (metric NAME, witness NAME_witness: the axioms').
	ID, Link string
}

type seedView struct{ Label, Text string }

type figureView struct {
	Name, Caption string
	SVG           template.HTML
}

// Render builds the report page.
func Render(in Input) ([]byte, error) {
	rep := in.Report
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, err
	}
	js, err := assets.ReadFile("assets/page.js")
	if err != nil {
		return nil, err
	}
	v := reportView{Title: rep.Name, Report: rep, Prov: in.Provenance, Spec: in.Spec, CSS: template.CSS(css), JS: template.JS(js)}
	for _, x := range rep.Experiments {
		for _, c := range x.Claims {
			cv := claimView{Experiment: x.Name, Claim: c}
			if c.Margin != nil {
				cv.Margin = strconv.FormatFloat(*c.Margin*100, 'g', 3, 64) + "%"
			}
			v.Claims = append(v.Claims, cv)
			v.Margins = v.Margins || c.Margin != nil || c.Source != ""
			if c.Holds {
				v.Held++
			}
		}
		ev := experimentView{Name: x.Name, ID: "x-" + slug(x.Name), Description: x.Description, Claims: len(x.Claims)}
		for i := range x.Tables {
			tv, err := table(&x, &x.Tables[i], in.Figures)
			if err != nil {
				return nil, fmt.Errorf("report %s, experiment %s: %w", rep.Name, x.Name, err)
			}
			ev.Tables = append(ev.Tables, tv)
		}
		linkWitnesses(x.Tables, ev.Tables)
		v.Experiment = append(v.Experiment, ev)
	}
	// Failing claims first, each group in the spec's order.
	sort.SliceStable(v.Claims, func(i, j int) bool { return !v.Claims[i].Holds && v.Claims[j].Holds })
	return execute("report.html", v)
}

func table(x *reports.Experiment, t *reports.Table, figs map[string][]byte) (tableView, error) {
	csv := reports.CSVName(x.Name, t)
	tv := tableView{ID: "t-" + slug(strings.TrimSuffix(csv, ".csv")), Title: t.FullTitle(), CSV: csv,
		Corner: t.RowAxis + " \\ " + t.ColAxis}
	for _, c := range t.Columns {
		tv.Columns = append(tv.Columns, unquote(c))
	}
	tv.Numeric = make([]bool, len(t.Columns))
	for j := range t.Columns {
		num := true
		for _, r := range t.Rows {
			if j < len(r.Cells) && !r.Cells[j].Value.None && r.Cells[j].Value.Shape != metrics.Number {
				num = false
			}
		}
		tv.Numeric[j] = num
	}
	for _, r := range t.Rows {
		tv.Rows = append(tv.Rows, row(r, tv.Numeric))
	}
	for k, r := range t.Summary {
		rv := row(r, tv.Numeric)
		if k == 0 {
			// The first summary row lists what it summarises.
			for j := range rv.Cells {
				if j < len(tv.Numeric) && tv.Numeric[j] {
					rv.Cells[j].Seeds, rv.Cells[j].Spread = spread(t, j)
				}
			}
		}
		tv.Summary = append(tv.Summary, rv)
	}
	if len(t.Summary) > 0 {
		tv.Caption = reports.SummaryCaption(t)
	}
	alignDecimals(tv.Rows, tv.Summary, len(t.Columns))
	for _, f := range t.Flips {
		tv.Flips = append(tv.Flips, fmt.Sprintf("%s: %s → %s between %s = %s and %s", unquote(f.Column), f.From, f.To, t.RowAxis, unquote(f.After), unquote(f.Before)))
	}
	for _, p := range x.Plots {
		if p.Table != t.Name {
			continue
		}
		f := reports.FigureFile(x.Name, p, t)
		svg, ok := figs[f]
		if !ok {
			continue
		}
		s, err := inlineSVG(svg, slug(f))
		if err != nil {
			return tv, fmt.Errorf("figure %s: %w", f, err)
		}
		tv.Figures = append(tv.Figures, figureView{Name: p.Name, Caption: p.Title, SVG: s})
	}
	return tv, nil
}

// witnessSuffix marks a text metric holding the witness of the metric
// named without it (axiom_iia_witness for axiom_iia).
const witnessSuffix = "_witness"

// linkWitnesses links every cell of a metric that has a witness metric
// to the witness's cell in the experiment's tables — same row and same
// value of the table series' axis, in the column of the metric's name
// with witnessSuffix — where that witness is not none, and gives those
// witness cells their IDs: the axioms table's shares point at the
// smallest violating population.
func linkWitnesses(ts []reports.Table, views []tableView) {
	type at struct{ each, row, col string }
	ids := map[at]string{}
	for i, t := range ts {
		for r, row := range t.Rows {
			for j, c := range row.Cells {
				if j >= len(t.Columns) || !strings.HasSuffix(t.Columns[j], witnessSuffix) || c.Value.None {
					continue
				}
				id := views[i].ID + "-" + slug(row.Label) + "-" + slug(t.Columns[j])
				views[i].Rows[r].Cells[j].ID = id
				ids[at{t.EachValue, row.Label, strings.TrimSuffix(t.Columns[j], witnessSuffix)}] = id
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	for i, t := range ts {
		for r, row := range t.Rows {
			for j := range row.Cells {
				if j >= len(t.Columns) {
					continue
				}
				if id, ok := ids[at{t.EachValue, row.Label, t.Columns[j]}]; ok {
					views[i].Rows[r].Cells[j].Link = "#" + id
				}
			}
		}
	}
}

func row(r reports.Row, numeric []bool) rowView {
	rv := rowView{Label: unquote(r.Label)}
	for j, c := range r.Cells {
		cv := cellView{Text: c.Text, Num: j < len(numeric) && numeric[j]}
		if !c.Value.None && c.Value.Shape == metrics.Number {
			cv.Sort = strconv.FormatFloat(c.Value.Number, 'g', -1, 64)
			if cv.Sort != c.Text {
				cv.Title = cv.Sort
			} else {
				cv.Sort = "" // the script sorts by the text when it is the number
			}
		}
		if c.Of > 0 && c.N < c.Of {
			cv.Partial = fmt.Sprintf("mean of %d of %d seeds", c.N, c.Of)
		}
		rv.Cells = append(rv.Cells, cv)
	}
	return rv
}

var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// alignDecimals pads the plain decimal numbers of each column with hidden
// zeros (and point) to the most decimals in the column, so that with
// tabular figures and right alignment the decimal points line up while the
// text shown stays the report's.
func alignDecimals(rows, summary []rowView, ncol int) {
	all := append(append([]rowView{}, rows...), summary...)
	for j := range ncol {
		most := 0
		for _, r := range all {
			if j < len(r.Cells) && plainDecimal.MatchString(r.Cells[j].Text) {
				if i := strings.IndexByte(r.Cells[j].Text, '.'); i >= 0 {
					most = max(most, len(r.Cells[j].Text)-i-1)
				}
			}
		}
		if most == 0 {
			continue
		}
		pad := func(c *cellView) {
			if !plainDecimal.MatchString(c.Text) {
				return
			}
			if i := strings.IndexByte(c.Text, '.'); i >= 0 {
				c.Pad = strings.Repeat("0", most-(len(c.Text)-i-1))
			} else {
				c.Pad = "." + strings.Repeat("0", most)
			}
		}
		for _, rs := range [][]rowView{rows, summary} {
			for k := range rs {
				if j < len(rs[k].Cells) {
					pad(&rs[k].Cells[j])
				}
			}
		}
	}
}

// spread lists the numbers of column j of the rows and says n, min,
// median and max.
func spread(t *reports.Table, j int) ([]seedView, string) {
	var seeds []seedView
	var xs []float64
	for _, r := range t.Rows {
		c := r.Cells[j]
		seeds = append(seeds, seedView{unquote(r.Label), c.Text})
		if !c.Value.None && c.Value.Shape == metrics.Number && !math.IsNaN(c.Value.Number) {
			xs = append(xs, c.Value.Number)
		}
	}
	if len(xs) == 0 {
		return seeds, fmt.Sprintf("n = 0 of %d", len(t.Rows))
	}
	sort.Float64s(xs)
	g := func(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
	return seeds, fmt.Sprintf("n = %d · min %s · median %s · max %s", len(xs), g(xs[0]), g(reports.Quantile(xs, 0.5)), g(xs[len(xs)-1]))
}

var (
	svgProlog = regexp.MustCompile(`(?s)^.*?(<svg\b)`)
	svgXMLNS  = regexp.MustCompile(`\s+xmlns(:xlink)?="[^"]*"`)
	svgIDs    = regexp.MustCompile(`\bid="([^"]+)"`)
	svgRefs   = regexp.MustCompile(`(url\(#|href="#)([^)"]+)`)
)

// inlineSVG prepares an SVG file for a page: no XML prolog or namespace
// declarations (HTML knows svg), ids made unique with prefix, and no
// reference to anything but the figure's own ids.
func inlineSVG(b []byte, prefix string) (template.HTML, error) {
	s := string(b)
	if !strings.Contains(s, "<svg") {
		return "", fmt.Errorf("not an SVG")
	}
	s = svgProlog.ReplaceAllString(s, "$1")
	s = svgXMLNS.ReplaceAllString(s, "")
	s = svgIDs.ReplaceAllString(s, `id="`+prefix+`-$1"`)
	s = svgRefs.ReplaceAllString(s, "$1"+prefix+"-$2")
	if strings.Contains(s, "<script") || strings.Contains(s, "http://") || strings.Contains(s, "https://") {
		return "", fmt.Errorf("the SVG has a script or an external reference")
	}
	return template.HTML(s), nil
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// slug keeps letters, digits, '.', '_' and '-' of s; others become '_'.
func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"seconds": func(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + " s" },
	"plus1":   func(i int) int { return i + 1 },
}

var templates = template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html"))

func execute(name string, v any) ([]byte, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.Bytes(), nil
}
