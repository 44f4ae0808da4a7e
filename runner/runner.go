// Package runner ties the pipeline together: plan the loaded specs, run the
// steps through the cache, remember the run for `plan`, and write each
// spec's report directory. Its sub-packages do one job each: spec (load and
// validate), plan (steps and keys), store (the cache), exec (the worker
// pool) and steps (what each step kind computes).
package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/rs/zerolog"

	"hetalign"
	"hetalign/methods/neural"
	"hetalign/reports"
	"hetalign/reports/page"
	"hetalign/runner/codeid"
	rexec "hetalign/runner/exec"
	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/steps"
	"hetalign/runner/store"
)

// Options configure a run.
type Options struct {
	// Jobs is the number of CPU workers.
	Jobs int
	// Cache is the store directory.
	Cache string
	// Out is the directory that receives <report>/ directories.
	Out string
	// Backend names the compute backend and its device (recorded in the
	// keys of computing steps and in provenance): "go", or e.g.
	// "cuda@<device description>".
	Backend string
	// Compute is the GoMLX backend configuration GoMLX steps open ("go"
	// when empty); Device describes what computes ("cpu" when empty); GPU
	// steps take the single GPU slot.
	Compute string
	Device  string
	GPU     bool
	// Code identifies the running code as a whole (plan caches, indexes,
	// provenance); Codes, when set, gives each step the identity of the
	// code behind its own computation (see SourceCodes), else every step
	// names Code.
	Code  string
	Codes *steps.Codes
	// Version of hetalign, for provenance.
	Version string
	// Tags given with -t, for provenance.
	Tags []string
	// MaxCells, when positive, refuses an experiment whose sweep has more
	// cells (axis values' product times seeds) before any is evaluated.
	MaxCells int
	// Log receives logs; Stdout receives the report tables.
	Log    zerolog.Logger
	Stdout io.Writer
	// Progress, when set (a terminal's status line, which Log should also
	// write through), shows one live progress line; otherwise progress goes
	// to Log as events. Width, when positive, is the terminal's width:
	// wider tables are cut and folded.
	Progress *LiveLine
	Width    int
	// Executor runs the steps (nil: rexec.Local, this process's workers).
	Executor rexec.Executor
	// Observe, when set, receives the run's progress whenever it changes
	// (called with the progress lock held: it must return quickly).
	Observe func(Progress)
}

// device is what computes, for provenance.
func (o Options) device() string {
	if o.Device == "" {
		return "cpu"
	}
	return o.Device
}

// SourceCodes indexes the module's source embedded in the binary
// (hetalign.Source) into per-step code identities, once per process.
var SourceCodes = sync.OnceValues(func() (*steps.Codes, error) {
	src, err := codeid.Load(hetalign.Source)
	if err != nil {
		return nil, fmt.Errorf("indexing the embedded source: %w", err)
	}
	return steps.NewCodes(src)
})

// CodeID is the identity of the whole source embedded in the binary: any
// change to a Go file or to go.mod changes it (builds of the same source
// share it, whatever their flags or VCS stamps).
func CodeID() (string, error) {
	c, err := SourceCodes()
	if err != nil {
		return "", err
	}
	return c.All(), nil
}

// Plan builds the step graph of files. With a store, a graph planned
// before for the same spec digests and code is read back instead of
// evaluating every cell again, and a new graph is stored.
func Plan(files []*spec.File, opts Options, st *store.Store) (*plan.Graph, error) {
	po := plan.Options{Code: opts.Code, Backend: opts.Backend, Workers: opts.Jobs, GPU: opts.GPU, MaxCells: opts.MaxCells}
	if opts.Codes != nil {
		po.CodeFor = opts.Codes.For
	}
	start := time.Now()
	po.Progress = func(done, total int) {
		opts.Log.Info().Int("cells", done).Int("of", total).Str("elapsed", time.Since(start).Round(time.Millisecond).String()).Msg("planning")
	}
	if opts.MaxCells > 0 {
		// Refuse before reading a cached plan too: the limit is the same
		// whether or not the plan was made before.
		for _, f := range files {
			for _, x := range f.Experiments {
				if n := x.Size(); n > opts.MaxCells {
					return nil, &plan.MaxCellsError{File: f.Path, Experiment: x.Name, Cells: n, Max: opts.MaxCells, Size: x.SizeText()}
				}
			}
		}
	}
	key := plan.CacheKey(files, po)
	if st != nil {
		if b, ok := st.Plan(key); ok {
			g, err := plan.Unmarshal(b, files, po)
			if err == nil {
				opts.Log.Debug().Str("plan", key[:12]).Msg("plan read from cache")
				return g, nil
			}
			opts.Log.Warn().Msgf("%v (plan %s in %s); discarding it and planning again from the spec", err, key[:12], st.Root())
		}
	}
	g, err := plan.Build(files, po)
	if err != nil {
		return nil, err
	}
	if st != nil {
		// Streamed: a plan of 10^5 steps is hundreds of MB.
		if err := st.PutPlanFrom(key, g.WriteJSON); err != nil {
			opts.Log.Warn().Err(err).Msg("could not cache the plan")
		}
	}
	return g, nil
}

// StepStatus is one line of `hetalign plan`.
type StepStatus struct {
	Step   *plan.Step
	Cached bool
	// Why the step will run (empty when cached).
	Why string
}

// Status tells, for every step of g, whether it is cached and, if not,
// what differs from the last run of the same place.
func Status(g *plan.Graph, st *store.Store) []StepStatus {
	indexes := map[string]*plan.Index{}
	for _, r := range g.Reports {
		if b, ok := st.Index(plan.IndexID(r.File.Name)); ok {
			idx := new(plan.Index)
			if json.Unmarshal(b, idx) == nil {
				indexes[r.File.Name+"/"] = idx
			}
		}
	}
	out := make([]StepStatus, len(g.Steps))
	for i, s := range g.Steps {
		out[i].Step = s
		if st.Has(s.Key) {
			out[i].Cached = true
			continue
		}
		var idx *plan.Index
		for _, role := range s.Roles {
			for prefix, x := range indexes {
				if strings.HasPrefix(role, prefix) {
					idx = x
				}
			}
		}
		why := idx.Why(s, g.Options.Code)
		if why == "" {
			why = "same as last run, but not in the cache (removed or collected)"
		}
		out[i].Why = why
	}
	return out
}

// Result summarises a run.
type Result struct {
	Steps, Computed, Cached, Skipped, Failed int
	// Interrupted counts the steps a cancelled run did not finish: not
	// started, or stopped while computing (not counted as failed).
	Interrupted int
	// Failures lists the steps that failed by themselves (not because an
	// input failed), as "label: error".
	Failures []string
	// Reports written, by name.
	Reports []string
	// FailedClaims lists the claims of the written reports that do not
	// hold, as "report/experiment/claim: says" (see reports.Claim).
	FailedClaims []string
}

// Run plans files, executes the graph and writes every report. It returns
// an error when any step failed (after writing what could be written); a
// claim that does not hold is no error but listed in Result.FailedClaims.
func Run(ctx context.Context, files []*spec.File, opts Options) (*Result, error) {
	start := time.Now()
	st, err := store.Open(opts.Cache)
	if err != nil {
		return nil, err
	}
	st.SetWarn(func(msg string) { opts.Log.Warn().Msg(msg) })
	g, err := Plan(files, opts, st)
	if err != nil {
		return nil, err
	}
	opts.Log.Info().Int("steps", len(g.Steps)).Int("jobs", opts.Jobs).Str("cache", opts.Cache).Msg("running")
	so := stepOptions(opts.Compute)
	fn := func(ctx context.Context, s *plan.Step, inputs [][]byte) ([]byte, error) {
		return steps.Run(ctx, s.Kind, s.Params, s.Seed, inputs, so)
	}
	res := &Result{Steps: len(g.Steps)}
	reportOf := map[int]plan.Report{}
	for _, r := range g.Reports {
		reportOf[r.Step.Index] = r
	}
	var outs []*rexec.Outcome
	var errMu sync.Mutex
	var errs []error
	var tr *tracker
	// Each report is written (and printed) as soon as its step is done.
	onReport := func(s *plan.Step, o *rexec.Outcome) {
		r := reportOf[s.Index]
		if st.Unreachable() != nil {
			// Its steps failed for the store (said once, below): keep
			// the last report rather than write one of failures.
			return
		}
		failed, err := finishReport(r, o, g, st, opts, start, tr)
		if err != nil {
			errMu.Lock()
			errs = append(errs, err)
			errMu.Unlock()
			return
		}
		errMu.Lock()
		res.Reports = append(res.Reports, r.File.Name)
		res.FailedClaims = append(res.FailedClaims, failed...)
		errMu.Unlock()
	}
	tr = newTracker(g, st, opts, onReport)
	var ex rexec.Executor = rexec.Local{}
	if opts.Executor != nil {
		ex = opts.Executor
	}
	outs = ex.Execute(ctx, g, st, fn, rexec.Options{Jobs: opts.Jobs, Log: opts.Log, Observer: tr, Compute: opts.Compute, Cost: tr.Cost})
	tr.finish()
	for i, o := range outs {
		res.tally(g.Steps[i], o)
	}
	for _, r := range g.Reports {
		// A run that computed nothing left the cache as the last run did;
		// if that run had the same plan, its index is already right. The
		// index only explains reruns: failing to write it (a read-only
		// cache) costs nothing else.
		if st.Unreachable() != nil {
			break
		}
		if res.Computed > 0 || res.Failed > 0 || !indexCurrent(st, r, g) {
			if err := saveIndex(st, g, r, outs); err != nil {
				opts.Log.Warn().Err(err).Str("report", r.File.Name).Msg("could not record the run in the cache's index")
			}
		}
	}
	sort.Strings(res.Reports)
	sort.Strings(res.FailedClaims)
	if len(res.Reports) > 0 {
		// The index is a convenience: failing to write it fails nothing.
		if err := page.WriteIndex(opts.Out); err != nil {
			opts.Log.Warn().Err(err).Msg("could not write the index of the reports")
		}
	}
	if err := st.Unreachable(); err != nil {
		// One message for the store, not one per step it failed.
		errs = append(errs, err)
	} else if res.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d steps failed", res.Failed, res.Steps))
	}
	if err := diskFull(errors.Join(errs...), res.Failures); err != nil {
		errs = append(errs, err) // last: the line a user reads
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("interrupted: %d of %d steps did not finish; finished steps are cached: a rerun computes the %d steps left",
			res.Interrupted, res.Steps, res.Interrupted+res.Failed))
	}
	return res, errors.Join(errs...)
}

// diskFull says that a disk is full when err, or a step's failure, is
// ENOSPC, naming the file that could not be written; nil otherwise.
func diskFull(err error, failures []string) error {
	if errors.Is(err, syscall.ENOSPC) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("the disk holding %s is full (no space left on device); free space and rerun: finished steps are stored", pe.Path)
		}
		return errors.New("a disk is full (no space left on device); free space and rerun: finished steps are stored")
	}
	for _, f := range failures {
		if strings.Contains(f, syscall.ENOSPC.Error()) {
			return fmt.Errorf("a disk is full (no space left on device): %s; free space and rerun: finished steps are stored", f)
		}
	}
	return nil
}

// stepOptions are the options of steps.Run for the GoMLX backend
// configuration compute: one XLA client for the whole process, opened on
// first use.
func stepOptions(compute string) steps.Options {
	so := steps.Options{Backend: compute}
	if compute != "" && compute != "go" {
		var once sync.Once
		var shared backends.Backend
		var openErr error
		so.Open = func() (backends.Backend, error) {
			once.Do(func() { shared, openErr = neural.Backend(compute) })
			return shared, openErr
		}
	}
	return so
}

// StepOptions configure Step.
type StepOptions struct {
	// Jobs steps are computed at once.
	Jobs int
	// Owner names this process in the steps' leases (default
	// rexec.NewOwner()).
	Owner string
	// Log receives a line per step.
	Log zerolog.Logger
	// Wrap, when set, wraps the step function (tests inject failures
	// and delays with it).
	Wrap func(rexec.StoredFunc) rexec.StoredFunc
}

// Step computes the steps keys of the store at cache from their stored
// descriptions alone (what a Slurm task runs: `hetalign step`); a step
// already in the store is skipped. Each step computes with the backend
// configuration its description names. The error names every step that
// failed.
func Step(ctx context.Context, cache string, keys []string, opts StepOptions) error {
	st, err := store.Open(cache)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetWarn(func(msg string) { opts.Log.Warn().Msg(msg) })
	var mu sync.Mutex
	byCompute := map[string]steps.Options{}
	fn := func(ctx context.Context, d *store.StepDesc, inputs [][]byte) ([]byte, error) {
		mu.Lock()
		so, ok := byCompute[d.Compute]
		if !ok {
			so = stepOptions(d.Compute)
			byCompute[d.Compute] = so
		}
		mu.Unlock()
		return steps.Run(ctx, d.Kind, d.Params, d.Seed, inputs, so)
	}
	if opts.Wrap != nil {
		fn = opts.Wrap(fn)
	}
	return rexec.RunStored(ctx, st, keys, fn, rexec.StoredOptions{Jobs: opts.Jobs, Owner: opts.Owner, Log: opts.Log})
}

// tally counts one step's outcome: interrupted (the run was cancelled
// before it started), failed (by itself, listed in Failures, or because
// an input failed), cached, not needed or computed.
func (res *Result) tally(s *plan.Step, o *rexec.Outcome) {
	switch {
	case o.Err != nil && errors.Is(o.Err, store.ErrUnreachable):
		res.Failed++ // said once for the store, not per step
	case o.Err != nil && rexec.Interrupted(o.Err):
		res.Interrupted++
	case o.Err != nil:
		res.Failed++
		if !errors.Is(o.Err, rexec.ErrInputFailed) {
			res.Failures = append(res.Failures, s.Label+": "+o.Err.Error())
		}
	case o.Cached:
		res.Cached++
	case o.Skipped:
		res.Skipped++
	default:
		res.Computed++
	}
}

// finishReport writes (and prints) report r once its step is done, and
// returns its claims that do not hold.
func finishReport(r plan.Report, o *rexec.Outcome, g *plan.Graph, st *store.Store, opts Options, start time.Time, tr *tracker) ([]string, error) {
	var body []byte
	switch {
	case o.Err != nil:
		return nil, fmt.Errorf("report %s: %w", r.File.Name, o.Err)
	case o.Incomplete:
		body = o.Output
	default:
		var err error
		if body, err = st.Output(o.Manifest, "out"); err != nil {
			return nil, err
		}
	}
	return writeReport(r.File, body, g, reportCounts(r, tr.outcome), opts, time.Since(start), tr)
}

// reportCounts are the outcomes of the steps report r needs, for its
// provenance (every one of them is finished when the report is).
func reportCounts(r plan.Report, outcome func(i int) *rexec.Outcome) *Result {
	res := &Result{}
	seen := map[int]bool{}
	var walk func(s *plan.Step)
	walk = func(s *plan.Step) {
		if seen[s.Index] {
			return
		}
		seen[s.Index] = true
		res.Steps++
		if o := outcome(s.Index); o != nil {
			res.tally(s, o)
		}
		for _, in := range s.Inputs {
			walk(in)
		}
	}
	walk(r.Step)
	sort.Strings(res.Failures)
	return res
}

// indexCurrent reports whether the stored index of r was written for a run
// whose report step had the same key as this plan's.
func indexCurrent(st *store.Store, r plan.Report, g *plan.Graph) bool {
	b, ok := st.Index(plan.IndexID(r.File.Name))
	if !ok {
		return false
	}
	var head struct {
		Roles map[string]string `json:"roles"`
	}
	if json.Unmarshal(b, &head) != nil {
		return false
	}
	return head.Roles[r.File.Name+"/report"] == r.Step.Key
}

// saveIndex records the steps of r that are now in the cache; roles whose
// step failed keep what the previous index said.
func saveIndex(st *store.Store, g *plan.Graph, r plan.Report, outs []*rexec.Outcome) error {
	id := plan.IndexID(r.File.Name)
	var prev *plan.Index
	if b, ok := st.Index(id); ok {
		prev = new(plan.Index)
		if json.Unmarshal(b, prev) != nil {
			prev = nil
		}
	}
	b, err := g.MarshalIndex(r, func(s *plan.Step) bool {
		o := outs[s.Index]
		return o.Err == nil && !o.Incomplete
	}, prev)
	if err != nil {
		return err
	}
	return st.PutIndex(id, b)
}

// Provenance is provenance.json, written beside report.json: unlike
// report.json it holds time- and host-dependent facts. It is the type the
// report pages read (page.Provenance), so the two cannot drift apart.
type Provenance = page.Provenance

// GitInfo is the commit of the spec's repository and whether it had
// uncommitted changes.
type GitInfo = page.GitInfo

func gitInfo(dir string) *GitInfo {
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return nil
	}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
	if err != nil {
		return nil
	}
	return &GitInfo{Commit: strings.TrimSpace(string(head)), Dirty: len(strings.TrimSpace(string(status))) > 0}
}

// writeReport writes <out>/<name>/: report.json (the report step's bytes),
// report.md, one CSV per table, the figures and provenance.json, and
// prints the tables. Files whose bytes are unchanged are not rewritten,
// and provenance.json (time, host, step counts) only changes with the
// report, so a run that changes no result leaves a checkout clean. Files
// of an earlier report that this one no longer has (a renamed table) are
// removed, so the folder holds exactly the latest report. It returns the
// report's claims that do not hold.
func writeReport(f *spec.File, body []byte, g *plan.Graph, res *Result, opts Options, took time.Duration, tr *tracker) ([]string, error) {
	rep, err := reports.ParseReport(body)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", f.Name, err)
	}
	dir, err := reportDir(opts.Out, f.Name, res, opts)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"report.json": body}
	md, err := rep.Markdown()
	if err != nil {
		return nil, err
	}
	files["report.md"] = md
	for _, x := range rep.Experiments {
		for i := range x.Tables {
			c, err := x.Tables[i].CSV()
			if err != nil {
				return nil, err
			}
			files[reports.CSVName(x.Name, &x.Tables[i])] = c
		}
		figs, err := x.Figures()
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", f.Name, err)
		}
		for _, fig := range figs {
			files[fig.File+".svg"] = fig.SVG
			files[fig.File+".png"] = fig.PNG
		}
	}
	old, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	_, provErr := os.Stat(filepath.Join(dir, "provenance.json"))
	if !bytes.Equal(old, body) || provErr != nil {
		host, _ := os.Hostname()
		prov := Provenance{
			Report: f.Name, Spec: f.Path, Profile: f.Profile, Tags: opts.Tags,
			Created: time.Now().UTC().Format(time.RFC3339), Host: host, OS: runtime.GOOS + "/" + runtime.GOARCH,
			Go: runtime.Version(), Hetalign: opts.Version, Code: opts.Code, Backend: opts.Backend, Device: opts.device(),
			Git:        gitInfo(filepath.Dir(f.Path)),
			Steps:      map[string]int{"total": res.Steps, "computed": res.Computed, "cached": res.Cached, "not_needed": res.Skipped, "failed": res.Failed},
			Seconds:    took.Seconds(),
			Failures:   res.Failures,
			SpecDigest: f.Digest,
			Data:       dataFiles(f),
		}
		pb, err := json.MarshalIndent(prov, "", "  ")
		if err != nil {
			return nil, err
		}
		files["provenance.json"] = append(pb, '\n')
	}
	// The page: from the report, its provenance (new or on disk), the
	// figures and the spec's text.
	in := page.Input{Report: rep, Figures: map[string][]byte{}}
	pb := files["provenance.json"]
	if pb == nil {
		pb, _ = os.ReadFile(filepath.Join(dir, "provenance.json"))
	}
	if pb != nil {
		if in.Provenance, err = page.ParseProvenance(pb); err != nil {
			return nil, fmt.Errorf("report %s: %w", f.Name, err)
		}
	}
	for name, b := range files {
		if strings.HasSuffix(name, ".svg") {
			in.Figures[strings.TrimSuffix(name, ".svg")] = b
		}
	}
	if b, err := os.ReadFile(f.Path); err == nil {
		in.Spec = string(b)
	}
	if files[page.FileName], err = page.Render(in); err != nil {
		return nil, fmt.Errorf("report %s: %w", f.Name, err)
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
			continue
		}
		if err := writeFileAtomic(p, b); err != nil {
			return nil, err
		}
	}
	if err := removeStale(dir, files); err != nil {
		return nil, err
	}
	if opts.Stdout != nil {
		show := func() { err = rep.WriteTextWidth(opts.Stdout, opts.Width) }
		if tr != nil {
			tr.Print(show)
		} else {
			show()
		}
		if err != nil {
			return nil, err
		}
	}
	ev := opts.Log.Info().Str("report", f.Name).Str("dir", dir)
	if took > 0 {
		// The time from the start of the run to this report.
		ev = ev.Str("elapsed", took.Round(time.Millisecond).String())
	}
	ev.Msg("report written")
	return rep.FailedClaims(), nil
}

// FailedSuffix ends the name of the directory beside reports/<name>/ that
// receives the report of a run whose steps failed, when reports/<name>/
// holds a report whose steps all succeeded.
const FailedSuffix = ".failed"

// reportDir is the directory the report of this run goes to, created:
// <out>/<name>/, unless steps of this report failed and that directory
// holds the last good report, which is kept; the failed report then goes
// to <out>/<name>.failed/, and the log says so. A good report removes a
// stale <name>.failed/.
func reportDir(out, name string, res *Result, opts Options) (string, error) {
	dir := filepath.Join(out, name)
	failedDir := dir + FailedSuffix
	switch {
	case res.Failed > 0 && goodReport(dir):
		opts.Log.Warn().Str("report", name).Int("failed", res.Failed).Str("kept", dir).Str("dir", failedDir).
			Msg("steps failed: the last good report is kept; this run's report is written beside it")
		dir = failedDir
	case res.Failed == 0:
		if _, err := os.Stat(filepath.Join(failedDir, "report.json")); err == nil {
			if err := os.RemoveAll(failedDir); err != nil {
				return "", fmt.Errorf("removing the failed report %s: %w", failedDir, err)
			}
			opts.Log.Info().Str("report", name).Str("dir", failedDir).Msg("removed the report of an earlier failed run")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	return dir, nil
}

// goodReport reports whether dir holds a report whose run had no failed
// step (its provenance.json says so; without one, no cell shows
// "failed").
func goodReport(dir string) bool {
	body, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return false
	}
	if b, err := os.ReadFile(filepath.Join(dir, "provenance.json")); err == nil {
		var p Provenance
		if json.Unmarshal(b, &p) == nil && p.Steps != nil {
			return p.Steps["failed"] == 0
		}
	}
	return !bytes.Contains(body, []byte(`"text": "failed"`))
}

// removeStale deletes the report files in dir that the report just written
// does not have (tables and plots renamed or removed); provenance.json
// stays.
func removeStale(dir string, files map[string][]byte) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == "provenance.json" || files[n] != nil {
			continue
		}
		switch filepath.Ext(n) {
		case ".csv", ".svg", ".png", ".md", ".json":
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("removing the stale %s: %w", n, err)
			}
		}
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file renamed into
// place. The file is created with mode 0666 less the umask (0644 under
// the usual 022), as the cache's files are, not os.CreateTemp's 0600: a
// report is for the group to read.
func writeFileAtomic(path string, b []byte) error {
	var tmp *os.File
	var err error
	for try := 0; try < 10; try++ {
		tmp, err = os.OpenFile(filepath.Join(filepath.Dir(path), ".tmp-"+rand.Text()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Rebuild writes the reports of files from the cache without computing
// anything; it fails for a report whose step is not cached. The result
// lists the claims of the reports that do not hold.
func Rebuild(files []*spec.File, opts Options) (*Result, error) {
	st, err := store.Open(opts.Cache)
	if err != nil {
		return nil, err
	}
	st.SetWarn(func(msg string) { opts.Log.Warn().Msg(msg) })
	g, err := Plan(files, opts, st)
	if err != nil {
		return nil, err
	}
	var errs []error
	res := &Result{Steps: len(g.Steps)}
	counts := &Result{Steps: len(g.Steps)}
	for _, r := range g.Reports {
		m, ok := st.Get(r.Step.Key)
		if !ok {
			errs = append(errs, fmt.Errorf("report %s is not in the cache %s: run `hetalign run %s` first", r.File.Name, opts.Cache, r.File.Path))
			continue
		}
		body, err := st.Output(m, "out")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		failed, err := writeReport(r.File, body, g, counts, opts, 0, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Reports = append(res.Reports, r.File.Name)
		res.FailedClaims = append(res.FailedClaims, failed...)
	}
	if len(res.Reports) > 0 {
		// The index is a convenience: failing to write it fails nothing.
		if err := page.WriteIndex(opts.Out); err != nil {
			opts.Log.Warn().Err(err).Msg("could not write the index of the reports")
		}
	}
	return res, errors.Join(errs...)
}

// Check evaluates the claims of files over the cached evaluations, without
// computing or writing anything: the report step runs here on the cached
// outputs of its inputs, so claims edited since the last run are checked
// too. It fails for a report whose inputs are not all cached (a failed
// evaluation is none of them: its cells show "failed").
func Check(files []*spec.File, opts Options) ([]*reports.Report, error) {
	st, err := store.Open(opts.Cache)
	if err != nil {
		return nil, err
	}
	g, err := Plan(files, opts, st)
	if err != nil {
		return nil, err
	}
	var out []*reports.Report
	var errs []error
	for _, r := range g.Reports {
		rep, err := checkReport(st, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rep)
	}
	return out, errors.Join(errs...)
}

// checkReport builds report r from the cached outputs of its inputs.
func checkReport(st *store.Store, r plan.Report) (*reports.Report, error) {
	var l reports.Layout
	if err := json.Unmarshal(r.Step.Params, &l); err != nil {
		return nil, fmt.Errorf("report %s: reading its layout: %w", r.File.Name, err)
	}
	inputs := make([][]byte, len(r.Step.Inputs))
	for i, in := range r.Step.Inputs {
		m, ok := st.Get(in.Key)
		if !ok {
			return nil, fmt.Errorf("report %s: %s is not in the cache: run `hetalign run %s` first", r.File.Name, in.Label, r.File.Path)
		}
		b, err := st.Output(m, "out")
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", r.File.Name, err)
		}
		inputs[i] = b
	}
	rep, err := reports.Build(l, inputs)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", r.File.Name, err)
	}
	return rep, nil
}
