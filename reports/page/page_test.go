package page

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"hetalign/metrics"
	"hetalign/reports"
)

// committed lists the report directories committed beside this package.
func committed(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../*/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Dir(d))
	}
	if len(out) == 0 {
		t.Fatal("no committed report found under ../")
	}
	return out
}

// attr is the value of an attribute of n.
func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, c string) bool {
	v, _ := attr(n, "class")
	for _, f := range strings.Fields(v) {
		if f == c {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func find(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// external reports the attributes and style text of doc that would make
// the browser fetch something: an URL with a scheme or a host (other
// than data:), in src, href, action, poster, srcset, xlink:href, or url()
// and @import in CSS.
func external(doc *html.Node) []string {
	var bad []string
	isExternal := func(u string) bool {
		u = strings.TrimSpace(strings.ToLower(u))
		if strings.HasPrefix(u, "#") || strings.HasPrefix(u, "data:") || u == "" {
			return false
		}
		return strings.Contains(u, ":") || strings.HasPrefix(u, "//")
	}
	for _, n := range find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		for _, a := range n.Attr {
			switch a.Key {
			case "src", "href", "action", "poster", "srcset", "xlink:href", "formaction", "data":
				if isExternal(a.Val) {
					bad = append(bad, fmt.Sprintf("<%s %s=%q>", n.Data, a.Key, a.Val))
				}
			case "style":
				if strings.Contains(a.Val, "url(") && !strings.Contains(a.Val, "url(#") {
					bad = append(bad, fmt.Sprintf("<%s style=%q>", n.Data, a.Val))
				}
			}
		}
		switch n.Data {
		case "link", "img", "iframe", "embed", "object", "video", "audio", "source":
			src, _ := attr(n, "src")
			href, _ := attr(n, "href")
			if !strings.HasPrefix(src+href, "data:") {
				bad = append(bad, "<"+n.Data+">")
			}
		}
		if n.Data == "script" {
			if _, ok := attr(n, "src"); ok {
				bad = append(bad, "<script src>")
			}
		}
		if n.Data == "style" {
			css := text(n)
			if strings.Contains(css, "@import") || strings.Contains(css, "url(") {
				bad = append(bad, "CSS fetches: @import or url(")
			}
		}
	}
	return bad
}

// checkPage parses a report page and checks it against its report: every
// table cell's text appears, in order, in the table of the same id; the
// claims count equals the report's; nothing external is referenced.
func checkPage(t *testing.T, name string, b []byte, rep *reports.Report) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: the page does not parse: %v", name, err)
	}
	if bad := external(doc); len(bad) > 0 {
		t.Errorf("%s: external references: %v", name, bad)
	}
	tables := map[string]*html.Node{}
	for _, n := range find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "table" && hasClass(n, "data") }) {
		id, _ := attr(n, "id")
		if tables[id] != nil {
			t.Errorf("%s: two tables have the id %q", name, id)
		}
		tables[id] = n
	}
	nTables, nClaims, held := 0, 0, 0
	for _, x := range rep.Experiments {
		for i := range x.Tables {
			tb := &x.Tables[i]
			nTables++
			id := "t-" + slug(strings.TrimSuffix(reports.CSVName(x.Name, tb), ".csv"))
			n := tables[id]
			if n == nil {
				t.Errorf("%s: no table %s for %s/%s", name, id, x.Name, tb.FullTitle())
				continue
			}
			var want []string
			for _, r := range append(append([]reports.Row{}, tb.Rows...), tb.Summary...) {
				want = append(want, unquote(r.Label))
				for _, c := range r.Cells {
					want = append(want, c.Text)
				}
			}
			var got []string
			for _, c := range find(n, func(n *html.Node) bool {
				return n.Type == html.ElementNode && (n.Data == "th" && n.Parent.Parent.Data != "thead" || (n.Data == "span" || n.Data == "a") && hasClass(n, "v"))
			}) {
				if c.Data == "th" {
					got = append(got, text(c))
				} else {
					got = append(got, text(c))
				}
			}
			if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
				t.Errorf("%s: table %s shows %d labels and cells, report.json has %d; first difference: %s", name, id, len(got), len(want), firstDiff(got, want))
			}
		}
		for _, c := range x.Claims {
			nClaims++
			if c.Holds {
				held++
			}
		}
	}
	if len(tables) != nTables {
		t.Errorf("%s: %d tables on the page, %d in report.json", name, len(tables), nTables)
	}
	rows := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "tr" && hasClass(n, "claim") })
	if len(rows) != nClaims {
		t.Errorf("%s: %d claims on the page, %d in report.json", name, len(rows), nClaims)
	}
	// Failing claims come first.
	seenHolds := false
	for _, r := range rows {
		h, _ := attr(r, "data-holds")
		if h == "true" {
			seenHolds = true
		} else if seenHolds {
			t.Errorf("%s: a failing claim comes after a claim that holds", name)
		}
	}
	if nClaims > 0 && !strings.Contains(text(doc), fmt.Sprintf("Claims: %d of %d hold", held, nClaims)) {
		t.Errorf("%s: the claims heading does not say %d of %d", name, held, nClaims)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: page %q, report %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

// TestCommittedPages renders the page of every committed report (from its
// report.json, provenance.json and figures, computing nothing) and checks
// it without a browser.
func TestCommittedPages(t *testing.T) {
	for _, dir := range committed(t) {
		in, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Render(in)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		checkPage(t, dir, b, in.Report)
		if len(b) > 2<<20 {
			t.Errorf("%s: the page has %d bytes, more than 2 MiB", dir, len(b))
		}
		nfig := 0
		for _, x := range in.Report.Experiments {
			nfig += len(figureFiles(&x))
		}
		if got := bytes.Count(b, []byte("<figure>")); got != nfig {
			t.Errorf("%s: %d figures on the page, %d figure files", dir, got, nfig)
		}
	}
}

// TestPageMarkers: a cell summarised over some of its seeds says so, a
// summary row lists the values it summarises, a failing claim comes first
// with its margin and source, and text from the report is escaped.
func TestPageMarkers(t *testing.T) {
	num := func(x float64) reports.Cell {
		return reports.Cell{Value: metrics.Num(x), Text: reports.Format(metrics.Num(x), 3)}
	}
	part := num(0.25)
	part.N, part.Of = 3, 5
	m := -0.125
	rep := &reports.Report{Name: "r", Experiments: []reports.Experiment{{
		Name: "x", Description: "<script>alert(1)</script>",
		Tables: []reports.Table{{Name: "t", Title: "T", RowAxis: "seed", ColAxis: "method", Columns: []string{`"a"`},
			Rows:    []reports.Row{{Label: "0", Cells: []reports.Cell{num(1)}}, {Label: "1", Cells: []reports.Cell{num(3)}}, {Label: "2", Cells: []reports.Cell{part}}},
			Summary: []reports.Row{{Label: "mean", Cells: []reports.Cell{num(1.4166)}}}}},
		Claims: []reports.Claim{
			{Name: "good", Says: "holds", Statement: "t[mean, a] = 1.42 greater 0", Holds: true},
			{Name: "bad", Says: "fails", Statement: "t[mean, a] = 1.42 less 1", Margin: &m, Source: "the paper's rounding", Paper: "it is below 1"},
		},
	}}}
	b, err := Render(Input{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, "markers", b, rep)
	s := string(b)
	for _, want := range []string{
		"mean of 3 of 5 seeds",
		"n = 3 · min 0.25 · median 1 · max 3", // the rows' numbers, sorted: 0.25, 1, 3
		"-12.5%", "the paper&#39;s rounding", "The paper states: it is below 1",
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		// 1 and 3 padded to the two decimals of 0.25 and 1.42.
		`<span class="v">1</span><i>.00</i>`,
		`<span class="v">0.25</span><span class="partial"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Index(s, "<b>x / bad</b>") > strings.Index(s, "<b>x / good</b>") {
		t.Error("the failing claim is not on top")
	}
}

// A metric's cells link to its witness's cell (axiom_iia → the
// axiom_iia_witness cell of the same row and series value), which gets
// the id the link names; a none witness gets no link, and nothing links
// across the series (τ = 1's share does not point at τ = 2's witness).
func TestWitnessLinks(t *testing.T) {
	num := func(x float64) reports.Cell {
		return reports.Cell{Value: metrics.Num(x), Text: reports.Format(metrics.Num(x), 3)}
	}
	txt := func(s string) reports.Cell { return reports.Cell{Value: metrics.Str(s), Text: s} }
	none := reports.Cell{Value: metrics.NA(), Text: "none"}
	shares := func(each string) reports.Table {
		return reports.Table{Name: "axioms", Title: "A", Each: "tau", EachValue: each, RowAxis: "method", ColAxis: "metric", Columns: []string{"axiom_iia"},
			Rows: []reports.Row{{Label: "dpo", Cells: []reports.Cell{num(0.8)}}, {Label: "oracle", Cells: []reports.Cell{num(1)}}}}
	}
	witness := reports.Table{Name: "witnesses", Title: "W", Each: "tau", EachValue: "1", RowAxis: "method", ColAxis: "metric", Columns: []string{"axiom_iia_witness"},
		Rows: []reports.Row{{Label: "dpo", Cells: []reports.Cell{txt("a3 t2 | removing c: a < b becomes a > b")}}, {Label: "oracle", Cells: []reports.Cell{none}}}}
	rep := &reports.Report{Name: "r", Experiments: []reports.Experiment{{Name: "x", Tables: []reports.Table{shares("1"), shares("2"), witness}}}}
	b, err := Render(Input{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, "witness links", b, rep)
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	links := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "a" && hasClass(n, "v") })
	if len(links) != 1 {
		t.Fatalf("%d witness links, want 1 (dpo at τ = 1)", len(links))
	}
	href, _ := attr(links[0], "href")
	if text(links[0]) != "0.8" || !strings.HasPrefix(href, "#") {
		t.Fatalf("link %q on %q, want one on dpo's 0.8", href, text(links[0]))
	}
	target := find(doc, func(n *html.Node) bool { id, ok := attr(n, "id"); return ok && id == href[1:] })
	if len(target) != 1 || !strings.HasPrefix(text(target[0]), "a3 t2") {
		t.Fatalf("the link's target %q is not dpo's witness cell", href)
	}
}

// TestDiffPage: a one-cell change shows exactly that cell, with its delta,
// the count of compared cells, and the flipped claim first.
func TestDiffPage(t *testing.T) {
	b, err := os.ReadFile("../toy/report.json")
	if err != nil {
		t.Fatal(err)
	}
	old, err := reports.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	var new reports.Report
	if err := json.Unmarshal(b, &new); err != nil {
		t.Fatal(err)
	}
	// Change one numeric cell and flip the first claim.
	var row, col string
	var was float64
	cells := 0
done:
	for xi := range new.Experiments {
		for ti := range new.Experiments[xi].Tables {
			tb := &new.Experiments[xi].Tables[ti]
			for ri := range tb.Rows {
				for ci, c := range tb.Rows[ri].Cells {
					if c.Value.Shape == metrics.Number && !c.Value.None && c.Value.Number != 0 {
						was = c.Value.Number
						v := metrics.Num(was * 1.5)
						tb.Rows[ri].Cells[ci] = reports.Cell{Value: v, Text: reports.Format(v, 4)}
						row, col = unquote(tb.Rows[ri].Label), unquote(tb.Columns[ci])
						break done
					}
				}
			}
		}
	}
	for _, x := range old.Experiments {
		for _, tb := range x.Tables {
			for _, r := range append(append([]reports.Row{}, tb.Rows...), tb.Summary...) {
				cells += len(r.Cells)
			}
		}
	}
	flipped := ""
	for xi := range new.Experiments {
		if len(new.Experiments[xi].Claims) > 0 {
			c := &new.Experiments[xi].Claims[0]
			c.Holds = !c.Holds
			flipped = new.Experiments[xi].Name + " / " + c.Name
			break
		}
	}
	page, past, err := Diff(DiffInput{Old: Side{Label: "old", Report: old}, New: Side{Label: "new", Report: &new}, Tolerance: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	if past != 1 {
		t.Errorf("%d changes past the tolerance, want 1", past)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if bad := external(doc); len(bad) > 0 {
		t.Errorf("external references: %v", bad)
	}
	changes := find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "tr" && hasClass(n, "change") })
	if len(changes) != 1 {
		t.Fatalf("%d changed rows, want 1", len(changes))
	}
	tds := find(changes[0], func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "td" })
	got := []string{text(tds[0]), text(tds[1]), text(tds[5])}
	want := []string{row, col, fmt.Sprint(reports.Format(metrics.Num(was*1.5-was), 4))}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("changed row shows %q, want %q", got, want)
	}
	if s := text(doc); !strings.Contains(s, fmt.Sprintf("%d cells compared, 1 changed past the tolerance", cells)) {
		t.Errorf("the summary line does not say %d cells compared, 1 changed", cells)
	}
	if flipped != "" && !strings.Contains(string(page), "<b>"+flipped+"</b>") {
		t.Errorf("the flipped claim %s is not listed", flipped)
	}
}

// TestExternal: the no-network check finds what would make a browser
// fetch, and lets fragments, relative links and data: URLs pass.
func TestExternal(t *testing.T) {
	cases := []struct {
		doc string
		bad bool
	}{
		{`<a href="#x=a">a</a><a href="../index.html">i</a><link rel="icon" href="data:,">`, false},
		{`<img src="https://example.org/a.png">`, true},
		{`<script src="app.js"></script>`, true},
		{`<link rel="stylesheet" href="s.css">`, true},
		{`<a href="//cdn.example.org/x">x</a>`, true},
		{`<style>@import "x.css";</style>`, true},
		{`<div style="background:url(http://x/y.png)"></div>`, true},
		{`<svg><use xlink:href="http://x/y.svg#a"></use></svg>`, true},
	}
	for _, c := range cases {
		doc, err := html.Parse(strings.NewReader(c.doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := external(doc); (len(got) > 0) != c.bad {
			t.Errorf("%s: external = %v, want bad %v", c.doc, got, c.bad)
		}
	}
}

// BenchmarkCommittedPages renders the pages of every committed report and
// the index, as run and report --index do (reading the files included).
func BenchmarkCommittedPages(b *testing.B) {
	dir := b.TempDir()
	src, _ := filepath.Glob("../*/report.json")
	for _, p := range src {
		name := filepath.Base(filepath.Dir(p))
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		es, _ := os.ReadDir(filepath.Dir(p))
		for _, e := range es {
			if bs, err := os.ReadFile(filepath.Join(filepath.Dir(p), e.Name())); err == nil {
				os.WriteFile(filepath.Join(dir, name, e.Name()), bs, 0o644)
			}
		}
	}
	for b.Loop() {
		for _, p := range src {
			os.Remove(filepath.Join(dir, filepath.Base(filepath.Dir(p)), FileName))
		}
		if err := WriteAll(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderCommitted renders the pages of every committed report from
// their loaded files: what run adds to writing a report it has in memory.
func BenchmarkRenderCommitted(b *testing.B) {
	src, _ := filepath.Glob("../*/report.json")
	var ins []Input
	for _, p := range src {
		in, err := Load(filepath.Dir(p))
		if err != nil {
			b.Fatal(err)
		}
		ins = append(ins, in)
	}
	for b.Loop() {
		for _, in := range ins {
			if _, err := Render(in); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestDiffPageStructure: experiments and tables only one side has are
// listed as added or removed, and a claim that flipped is listed first.
func TestDiffPageStructure(t *testing.T) {
	num := func(x float64) reports.Cell {
		return reports.Cell{Value: metrics.Num(x), Text: reports.Format(metrics.Num(x), 3)}
	}
	tab := func(name string, x float64) reports.Table {
		return reports.Table{Name: name, Title: name, RowAxis: "seed", ColAxis: "method", Columns: []string{"m"},
			Rows: []reports.Row{{Label: "0", Cells: []reports.Cell{num(x)}}}}
	}
	old := &reports.Report{Name: "r", Experiments: []reports.Experiment{
		{Name: "x", Tables: []reports.Table{tab("a", 1), tab("b", 2)}, Claims: []reports.Claim{{Name: "c", Says: "a is 1", Statement: "a = 1", Holds: true}}},
	}}
	new := &reports.Report{Name: "r", Experiments: []reports.Experiment{
		{Name: "x", Tables: []reports.Table{tab("a", 1)}, Claims: []reports.Claim{{Name: "c", Says: "a is 1", Statement: "a = 1.5", Holds: false}}},
		{Name: "y", Tables: []reports.Table{tab("d", 3)}},
	}}
	b, past, err := Diff(DiffInput{Old: Side{Label: "o", Report: old}, New: Side{Label: "n", Report: new}})
	if err != nil {
		t.Fatal(err)
	}
	if past != 2 { // b[0, m] removed, d[0, m] added
		t.Errorf("%d changes past the tolerance, want 2", past)
	}
	s := string(b)
	for _, want := range []string{"added: experiment y", "added: table y / d", "removed: table x / b", "1 cells compared, 2 changed past the tolerance", "<b>x / c</b>"} {
		if !strings.Contains(s, want) {
			t.Errorf("the diff page lacks %q", want)
		}
	}
	if strings.Contains(s, "removed: experiment x") || strings.Contains(s, "table x / a") {
		t.Error("the diff page lists what both sides have")
	}
	if strings.Index(s, `id="flipped"`) > strings.Index(s, `id="changes"`) {
		t.Error("the flipped claims are not first")
	}
}

// TestIndexListsBrokenReports: a folder whose report.json cannot be read is
// listed with why, and the others keep their rows and links.
func TestIndexListsBrokenReports(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad", "report.json"), []byte(`{"nope": 1}`), 0o644)
	os.MkdirAll(filepath.Join(dir, "good"), 0o755)
	b, _ := os.ReadFile("../toy/report.json")
	os.WriteFile(filepath.Join(dir, "good", "report.json"), b, 0o644)
	if err := WriteDir(filepath.Join(dir, "good")); err != nil {
		t.Fatal(err)
	}
	if err := WriteIndex(dir); err != nil {
		t.Fatal(err)
	}
	idx, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(idx), `<a href="good/index.html">good</a>`) || !strings.Contains(string(idx), "unreadable: ") {
		t.Errorf("index:\n%s", idx)
	}
	if err := WriteAll(dir); err == nil || !strings.Contains(err.Error(), "report bad") {
		t.Errorf("WriteAll with a broken report: %v", err)
	}
}
