// Command hetalign is a declarative experiment runner for preference
// alignment with heterogeneous users ("Direct Alignment with Heterogeneous
// Preferences"). It reads CUE specs, runs their step graph through a
// content-addressed cache and writes reproducible report tables.
//
//	hetalign run SPEC...      run and write reports/<name>/
//	hetalign plan SPEC...     show the steps: cached or to run, and why
//	hetalign vet SPEC...      validate only
//	hetalign report SPEC...   rewrite reports from the cache
//	hetalign check SPEC...    check the specs' claims over the cache
//	hetalign diff A B         compare two report.json files or directories (or --rev); --html FILE writes a page
//	hetalign step KEY...      compute stored steps (what a Slurm task runs)
//	hetalign cache ls|verify|gc
//	hetalign methods|envs|metrics  print the registered kinds
//
// See docs/cli.md for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"hetalign/reports"
	"hetalign/reports/page"
	"hetalign/runner"
	"hetalign/runner/plan"
	"hetalign/runner/spec"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // a step failed, or diff found changes past the tolerance
	exitInvalid = 2 // bad usage or an invalid spec
	exitClaims  = 3 // every step ran, but a claim of a report does not hold

	exitInterrupted = 130 // Ctrl-C (SIGINT) or SIGTERM: the shell's 128 + SIGINT
)

const usage = `hetalign — experiments on alignment with heterogeneous preferences

usage:
  hetalign run    [flags] SPEC...     plan, run (cached steps are reused) and write reports
  hetalign plan   [flags] SPEC...     print the step graph: cached / to run, and why
  hetalign vet    [flags] SPEC...     validate specs; every error with file:line:col
  hetalign report [flags] SPEC...     rewrite reports from the cache without computing
  hetalign report --index [--out DIR] write the page of every report in DIR and DIR/index.html
  hetalign check  [flags] SPEC...     check the specs' claims over the cache, each ✓ or ✗ with its
                                      margin and threshold source (--weak R: margins under R)
  hetalign diff   [flags] A B          A, B: report.json files or report directories
  hetalign diff   [flags] --rev R1 [--rev R2] REPORT
  hetalign step   [flags] KEY...      compute steps from their descriptions in the cache (what a Slurm task runs)
  hetalign cache  ls|verify|gc [flags]
  hetalign bench  [flags]             transformer training throughput (tokens/s) on a backend
  hetalign methods|envs|metrics [-json|-markdown]
                                      the registered kinds: doc, data regimes, fields and defaults
  hetalign --version

exit status: 0 ok; 1 a step failed (or diff found changes); 2 bad usage or
an invalid spec; 3 (run, check) every step ran but a claim does not hold;
130 run interrupted (Ctrl-C): finished steps are cached, rerun to resume.

Run 'hetalign COMMAND -h' for the flags of a command.
`

// defaultMemoryLimit is the Go runtime's soft memory limit when
// $GOMEMLIMIT does not set one: near it the collector runs more often
// instead of letting the heap grow to twice its live size, so a huge run
// (a cold `go tool task beyond`: a live heap of 400–650 MB) stays near 1
// GB resident. It is soft: a run that needs more live memory gets it (the
// collector then takes at most about half the CPU). docs/cli.md, "Memory".
const defaultMemoryLimit = 1 << 30

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	hp := startHeapProfile(os.Stderr)
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	hp.finish()
	os.Exit(code)
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// common holds the flags every command has.
type common struct {
	logFormat, logLevel string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.logFormat, "log-format", "console", "log format on stderr: console or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// logLevels are the values of --log-level.
var logLevels = map[string]zerolog.Level{"debug": zerolog.DebugLevel, "info": zerolog.InfoLevel,
	"warn": zerolog.WarnLevel, "error": zerolog.ErrorLevel}

func (c *common) logger(stderr io.Writer) (zerolog.Logger, error) {
	lvl, ok := logLevels[c.logLevel]
	if !ok {
		return zerolog.Logger{}, fmt.Errorf("--log-level must be one of debug, info, warn, error; got %q", c.logLevel)
	}
	var w io.Writer
	switch c.logFormat {
	case "json":
		w = stderr
	case "console":
		color := false
		if f, ok := stderr.(*os.File); ok {
			color = isatty.IsTerminal(f.Fd())
		}
		w = zerolog.ConsoleWriter{Out: stderr, NoColor: !color, TimeFormat: "15:04:05"}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format must be console or json, got %q", c.logFormat)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// parse parses flags that may come before or after the positional
// arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// cacheHelp describes the --cache flag.
const cacheHelp = "the step cache: a directory, or a bucket URL (file:///shared/dir, s3://bucket?region=R, " +
	"s3://bucket?endpoint=URL&use_path_style=true&region=R, gs://bucket, azblob://container) " +
	"(default $HETALIGN_CACHE or .hetalign)"

// defaultCache is the cache --cache defaults to: $HETALIGN_CACHE (a
// directory or a bucket URL), else .hetalign.
func defaultCache() string {
	if d := os.Getenv("HETALIGN_CACHE"); d != "" {
		return d
	}
	return ".hetalign"
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitInvalid
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "--version", "-version", "version":
		code, _ := runner.CodeID()
		if len(code) > 12 {
			code = code[:12]
		}
		fmt.Fprintf(stdout, "hetalign %s (%s %s/%s, code %s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, code)
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "run", "plan", "vet", "report", "check":
		return runSpecs(cmd, rest, stdout, stderr)
	case "diff":
		return runDiff(rest, stdout, stderr)
	case "cache":
		return runCache(rest, stdout, stderr)
	case "step":
		return runStep(rest, stdout, stderr)
	case "bench":
		return runBench(rest, stdout, stderr)
	case "methods", "envs", "metrics":
		return runRegistry(cmd, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "hetalign: unknown command %q\n\n%s", cmd, usage)
	return exitInvalid
}

func runSpecs(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hetalign "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	var tags multi
	fs.Var(&tags, "t", "set a spec tag, key=value (repeatable), e.g. -t profile=paper")
	jobs := fs.Int("jobs", runtime.NumCPU(), "number of steps computed in parallel")
	backend := fs.String("backend", "", "compute backend: go (pure Go, the default), xla:cpu, cuda (finds JAX's CUDA PJRT plugin) or xla:<plugin path>; default: the specs' backend field, else go")
	cache := fs.String("cache", defaultCache(), cacheHelp)
	out := fs.String("out", "reports", "directory that receives <report>/")
	quiet := fs.Bool("q", false, "plan: print only the summary line")
	weak := fs.Float64("weak", math.NaN(), "check: list only the claims whose relative margin is under R (and those with no margin), e.g. --weak 0.1")
	var ex executorFlags
	ex.register(fs)
	index := fs.Bool("index", false, "report with no spec: write the page of every report in --out from its report.json (computing nothing), and --out/index.html, the list of them")
	serve := fs.String("serve", "", "run: serve the reports of --out and the run's progress at this address while the run goes on (a bare port binds 127.0.0.1)")
	maxCells := fs.Int("max-cells", plan.DefaultMaxCells, "refuse an experiment whose sweep has more cells (axis values' product × seeds) than this, before evaluating any (planning holds about 10 KB per cell); 0: no limit")
	specs, err := parse(fs, args)
	if err != nil {
		return exitInvalid
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitInvalid
	}
	if cmd == "report" && *index && len(specs) == 0 {
		if err := page.WriteAll(*out); err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitFailed
		}
		log.Info().Str("file", filepath.Join(*out, page.FileName)).Msg("pages and index written")
		return exitOK
	}
	if len(specs) == 0 {
		fmt.Fprintf(stderr, "hetalign %s: name at least one spec file\n", cmd)
		return exitInvalid
	}
	if *jobs < 1 {
		fmt.Fprintln(stderr, "hetalign: --jobs must be at least 1")
		return exitInvalid
	}
	if *maxCells < 0 {
		fmt.Fprintln(stderr, "hetalign: --max-cells must be 0 (no limit) or more")
		return exitInvalid
	}
	if !math.IsNaN(*weak) && (cmd != "check" || math.IsInf(*weak, 0)) {
		fmt.Fprintln(stderr, "hetalign: --weak R is a flag of check, with R a finite number (a relative margin, e.g. 0.1)")
		return exitInvalid
	}
	files, err := spec.Load(specs, spec.Options{Tags: tags})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitInvalid
	}
	be, err := chooseBackend(*backend, files)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitInvalid
	}
	if cmd == "vet" {
		// Planning evaluates every sweep cell and reads data files, so it
		// finds what loading alone cannot.
		g, err := runner.Plan(files, runner.Options{Jobs: *jobs, Backend: be.key, GPU: be.GPU(), MaxCells: *maxCells, Log: log}, nil)
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitInvalid
		}
		n := 0
		for _, f := range files {
			n += len(f.Experiments)
		}
		log.Info().Int("specs", len(files)).Int("experiments", n).Int("steps", len(g.Steps)).Msg("specs are valid")
		return exitOK
	}
	code, err := runner.CodeID()
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitFailed
	}
	if cmd != "vet" {
		// The device enters the keys, so plan and report need it too.
		if err := be.open(log); err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitFailed
		}
	}
	codes, err := runner.SourceCodes()
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitFailed
	}
	opts := runner.Options{Jobs: *jobs, Cache: *cache, Out: *out, Backend: be.key, Compute: be.Config, Device: be.device,
		GPU: be.GPU(), Code: code, Codes: codes, Version: version, Tags: tags, MaxCells: *maxCells, Log: log, Stdout: stdout}
	// On a terminal: one live progress line on stderr, and tables folded
	// to the width of stdout.
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) && c.logFormat == "console" {
		live := runner.NewLiveLine(stderr)
		opts.Progress = live
		opts.Log = log.Output(zerolog.ConsoleWriter{Out: live, NoColor: false, TimeFormat: "15:04:05"})
	}
	if cmd == "run" {
		if opts.Executor, err = ex.executor(fs, files, *cache); err == nil {
			err = executorReady(opts.Executor, log) // before anything is submitted or written
		}
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitInvalid
		}
	}
	if f, ok := stdout.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			opts.Width = w
		}
	}
	switch cmd {
	case "plan":
		return printPlan(files, opts, *quiet, stdout, stderr)
	case "report":
		res, err := runner.Rebuild(files, opts)
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitStatus(err)
		}
		for _, c := range res.FailedClaims {
			log.Warn().Msg("claim does not hold: " + c)
		}
		return exitOK
	case "check":
		return checkClaims(files, opts, *weak, stdout, stderr)
	}
	if *serve != "" {
		ls, err := startServe(*serve, *out)
		if err != nil {
			fmt.Fprintln(stderr, "hetalign:", err)
			return exitInvalid
		}
		opts.Observe = ls.observe
		log.Info().Str("url", ls.URL()).Msg("serving the reports while the run goes on")
		defer ls.stop()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runner.Run(ctx, files, opts)
	var se spec.Errors
	if errors.As(err, &se) {
		fmt.Fprintln(stderr, se)
		return exitInvalid
	}
	var mc *plan.MaxCellsError
	if errors.As(err, &mc) {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitInvalid
	}
	if res != nil {
		if res.Interrupted > 0 {
			// One line for Ctrl-C, not one per step that did not start:
			// the counts of the steps done (now cached) and of those a
			// rerun computes (interrupted ones and failed ones).
			log.Warn().Int("steps", res.Steps).Int("computed", res.Computed).Int("cached", res.Cached).Int("not_needed", res.Skipped).
				Int("failed", res.Failed).Int("not_finished", res.Interrupted).Int("rerun_computes", res.Interrupted+res.Failed).
				Msg("interrupted: finished steps are cached; rerun to resume")
			if ctx.Err() != nil {
				return exitInterrupted
			}
			return exitFailed
		}
		log.Info().Int("steps", res.Steps).Int("computed", res.Computed).Int("cached", res.Cached).Int("not_needed", res.Skipped).
			Int("failed", res.Failed).Msg("done")
		for _, f := range res.Failures {
			log.Error().Msg(f)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitStatus(err)
	}
	if res != nil && len(res.FailedClaims) > 0 {
		for _, c := range res.FailedClaims {
			log.Error().Msg("claim does not hold: " + c)
		}
		return exitClaims
	}
	return exitOK
}

// checkClaims prints every claim of the specs, evaluated over the cache,
// with ✓ or ✗, its relative margin and the source of its threshold; the
// status is exitClaims when one does not hold. With weak not NaN it lists
// only the claims whose margin is under weak, and those without one.
func checkClaims(files []*spec.File, opts runner.Options, weak float64, stdout, stderr io.Writer) int {
	reps, err := runner.Check(files, opts)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitStatus(err)
	}
	n, failed, listed := 0, 0, 0
	for _, r := range reps {
		for _, x := range r.Experiments {
			claims := x.Claims
			if !math.IsNaN(weak) {
				claims = reports.WeakClaims(claims, weak)
			}
			n += len(x.Claims)
			if len(claims) == 0 {
				continue
			}
			listed += len(claims)
			fmt.Fprintf(stdout, "%s/%s\n", r.Name, x.Name)
			reports.WriteClaims(stdout, claims, "  ")
		}
		failed += len(r.FailedClaims())
	}
	if !math.IsNaN(weak) {
		fmt.Fprintf(stdout, "%d of %d claims have a relative margin under %g or none\n", listed, n, weak)
	}
	fmt.Fprintf(stdout, "%d of %d claims hold\n", n-failed, n)
	if failed > 0 {
		return exitClaims
	}
	return exitOK
}
