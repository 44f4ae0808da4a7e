//go:build browser

// Tests of the HTML pages in a real headless Chromium (Debian's chromium),
// driven through chromedp: go tool task test-browser. Screenshots and the
// load timings go to $HETALIGN_BROWSER_OUT (default: a temporary folder).

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"hetalign/metrics"
	"hetalign/reports"
	"hetalign/reports/page"
)

// browser is one headless Chromium tab that records every network request
// and every console error.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
	errors   []string
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: go tool task test-browser installs Debian's chromium (root and apt-get)")
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				b.errors = append(b.errors, "console."+string(ev.Type))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				b.errors = append(b.errors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}))
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b.ctx = ctx
	return b
}

// clean fails t for a console error or a request whose URL does not start
// with one of allowed, and forgets what it saw.
func (b *browser) clean(t *testing.T, allowed ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.requests {
		ok := strings.HasPrefix(u, "data:")
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(u, a)
		}
		if !ok {
			t.Errorf("the page requested %s", u)
		}
	}
	for _, e := range b.errors {
		t.Errorf("console error: %s", e)
	}
	b.requests, b.errors = nil, nil
}

func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// open navigates to u and waits for the page's script to have run.
func (b *browser) open(t *testing.T, u string) {
	t.Helper()
	b.do(t, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS(`html[data-ready="1"]`)))
}

func outDir(t *testing.T) string {
	d := os.Getenv("HETALIGN_BROWSER_OUT")
	if d == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(outDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// timing loads u n times and returns the median of the browser's own
// load-event end (ms from the start of navigation).
func (b *browser) timing(t *testing.T, u string, n int) float64 {
	var ms []float64
	for range n {
		b.open(t, u+"#")
		ms = append(ms, eval[float64](t, b, `performance.getEntriesByType("navigation")[0].loadEventEnd`))
	}
	sort.Float64s(ms)
	return ms[n/2]
}

// renderCommitted copies the committed reports named into a folder and
// renders their pages and the index from report.json alone.
func renderCommitted(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		src := filepath.Join("..", "..", "reports", n)
		dst := filepath.Join(dir, n)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		es, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Name() == page.FileName {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := page.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readReport(t *testing.T, p string) *reports.Report {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := reports.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tableID(x string, tb *reports.Table) string {
	id := "t-" + strings.TrimSuffix(reports.CSVName(x, tb), ".csv")
	return regexp.MustCompile(`[^A-Za-z0-9._-]`).ReplaceAllString(id, "_")
}

func claimsOf(r *reports.Report) int {
	n := 0
	for _, x := range r.Experiments {
		n += len(x.Claims)
	}
	return n
}

// columnValues reads the numbers of column col (1-based cell index) of the
// visible body rows of table id: a cell's data-v where its text rounds the
// number, else its text.
func columnValues(t *testing.T, b *browser, id string, col int) []float64 {
	js := fmt.Sprintf(`Array.from(document.getElementById(%q).tBodies[0].rows).filter(r => !r.classList.contains("hidden")).map(r => r.cells[%d].getAttribute("data-v") ?? r.cells[%d].querySelector(".v").textContent)`, id, col, col)
	var out []float64
	for _, s := range eval[[]string](t, b, js) {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("cell value %q: %v", s, err)
		}
		out = append(out, x)
	}
	return out
}

// sortable picks the table of r with the most rows whose first column is
// numbers on every row, not already in order.
func sortable(r *reports.Report) (string, *reports.Table) {
	var bx string
	var bt *reports.Table
	for _, x := range r.Experiments {
		for i := range x.Tables {
			tb := &x.Tables[i]
			var xs []float64
			for _, row := range tb.Rows {
				v := row.Cells[0].Value
				if v.None || v.Shape != metrics.Number {
					xs = nil
					break
				}
				xs = append(xs, v.Number)
			}
			if len(xs) >= 3 && !sort.Float64sAreSorted(xs) && (bt == nil || len(tb.Rows) > len(bt.Rows)) {
				bx, bt = x.Name, tb
			}
		}
	}
	return bx, bt
}

func TestBrowserReportPages(t *testing.T) {
	dir := renderCommitted(t, "toy", "aggregation")
	b := newBrowser(t)
	var timings []string
	for _, name := range []string{"toy", "aggregation"} {
		rep := readReport(t, filepath.Join(dir, name, "report.json"))
		u := "file://" + filepath.Join(dir, name, page.FileName)
		b.open(t, u)
		if got, want := eval[int](t, b, `document.querySelectorAll("tr.claim").length`), claimsOf(rep); got != want {
			t.Errorf("%s: %d claims on the page, report.json has %d", name, got, want)
		}
		b.shot(t, name+".png")
		b.clean(t, "file://")
		fi, _ := os.Stat(filepath.Join(dir, name, page.FileName))
		ms := b.timing(t, u, 5)
		timings = append(timings, fmt.Sprintf("%s: %d bytes, load+render %.1f ms (median of 5, loadEventEnd)", name, fi.Size(), ms))
		b.clean(t, "file://")
	}
	t.Log(strings.Join(timings, "\n"))
	os.WriteFile(filepath.Join(outDir(t), "timing.txt"), []byte(strings.Join(timings, "\n")+"\n"), 0o644)

	// Sorting, filtering and the view in the fragment, on the toy page.
	rep := readReport(t, filepath.Join(dir, "toy", "report.json"))
	u := "file://" + filepath.Join(dir, "toy", page.FileName)
	x, tb := sortable(rep)
	if tb == nil {
		t.Fatal("no table to sort in the toy report")
	}
	id := tableID(x, tb)
	var want []float64
	for _, r := range tb.Rows {
		want = append(want, r.Cells[0].Value.Number)
	}
	sort.Float64s(want)
	b.open(t, u)
	th := chromedp.CSS(fmt.Sprintf(`[id=%q] thead th:nth-child(2)`, id))
	b.do(t, chromedp.ScrollIntoView(th), chromedp.Click(th))
	if got := columnValues(t, b, id, 1); !slices.Equal(got, want) {
		t.Errorf("after one click on %s's first column: %v, want ascending %v", id, got, want)
	}
	b.do(t, chromedp.Click(th))
	desc := slices.Clone(want)
	slices.Reverse(desc)
	if got := columnValues(t, b, id, 1); !slices.Equal(got, desc) {
		t.Errorf("after two clicks: %v, want descending %v", got, desc)
	}
	if h := eval[string](t, b, `location.hash`); h != "#t="+id+"&s=1%3Adesc" {
		t.Errorf("the fragment after sorting is %q", h)
	}

	// Filter by the text of one row's label: the rows whose label or
	// cells contain it stay.
	q := unquoteLabel(tb.Rows[len(tb.Rows)/2].Label)
	visible := 0
	for _, r := range tb.Rows {
		s := unquoteLabel(r.Label)
		for _, c := range r.Cells {
			s += " " + c.Text
		}
		if strings.Contains(strings.ToLower(s), strings.ToLower(q)) {
			visible++
		}
	}
	in := chromedp.CSS(fmt.Sprintf(`input.filter[data-for=%q]`, id))
	b.do(t, chromedp.ScrollIntoView(in), chromedp.SendKeys(in, q))
	got := eval[int](t, b, fmt.Sprintf(`Array.from(document.getElementById(%q).tBodies[0].rows).filter(r => !r.classList.contains("hidden")).length`, id))
	if got != visible || visible == len(tb.Rows) {
		t.Errorf("filter %q shows %d of %d rows, want %d", q, got, len(tb.Rows), visible)
	}
	frag := eval[string](t, b, `location.hash`)

	// The fragment restores the view in a fresh load.
	b.do(t, chromedp.Navigate("about:blank"))
	b.open(t, u+frag)
	if got := eval[string](t, b, fmt.Sprintf(`document.querySelector('input.filter[data-for=%q]').value`, id)); got != q {
		t.Errorf("the fragment %s restores the filter %q, want %q", frag, got, q)
	}
	restored := columnValues(t, b, id, 1)
	if len(restored) != visible || !sort.IsSorted(sort.Reverse(sort.Float64Slice(restored))) {
		t.Errorf("the fragment %s shows %v: want %d rows in descending order", frag, restored, visible)
	}
	b.shot(t, "toy-fragment.png")
	// A table beside its figure (the README's screenshot).
	b.figureShot(t, u, rep, "toy-figure.png")
	b.figureShot(t, "file://"+filepath.Join(dir, "aggregation", page.FileName), readReport(t, filepath.Join(dir, "aggregation", "report.json")), "aggregation-figure.png")
	b.do(t, chromedp.Navigate("about:blank"))
	b.open(t, u+"#x=mediocrity")
	if n := eval[int](t, b, `document.querySelectorAll("section.experiment:not(.hidden)").length`); n != 1 {
		t.Errorf("#x=mediocrity shows %d experiments, want 1", n)
	}

	// A summary cell shows the seeds it summarises.
	var sx string
	var st *reports.Table
	for _, x := range rep.Experiments {
		for i := range x.Tables {
			if x.Tables[i].RowAxis == "seed" && len(x.Tables[i].Summary) > 0 && st == nil {
				sx, st = x.Name, &x.Tables[i]
			}
		}
	}
	if st == nil {
		t.Fatal("no table over seeds in the toy report")
	}
	sid := tableID(sx, st)
	// The column whose rows differ most.
	col, most := 0, 0
	for j := range st.Columns {
		distinct := map[string]bool{}
		for _, r := range st.Rows {
			distinct[r.Cells[j].Text] = true
		}
		if len(distinct) > most && st.Summary[0].Cells[j].Value.Shape == metrics.Number {
			col, most = j, len(distinct)
		}
	}
	b.open(t, u)
	cell := chromedp.CSS(fmt.Sprintf(`[id=%q] tfoot tr:first-child td:nth-child(%d)`, sid, col+2))
	b.do(t, chromedp.ScrollIntoView(cell), chromedp.Click(cell))
	shown := eval[string](t, b, fmt.Sprintf(`(function(){var s=document.getElementById(%q).querySelector("tfoot tr:first-child td:nth-child(%d) .seeds");return getComputedStyle(s).display==="none"?"":s.innerText})()`, sid, col+2))
	if shown == "" {
		t.Fatalf("clicking %s's summary cell shows no seeds", sid)
	}
	if !strings.Contains(shown, fmt.Sprintf("n = %d", len(st.Rows))) {
		t.Errorf("the seeds box says %q, want n = %d", shown, len(st.Rows))
	}
	for _, r := range st.Rows {
		if want := unquoteLabel(r.Label) + ": " + r.Cells[col].Text; !strings.Contains(shown, want) {
			t.Errorf("the seeds box lacks %q:\n%s", want, shown)
		}
	}
	b.shot(t, "toy-seeds.png")
	b.clean(t, "file://")

	// The index lists both and links to their pages.
	b.open(t, "file://"+filepath.Join(dir, page.FileName))
	links := eval[[]string](t, b, `Array.from(document.querySelectorAll("#reports a")).map(a => a.getAttribute("href"))`)
	if !slices.Equal(links, []string{"aggregation/index.html", "toy/index.html"}) {
		t.Errorf("the index links %v", links)
	}
	b.clean(t, "file://")
}

// figureShot opens the page at the first table that has a figure and
// takes a screenshot.
func (b *browser) figureShot(t *testing.T, u string, rep *reports.Report, name string) {
	t.Helper()
	for _, x := range rep.Experiments {
		for i := range x.Tables {
			if len(x.Plots) > 0 && x.Plots[0].Table == x.Tables[i].Name {
				b.do(t, chromedp.Navigate("about:blank"))
				b.open(t, u+"#t="+tableID(x.Name, &x.Tables[i]))
				b.shot(t, name)
				return
			}
		}
	}
}

func unquoteLabel(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// TestBrowserDiffPage: the diff page of a one-parameter change (type B's
// weight in the quickstart) shows exactly the cells whose text differs.
func TestBrowserDiffPage(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	cache := filepath.Join(dir, "cache")
	a, bdir := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if _, e, code := cli(t, "run", "--cache", cache, "--out", a, spec); code != 0 {
		t.Fatal(e)
	}
	writeSpec(t, dir, "quickstart.cue", strings.Replace(quickstart(t), "B: {weight: 1,", "B: {weight: 1.5,", 1))
	if _, e, code := cli(t, "run", "--cache", cache, "--out", bdir, spec); code != 0 {
		t.Fatal(e)
	}
	out := filepath.Join(dir, "diff.html")
	if _, e, code := cli(t, "diff", "--html", out, filepath.Join(a, "quickstart"), filepath.Join(bdir, "quickstart")); code != exitFailed {
		t.Fatalf("diff --html of a change: exit %d, want %d\n%s", code, exitFailed, e)
	}
	// The cells that differ, read from the two report.json files.
	ra := readReport(t, filepath.Join(a, "quickstart", "report.json"))
	rb := readReport(t, filepath.Join(bdir, "quickstart", "report.json"))
	type key struct{ table, row, col string }
	cellsOf := func(r *reports.Report) map[key]string {
		m := map[key]string{}
		for _, x := range r.Experiments {
			for _, tb := range x.Tables {
				for _, row := range append(append([]reports.Row{}, tb.Rows...), tb.Summary...) {
					for j, c := range row.Cells {
						m[key{x.Name + " / " + tb.Name, unquoteLabel(row.Label), unquoteLabel(tb.Columns[j])}] = c.Text
					}
				}
			}
		}
		return m
	}
	ca, cb := cellsOf(ra), cellsOf(rb)
	var want []string
	for k, v := range cb {
		if ca[k] != v {
			want = append(want, k.table+"|"+k.row+"|"+k.col)
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("the change of B's weight changed no cell")
	}
	b := newBrowser(t)
	b.open(t, "file://"+out)
	got := eval[[]string](t, b, `Array.from(document.querySelectorAll("tr.change")).map(r => r.closest(".box").previousElementSibling.textContent + "|" + r.cells[0].textContent + "|" + r.cells[1].textContent)`)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("the diff page shows the changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	summary := eval[string](t, b, `document.getElementById("summary").textContent`)
	if !strings.Contains(summary, fmt.Sprintf("%d cells compared, %d changed past the tolerance", len(ca), len(want))) {
		t.Errorf("summary line %q; want %d cells compared, %d changed", summary, len(ca), len(want))
	}
	// Sorting by Δ orders the rows by the size of the change.
	th := chromedp.CSS(`table.changes thead th:nth-child(6)`)
	b.do(t, chromedp.Click(th), chromedp.Click(th))
	d := eval[[]string](t, b, `Array.from(document.querySelector("table.changes").tBodies[0].rows).map(r => r.cells[5].getAttribute("data-v") || "")`)
	var ds []float64
	for _, s := range d {
		if s != "" {
			x, _ := strconv.ParseFloat(s, 64)
			ds = append(ds, x)
		}
	}
	if !sort.IsSorted(sort.Reverse(sort.Float64Slice(ds))) {
		t.Errorf("sorted by |Δ| descending: %v", ds)
	}
	b.open(t, "file://"+out)
	b.shot(t, "diff.png")
	b.clean(t, "file://")
}

// TestBrowserServe: run --serve shows a report in the live index while the
// run goes on, serves nothing outside --out, and stops with the run.
func TestBrowserServe(t *testing.T) {
	dir := t.TempDir()
	quick := writeSpec(t, dir, "quickstart.cue", quickstart(t))
	// Five times slowSpec's sweep: some seconds of steps after the
	// quickstart's report, which the cache already holds, is written.
	slow := writeSpec(t, dir, "slow.cue", strings.Replace(slowSpec, "list.Range(0, 30, 1)", "list.Range(0, 150, 1)", 1))
	out := filepath.Join(dir, "out")
	if _, e, code := cli(t, "run", "--cache", filepath.Join(dir, "cache"), "--out", filepath.Join(dir, "first"), quick); code != 0 {
		t.Fatal(e)
	}
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("outside --out"), 0o644)
	cmd := exec.Command(os.Args[0], "run", "--jobs", "1", "--log-format", "json", "--serve", "127.0.0.1:0",
		"--cache", filepath.Join(dir, "cache"), "--out", out, quick, slow)
	cmd.Env = append(os.Environ(), "HETALIGN_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var ev struct {
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.URL != "" {
				urlc <- ev.URL
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	var base string
	select {
	case base = <-urlc:
	case <-time.After(60 * time.Second):
		t.Fatal("run --serve logged no url")
	}
	if u, _ := url.Parse(base); u.Hostname() != "127.0.0.1" {
		t.Errorf("serving on %s, want 127.0.0.1", base)
	}
	for _, p := range []string{"../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt"} {
		resp, err := http.Get(base + p)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "outside --out") {
				t.Errorf("GET %s served a file outside --out", p)
			}
		}
	}
	b := newBrowser(t)
	b.open(t, base)
	// Wait for the first report's row in the live index.
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelectorAll("#reports a").length > 0`, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("no report appeared in the live index: %v", err)
	}
	select {
	case <-exited:
		t.Error("the run had ended before its first report appeared: nothing was shown live")
	default:
	}
	live := eval[string](t, b, `document.getElementById("live").textContent`)
	if !regexp.MustCompile(`\d+/\d+ steps`).MatchString(live) {
		t.Errorf("the live line says %q", live)
	}
	b.shot(t, "serve.png")
	link := eval[string](t, b, `document.querySelector("#reports a").getAttribute("href")`)
	b.open(t, base+link)
	b.clean(t, strings.TrimSuffix(base, "/"))
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the run failed: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the run did not end")
	}
	if _, err := http.Get(base); err == nil {
		t.Error("the server still answers after the run")
	}
}
