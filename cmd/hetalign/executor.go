package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner"
	rexec "hetalign/runner/exec"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// executorFlags are the flags of `hetalign run` that choose and configure
// the executor.
type executorFlags struct {
	name      string
	partition string
	time      string
	cpus      int
	mem       string
	gpus      int
	extra     multi
	throttle  int
	retries   int
	chunk     int
	dir       string
	poll      time.Duration
}

func (e *executorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.name, "executor", "local", "where steps run: local (this process's workers) or slurm (sbatch job arrays of 'hetalign step'; the cache must be on a filesystem the nodes share)")
	fs.StringVar(&e.partition, "slurm-partition", "", "slurm: sbatch --partition (default: the spec's executor.slurm.partition, else Slurm's default)")
	fs.StringVar(&e.time, "slurm-time", "", "slurm: sbatch --time of each task, e.g. 1:00:00 (default: the spec's, else Slurm's)")
	fs.IntVar(&e.cpus, "slurm-cpus", 0, "slurm: sbatch --cpus-per-task; a task computes that many of its steps at once (default: the spec's, else Slurm's)")
	fs.StringVar(&e.mem, "slurm-mem", "", "slurm: sbatch --mem, e.g. 4G (default: the spec's, else Slurm's)")
	fs.IntVar(&e.gpus, "slurm-gpus", 0, "slurm: GPUs per task of GPU steps, --gres=gpu:N (default: the spec's, else 1)")
	fs.Var(&e.extra, "slurm-extra", "slurm: one more sbatch argument, e.g. --slurm-extra=--account=lab (repeatable; replaces the spec's extra)")
	fs.IntVar(&e.throttle, "slurm-throttle", 0, "slurm: most tasks of one array running at once (--array=…%N); 0: no cap")
	fs.IntVar(&e.retries, "retries", 2, "slurm: times a step whose task failed or died is submitted again")
	fs.IntVar(&e.chunk, "slurm-chunk", 0, "slurm: steps per array task; 0: as few as keep each submission within one array of 1000 tasks")
	fs.StringVar(&e.dir, "slurm-dir", "", "slurm: driver directory on the shared filesystem (batches, job ids, task logs; default <cache>/slurm)")
	fs.DurationVar(&e.poll, "slurm-poll", 2*time.Second, "slurm: interval between looks at the cache and squeue")
}

// executor builds the executor the flags ask for; the spec's
// executor.slurm field fills the sbatch options no flag set.
func (e *executorFlags) executor(fs *flag.FlagSet, files []*spec.File, cache string) (rexec.Executor, error) {
	switch e.name {
	case "local":
		return rexec.Local{}, nil
	case "slurm":
	default:
		return nil, fmt.Errorf("--executor must be local or slurm, got %q", e.name)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fromSpec, err := specSlurm(files)
	if err != nil {
		return nil, err
	}
	c := rexec.SlurmConfig{Partition: fromSpec.Partition, Time: fromSpec.Time, CPUs: fromSpec.CPUs, Mem: fromSpec.Mem,
		GPUs: fromSpec.GPUs, Extra: fromSpec.Extra, Throttle: e.throttle, Retries: e.retries, Chunk: e.chunk, Poll: e.poll}
	if set["slurm-partition"] {
		c.Partition = e.partition
	}
	if set["slurm-time"] {
		c.Time = e.time
	}
	if set["slurm-cpus"] {
		c.CPUs = e.cpus
	}
	if set["slurm-mem"] {
		c.Mem = e.mem
	}
	if set["slurm-gpus"] {
		c.GPUs = e.gpus
	}
	if set["slurm-extra"] {
		c.Extra = e.extra
	}
	if c.Retries < 0 || c.Throttle < 0 || c.Chunk < 0 || c.CPUs < 0 || c.GPUs < 0 {
		return nil, errors.New("--retries, --slurm-throttle, --slurm-chunk, --slurm-cpus and --slurm-gpus cannot be negative")
	}
	if strings.HasPrefix(cache, "mem://") {
		return nil, errors.New("--executor slurm cannot use a mem:// cache: the tasks run in other processes; use a directory or a file://, s3://, gs:// or azblob:// URL")
	}
	if strings.Contains(cache, "://") && !strings.HasPrefix(cache, "file://") {
		c.Cache = cache
		if e.dir == "" {
			return nil, errors.New("--executor slurm with a bucket cache needs --slurm-dir, a directory on the filesystem the nodes share")
		}
	} else {
		p, err := filepath.Abs(strings.TrimPrefix(cache, "file://"))
		if err != nil {
			return nil, fmt.Errorf("--cache: %w", err)
		}
		c.Cache = p
		if strings.HasPrefix(cache, "file://") {
			c.Cache = "file://" + p
		}
		c.Dir = filepath.Join(p, "slurm")
	}
	if e.dir != "" {
		if c.Dir, err = filepath.Abs(e.dir); err != nil {
			return nil, fmt.Errorf("--slurm-dir: %w", err)
		}
	}
	return rexec.Slurm{Config: c}, nil
}

// executorReady checks what the Slurm executor needs before anything is
// submitted or written: sbatch and squeue on PATH, squeue answering (the
// controller is reachable), and a directory cache that exists or can be
// created and written. A directory cache in a temporary or in-memory
// filesystem gets a warning: the compute nodes rarely share it.
func executorReady(e rexec.Executor, log zerolog.Logger) error {
	sl, ok := e.(rexec.Slurm)
	if !ok {
		return nil
	}
	c := sl.Config
	sbatch, squeue := c.Sbatch, c.Squeue
	if sbatch == "" {
		sbatch = "sbatch"
	}
	if squeue == "" {
		squeue = "squeue"
	}
	for _, cmd := range []string{sbatch, squeue} {
		if _, err := osexec.LookPath(cmd); err != nil {
			return fmt.Errorf("--executor slurm needs %s on PATH, and it is not there (run on a Slurm login node, or load Slurm's module): %w", cmd, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"--noheader", "--format", "%i"}
	if u, err := user.Current(); err == nil {
		args = append(args, "--user", u.Username) // only this user's jobs: a cheap question
	}
	q := osexec.CommandContext(ctx, squeue, args...)
	var stderr strings.Builder
	q.Stderr = &stderr
	if err := q.Run(); err != nil {
		return fmt.Errorf("--executor slurm: squeue does not answer, so the Slurm controller is not reachable from here: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	if strings.Contains(c.Cache, "://") && !strings.HasPrefix(c.Cache, "file://") {
		return nil // a bucket: opening the cache checks it
	}
	dir := strings.TrimPrefix(c.Cache, "file://")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("--executor slurm: the cache %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("--executor slurm: the cache %s is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	if tmp := os.TempDir(); dir == tmp || strings.HasPrefix(dir, tmp+string(filepath.Separator)) || strings.HasPrefix(dir, "/dev/shm/") {
		log.Warn().Str("cache", dir).Msg("the cache is in a temporary directory; compute nodes usually do not share it: use a directory on the shared filesystem (NFS, Lustre) or a bucket")
	}
	return nil
}

// specSlurm merges the executor.slurm fields of files: a field set by
// two specs must agree.
func specSlurm(files []*spec.File) (spec.SlurmConfig, error) {
	var c spec.SlurmConfig
	var from string
	conflict := func(field string, f *spec.File) error {
		return fmt.Errorf("specs %s and %s set executor.slurm.%s differently: choose with the flag", from, f.Path, field)
	}
	for _, f := range files {
		s := f.Slurm
		if s == nil {
			continue
		}
		for _, x := range []struct {
			name     string
			dst, src *string
		}{{"partition", &c.Partition, &s.Partition}, {"time", &c.Time, &s.Time}, {"mem", &c.Mem, &s.Mem}} {
			if *x.src != "" {
				if *x.dst != "" && *x.dst != *x.src {
					return c, conflict(x.name, f)
				}
				*x.dst = *x.src
			}
		}
		for _, x := range []struct {
			name     string
			dst, src *int
		}{{"cpus", &c.CPUs, &s.CPUs}, {"gpus", &c.GPUs, &s.GPUs}} {
			if *x.src != 0 {
				if *x.dst != 0 && *x.dst != *x.src {
					return c, conflict(x.name, f)
				}
				*x.dst = *x.src
			}
		}
		if len(s.Extra) > 0 {
			if c.Extra != nil && strings.Join(c.Extra, "\x00") != strings.Join(s.Extra, "\x00") {
				return c, conflict("extra", f)
			}
			c.Extra = s.Extra
		}
		from = f.Path
	}
	return c, nil
}

// runStep is `hetalign step`: compute stored steps by key.
func runStep(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hetalign step", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: hetalign step [flags] KEY...

Compute the steps KEY from their descriptions in the cache (written by
'hetalign run --executor slurm'): read each step's inputs from the cache,
compute it with the backend its description names, store its output. A
step already in the cache is skipped; a step another process is computing
(it holds the step's lease) is waited for. Exit status 1 when a step
fails, with the error on stderr. This is what a Slurm array task runs.

flags:
`)
		fs.PrintDefaults()
	}
	var c common
	c.register(fs)
	cache := fs.String("cache", defaultCache(), cacheHelp)
	keysFile := fs.String("keys-file", "", "read more keys from this file, whitespace-separated")
	jobs := fs.Int("jobs", envInt("SLURM_CPUS_PER_TASK", 1), "steps computed at once (default $SLURM_CPUS_PER_TASK, else 1)")
	keys, err := parse(fs, args)
	if err != nil {
		return exitInvalid
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitInvalid
	}
	if *keysFile != "" {
		f, err := os.Open(*keysFile)
		if err != nil {
			fmt.Fprintln(stderr, "hetalign step:", err)
			return exitInvalid
		}
		sc := bufio.NewScanner(f)
		sc.Split(bufio.ScanWords)
		for sc.Scan() {
			keys = append(keys, sc.Text())
		}
		f.Close()
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "hetalign step: reading %s: %v\n", *keysFile, err)
			return exitInvalid
		}
	}
	if len(keys) == 0 {
		fmt.Fprintln(stderr, "hetalign step: name at least one step key")
		return exitInvalid
	}
	if *jobs < 1 {
		*jobs = 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// In a Slurm array task the lease owner names the task, so that the
	// driver can break the leases of a task that died.
	owner := rexec.NewOwner()
	if job, task := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); job != "" && task != "" {
		owner += rexec.SlurmOwnerSuffix(job, task)
	}
	err = runner.Step(ctx, *cache, keys, runner.StepOptions{Jobs: *jobs, Owner: owner, Log: log, Wrap: testHooks()})
	if err != nil {
		fmt.Fprintln(stderr, "hetalign step:", err)
		return exitStatus(err)
	}
	return exitOK
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// testHooks lets tests of the Slurm executor make `hetalign step` fail
// or linger: HETALIGN_TEST_FAIL_STEP names a label substring whose steps
// fail; HETALIGN_TEST_STEP_DELAY (a duration) delays every step. Both are
// for tests only.
func testHooks() func(rexec.StoredFunc) rexec.StoredFunc {
	failOn := os.Getenv("HETALIGN_TEST_FAIL_STEP")
	delay, _ := time.ParseDuration(os.Getenv("HETALIGN_TEST_STEP_DELAY"))
	if failOn == "" && delay <= 0 {
		return nil
	}
	return func(fn rexec.StoredFunc) rexec.StoredFunc {
		return func(ctx context.Context, d *store.StepDesc, inputs [][]byte) ([]byte, error) {
			if delay > 0 {
				time.Sleep(delay)
			}
			if failOn != "" && strings.Contains(d.Label, failOn) {
				return nil, fmt.Errorf("failing on purpose (HETALIGN_TEST_FAIL_STEP=%s)", failOn)
			}
			return fn(ctx, d, inputs)
		}
	}
}
