package exec

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"hetalign/runner/plan"
	"hetalign/runner/store"
)

// SlurmConfig configures the Slurm executor.
type SlurmConfig struct {
	// Partition, Time (--time), CPUs (--cpus-per-task) and Mem (--mem) of
	// every task; empty or zero leaves Slurm's default. GPUs is the count
	// of --gres=gpu:N for GPU steps (default 1). Extra are more sbatch
	// arguments, given as they are.
	Partition string
	Time      string
	CPUs      int
	Mem       string
	GPUs      int
	Extra     []string
	// Throttle caps the tasks of one array that run at once (%N; 0: no
	// cap).
	Throttle int
	// Retries is how many times a step whose task failed is submitted
	// again.
	Retries int
	// Chunk is the number of steps one array task computes; 0 chooses as
	// few as keep one submission round within one array of MaxArray tasks.
	Chunk int
	// Dir is the driver directory on the shared filesystem: batch key
	// lists, job ids and task logs. Drivers sharing it (a restarted one)
	// adopt each other's queued and running tasks.
	Dir string
	// Cache is the store location the tasks open (an absolute path or URL
	// valid on the compute nodes).
	Cache string
	// Command is the hetalign executable the tasks run (default: this
	// process's executable, which must be on the shared filesystem).
	Command string
	// Sbatch and Squeue name the Slurm commands (default sbatch, squeue).
	Sbatch, Squeue string
	// Poll is the interval between looks at the store and squeue (default
	// 2 s); a task missing from squeue whose steps are not in the store
	// after Grace (default 3 polls) has failed.
	Poll, Grace time.Duration
	// SubmitPatience is how long sbatch may keep failing because the
	// controller does not answer (slurmctld restarting) before the steps
	// waiting for submission fail (default 15 minutes). Such failures are
	// retried with a growing backoff (up to a minute) and do not count
	// as a step's tries.
	SubmitPatience time.Duration
	// Stale: a task that squeue lists as running but that shows no sign
	// of life in the store for this long — none of its steps stored, no
	// lease of its steps renewed (leases are renewed every third of their
	// lifetime) — has ended (a controller restarted after losing it
	// still lists it); default twice DefaultLeaseTTL.
	Stale time.Duration
	// StallWarn: when no step has finished for this long, the driver
	// says so, with what it waits for (default 5 minutes).
	StallWarn time.Duration
}

// controllerDown reports whether an sbatch failure says that the Slurm
// controller could not be reached (a transient condition: it is
// restarting), as opposed to a submission it refused.
func controllerDown(msg string) bool {
	for _, s := range []string{"Unable to contact slurm controller", "Socket timed out", "Connection refused",
		"Slurm temporarily unable", "temporarily unavailable", "Zero Bytes were transmitted or received",
		"Transport endpoint is not connected", "Connection timed out"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// MaxArray is the most tasks in one sbatch array (Slurm's default
// MaxArraySize is 1001).
const MaxArray = 1000

// Slurm is the executor that runs steps as Slurm job arrays of
// `hetalign step`; report steps (cheap, Partial) run in the driver.
type Slurm struct {
	Config SlurmConfig
}

// slurmState is where one step stands in a Slurm run.
type slurmState int

const (
	stWaiting   slurmState = iota // inputs not all finished
	stSubmitted                   // in an array task (queued or running)
	stDone                        // outcome known
)

// taskRef names one array task: job id and task index.
type taskRef struct {
	job  string
	task int
}

func (t taskRef) String() string { return t.job + "_" + strconv.Itoa(t.task) }

// batch is one sbatch submission as recorded in the driver directory.
type batch struct {
	dir  string
	job  string
	keys [][]string // per task
}

// Execute runs g on Slurm and returns one outcome per step.
func (x Slurm) Execute(ctx context.Context, g *plan.Graph, st *store.Store, fn Func, opts Options) []*Outcome {
	c := x.Config
	if c.GPUs <= 0 {
		c.GPUs = 1
	}
	if c.Sbatch == "" {
		c.Sbatch = "sbatch"
	}
	if c.Squeue == "" {
		c.Squeue = "squeue"
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 3 * c.Poll
	}
	if c.SubmitPatience <= 0 {
		c.SubmitPatience = 15 * time.Minute
	}
	if c.Stale <= 0 {
		c.Stale = 2 * DefaultLeaseTTL
	}
	if c.StallWarn <= 0 {
		c.StallWarn = 5 * time.Minute
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 2 * time.Second
	}
	n := len(g.Steps)
	out := make([]*Outcome, n)
	fail := func(err error) []*Outcome {
		for i := range out {
			if out[i] == nil {
				out[i] = &Outcome{Err: err}
			}
		}
		return out
	}
	if c.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			return fail(fmt.Errorf("finding the hetalign executable for Slurm tasks: %w", err))
		}
		c.Command = exe
	}
	if c.Dir == "" || c.Cache == "" {
		return fail(errors.New("slurm executor: a driver directory and a cache location are required"))
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "batches"), 0o755); err != nil {
		return fail(fmt.Errorf("creating the Slurm driver directory: %w", err))
	}
	abs, _ := filepath.Abs(c.Dir)
	h := sha256.Sum256([]byte(abs))
	d := &driver{c: c, g: g, st: st, fn: fn, opts: opts, out: out, name: "hetalign-" + hex.EncodeToString(h[:4]),
		state: make([]slurmState, n), task: make([]taskRef, n), tries: make([]int, n), gone: map[taskRef]time.Time{},
		running: map[taskRef]bool{}, logs: map[string]string{}, sign: map[taskRef]time.Time{}, staleSaid: map[taskRef]bool{}}
	return d.run(ctx)
}

// driver is one Slurm run.
type driver struct {
	c    SlurmConfig
	g    *plan.Graph
	st   *store.Store
	fn   Func
	opts Options
	out  []*Outcome
	name string // job name shared by the drivers of one Dir

	state   []slurmState
	task    []taskRef
	tries   []int
	adopted map[string]taskRef    // keys in tasks of earlier drivers
	gone    map[taskRef]time.Time // tasks first missed by squeue
	running map[taskRef]bool      // tasks squeue shows running
	logs    map[string]string     // job id → batch dir
	started map[int]bool

	sign      map[taskRef]time.Time // last sign of life of running tasks
	staleSaid map[taskRef]bool
	// Submission while the controller does not answer.
	downSince, nextSubmit time.Time
	backoff               time.Duration
}

// alive reports whether task t, which squeue lists in state, is alive:
// a task listed as running must also show signs of life in the store (a
// step of it stored, or a lease of its steps renewed) at least every
// Stale; one that does not has ended, whatever squeue says.
func (d *driver) alive(t taskRef, state string, now time.Time) bool {
	if state != "RUNNING" {
		return state != ""
	}
	last, ok := d.sign[t]
	if !ok {
		d.sign[t] = now
		return true
	}
	if now.Sub(last) < d.c.Stale {
		return true
	}
	// Look for a lease of its steps that it renews.
	suffix := SlurmOwnerSuffix(t.job, strconv.Itoa(t.task))
	for i, s := range d.g.Steps {
		if d.state[i] != stSubmitted || d.task[i] != t {
			continue
		}
		if l := d.st.LeaseOf(s.Key); l != nil && strings.HasSuffix(l.Owner, suffix) && l.Expires.After(now) &&
			l.Expires.Sub(now) > DefaultLeaseTTL/2 {
			d.sign[t] = now
			return true
		}
	}
	if !d.staleSaid[t] {
		d.staleSaid[t] = true
		d.opts.Log.Warn().Str("task", t.String()).Dur("silent", now.Sub(last).Round(time.Second)).
			Msg("squeue lists the task as running, but it has shown no sign of life in the store (no step stored, no lease renewed): taking it as ended")
	}
	return false
}

func (d *driver) finish(i int, o *Outcome) {
	d.out[i] = o
	d.state[i] = stDone
	if d.opts.Observer != nil {
		d.opts.Observer.Finished(d.g.Steps[i], o)
	}
}

func (d *driver) run(ctx context.Context) []*Outcome {
	g, log := d.g, d.opts.Log
	decide(g, d.st, d.out)
	for i, o := range d.out {
		if o != nil {
			d.finish(i, o)
		}
	}
	d.started = map[int]bool{}
	if err := d.adopt(); err != nil {
		log.Warn().Err(err).Msg("reading earlier Slurm submissions")
	}
	lastProgress := time.Now()
	squeueDown := false
	lastChange, lastStallWarn, lastDone := time.Now(), time.Now(), -1
	for {
		if err := d.st.Unreachable(); err != nil {
			// The store stopped answering: what is submitted goes on (a
			// rerun adopts it); nothing more is submitted.
			for i := range d.out {
				if d.out[i] == nil {
					d.finish(i, &Outcome{Err: err})
				}
			}
			return d.out
		}
		alive, qerr := d.squeue()
		switch {
		case qerr != nil && !squeueDown:
			log.Warn().Err(qerr).Msg("squeue failed: assuming every submitted task is alive until it answers")
			squeueDown = true
		case qerr == nil && squeueDown:
			log.Info().Msg("squeue answers again")
			squeueDown = false
		}
		// Submitted steps: done when their manifest appears; failed when
		// their task is gone without it.
		retry := map[int]bool{}
		for i, s := range g.Steps {
			if d.state[i] != stSubmitted {
				continue
			}
			if d.st.Has(s.Key) {
				if m, ok := d.st.Get(s.Key); ok {
					d.markStarted(i)
					d.finish(i, &Outcome{Manifest: m})
					d.sign[d.task[i]] = time.Now()
					continue
				}
			}
			t := d.task[i]
			if qerr != nil || d.alive(t, alive[t], time.Now()) {
				if alive[t] == "RUNNING" {
					d.markStarted(i)
				}
				delete(d.gone, t)
				continue
			}
			since, ok := d.gone[t]
			if !ok {
				d.gone[t] = time.Now()
				continue
			}
			if time.Since(since) < d.c.Grace {
				continue
			}
			d.breakLease(s.Key, t)
			d.tries[i]++
			err := fmt.Errorf("task %s on Slurm ended without storing the step (attempt %d of %d)%s", t, d.tries[i], d.c.Retries+1, d.logTail(t))
			if d.tries[i] > d.c.Retries {
				log.Warn().Str("step", s.Label).Err(err).Msg("step failed")
				d.finish(i, &Outcome{Err: err})
				continue
			}
			log.Warn().Str("step", s.Label).Str("task", t.String()).Msg("task ended without the step: submitting it again")
			d.state[i] = stWaiting
			retry[i] = true
		}
		if ctx.Err() != nil {
			break
		}
		// Waiting steps whose inputs are finished: fail, compute here
		// (reports), adopt, or submit.
		var ready []int
		for i, s := range g.Steps {
			if d.state[i] != stWaiting || !d.inputsDone(s) {
				continue
			}
			// Only report steps (computed here) need their inputs' bytes;
			// for the others a failed input is enough to know.
			if s.Partial {
				inputs, partial, failed := gather(s, d.st, d.out)
				if failed != nil {
					d.finish(i, failed)
				} else {
					d.finish(i, d.local(ctx, s, inputs, partial))
				}
				continue
			}
			switch failed := failedInput(s, d.out); {
			case failed != nil:
				d.finish(i, failed)
			default:
				if t, ok := d.adopted[s.Key]; ok && !retry[i] && (qerr != nil || alive[t] != "") {
					d.state[i], d.task[i] = stSubmitted, t
					continue
				}
				ready = append(ready, i)
			}
		}
		if len(ready) > 0 && !time.Now().Before(d.nextSubmit) {
			err := d.submit(ready)
			switch {
			case err != nil && controllerDown(err.Error()) && (d.downSince.IsZero() || time.Since(d.downSince) < d.c.SubmitPatience):
				// The controller is restarting: back off; the steps wait
				// and their tries are not spent.
				if d.downSince.IsZero() {
					d.downSince = time.Now()
					d.backoff = d.c.Poll
					log.Warn().Err(err).Dur("patience", d.c.SubmitPatience).
						Msg("the Slurm controller does not answer sbatch: retrying with backoff (the steps' tries are not spent)")
				}
				d.nextSubmit = time.Now().Add(d.backoff)
				d.backoff = min(2*d.backoff, time.Minute)
				err = nil
			case err == nil && !d.downSince.IsZero():
				log.Info().Dur("after", time.Since(d.downSince).Round(time.Second)).Msg("the Slurm controller accepts submissions again")
				d.downSince = time.Time{}
			}
			if err != nil {
				log.Warn().Err(err).Msg("submission failed")
				for _, i := range ready {
					if d.state[i] != stWaiting {
						continue // its array was accepted
					}
					d.tries[i]++
					if d.tries[i] > d.c.Retries {
						d.finish(i, &Outcome{Err: err})
					}
				}
			}
		}
		left := 0
		queued, running, done := 0, 0, 0
		for i := range g.Steps {
			switch d.state[i] {
			case stDone:
				done++
			case stSubmitted:
				if alive[d.task[i]] == "RUNNING" {
					running++
				} else {
					queued++
				}
				left++
			default:
				left++
			}
		}
		if done != lastDone {
			lastDone, lastChange = done, time.Now()
		}
		if time.Since(lastChange) >= d.c.StallWarn && time.Since(lastStallWarn) >= d.c.StallWarn {
			lastStallWarn = time.Now()
			log.Warn().Dur("for", time.Since(lastChange).Round(time.Second)).Int("queued", queued).Int("running", running).
				Int("waiting", left-queued-running).Dur("stale_after", d.c.Stale).
				Msg("no step has finished lately: still waiting for the Slurm tasks (a task squeue lists as running that shows no sign of life in the store for stale_after is taken as ended)")
		}
		if time.Since(lastProgress) >= d.opts.ProgressEvery || left == 0 {
			log.Info().Int("queued", queued).Int("running", running).Int("done", done).Int("steps", len(g.Steps)).Msg("slurm")
			lastProgress = time.Now()
		}
		if left == 0 {
			return d.out
		}
		t := time.NewTimer(d.c.Poll)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	// Interrupted: submitted tasks go on; a rerun adopts them.
	for i := range d.out {
		if d.out[i] == nil {
			d.finish(i, &Outcome{Err: fmt.Errorf("not finished: %w", ctx.Err())})
		}
	}
	return d.out
}

func (d *driver) markStarted(i int) {
	if !d.started[i] {
		d.started[i] = true
		if d.opts.Observer != nil {
			d.opts.Observer.Started(d.g.Steps[i])
		}
	}
}

func (d *driver) inputsDone(s *plan.Step) bool {
	for _, in := range s.Inputs {
		if d.state[in.Index] != stDone {
			return false
		}
	}
	return true
}

// local computes a Partial step (a report) in the driver.
func (d *driver) local(ctx context.Context, s *plan.Step, inputs [][]byte, partial bool) *Outcome {
	d.markStarted(s.Index)
	start := time.Now()
	b, err := safeRun(ctx, d.fn, s, inputs)
	if err != nil {
		return &Outcome{Err: err}
	}
	if partial {
		return &Outcome{Incomplete: true, Output: b}
	}
	m, err := d.st.Put(s.Key, s.Kind, s.Label, map[string][]byte{"out": b}, time.Since(start).Seconds())
	if err != nil {
		return &Outcome{Err: fmt.Errorf("storing output: %w", err)}
	}
	return &Outcome{Manifest: m}
}

// submit writes the descriptions of steps idx and submits them: CPU and
// GPU steps in separate arrays, Chunk keys per task, at most MaxArray
// tasks per array.
func (d *driver) submit(idx []int) error {
	// Descriptions first, several at once (a shared filesystem or a
	// bucket answers each write slowly).
	errc := make(chan error, len(idx))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := d.st.PutStepDesc(Desc(d.g.Steps[i], d.opts.Compute)); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return fmt.Errorf("submitting %d steps: %w", len(idx), err)
	}
	var cpu, gpu []int
	for _, i := range idx {
		s := d.g.Steps[i]
		if s.GPU {
			gpu = append(gpu, i)
		} else {
			cpu = append(cpu, i)
		}
	}
	var errs []error
	for _, group := range []struct {
		idx []int
		gpu bool
	}{{cpu, false}, {gpu, true}} {
		if len(group.idx) == 0 {
			continue
		}
		chunk := d.c.Chunk
		if chunk <= 0 {
			chunk = (len(group.idx) + MaxArray - 1) / MaxArray
		}
		for len(group.idx) > 0 {
			var tasks [][]int
			for len(group.idx) > 0 && len(tasks) < MaxArray {
				k := min(chunk, len(group.idx))
				tasks = append(tasks, group.idx[:k])
				group.idx = group.idx[k:]
			}
			if err := d.submitArray(tasks, group.gpu); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// submitArray records one array's key lists in a new batch directory,
// runs sbatch and records the job id.
func (d *driver) submitArray(tasks [][]int, gpu bool) error {
	var rb [4]byte
	rand.Read(rb[:])
	name := time.Now().UTC().Format("20060102T150405.000000") + "-" + hex.EncodeToString(rb[:])
	bdir := filepath.Join(d.c.Dir, "batches", name)
	if err := os.MkdirAll(filepath.Join(bdir, "logs"), 0o755); err != nil {
		return fmt.Errorf("creating batch %s: %w", name, err)
	}
	nsteps := 0
	var all bytes.Buffer
	for t, idx := range tasks {
		var b bytes.Buffer
		for _, i := range idx {
			b.WriteString(d.g.Steps[i].Key + "\n")
		}
		nsteps += len(idx)
		all.Write(b.Bytes())
		all.WriteString("\n")
		if err := os.WriteFile(filepath.Join(bdir, "keys."+strconv.Itoa(t)), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("submitting %d steps: %w", nsteps, err)
		}
	}
	script := fmt.Sprintf("#!/bin/sh\n# hetalign step tasks: each computes the keys of %s/keys.$SLURM_ARRAY_TASK_ID\nexec %s step --cache %s --keys-file %s/keys.\"$SLURM_ARRAY_TASK_ID\"\n",
		shellQuote(bdir), shellQuote(d.c.Command), shellQuote(d.c.Cache), shellQuote(bdir))
	sp := filepath.Join(bdir, "job.sh")
	if err := os.WriteFile(sp, []byte(script), 0o755); err != nil {
		return fmt.Errorf("submitting %d steps: %w", nsteps, err)
	}
	array := fmt.Sprintf("0-%d", len(tasks)-1)
	if d.c.Throttle > 0 {
		array += "%" + strconv.Itoa(d.c.Throttle)
	}
	args := []string{"--parsable", "--job-name", d.name, "--array", array, "--output", filepath.Join(bdir, "logs", "%a.log")}
	if d.c.Partition != "" {
		args = append(args, "--partition", d.c.Partition)
	}
	if d.c.Time != "" {
		args = append(args, "--time", d.c.Time)
	}
	if d.c.CPUs > 0 {
		args = append(args, "--cpus-per-task", strconv.Itoa(d.c.CPUs))
	}
	if d.c.Mem != "" {
		args = append(args, "--mem", d.c.Mem)
	}
	if gpu {
		args = append(args, fmt.Sprintf("--gres=gpu:%d", d.c.GPUs))
	}
	args = append(args, d.c.Extra...)
	args = append(args, sp)
	cmd := osexec.Command(d.c.Sbatch, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	o, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("submitting %d steps (sbatch %s): %w: %s", nsteps, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	job, _, _ := strings.Cut(strings.TrimSpace(string(o)), ";")
	if _, err := strconv.Atoi(job); err != nil {
		return fmt.Errorf("submitting %d steps: sbatch printed %q, not a job id", nsteps, o)
	}
	if err := os.WriteFile(filepath.Join(bdir, "job"), []byte(job+"\n"), 0o644); err != nil {
		return fmt.Errorf("recording job %s: %w", job, err)
	}
	d.logs[job] = bdir
	for t, idx := range tasks {
		for _, i := range idx {
			d.state[i] = stSubmitted
			d.task[i] = taskRef{job, t}
		}
	}
	d.opts.Log.Info().Str("job", job).Int("tasks", len(tasks)).Int("steps", nsteps).Bool("gpu", gpu).Str("name", d.name).Msg("submitted")
	return nil
}

// adopt reads the batches of earlier drivers in Dir: their keys, with
// their tasks, are not submitted again while squeue lists the task.
func (d *driver) adopt() error {
	d.adopted = map[string]taskRef{}
	entries, err := os.ReadDir(filepath.Join(d.c.Dir, "batches"))
	if err != nil {
		return fmt.Errorf("listing batches: %w", err)
	}
	for _, e := range entries {
		bdir := filepath.Join(d.c.Dir, "batches", e.Name())
		jb, err := os.ReadFile(filepath.Join(bdir, "job"))
		if err != nil {
			continue // sbatch never answered
		}
		job := strings.TrimSpace(string(jb))
		d.logs[job] = bdir
		for t := 0; ; t++ {
			kb, err := os.ReadFile(filepath.Join(bdir, "keys."+strconv.Itoa(t)))
			if err != nil {
				break
			}
			for _, k := range strings.Fields(string(kb)) {
				d.adopted[k] = taskRef{job, t}
			}
		}
	}
	return nil
}

// squeue returns the state (PENDING, RUNNING, …) of every task of this
// Dir's jobs that Slurm still lists.
func (d *driver) squeue() (map[taskRef]string, error) {
	cmd := osexec.Command(d.c.Squeue, "--noheader", "--array", "--name", d.name, "--format", "%i %T")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	o, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("squeue: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	alive := map[taskRef]string{}
	sc := bufio.NewScanner(bytes.NewReader(o))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		job, task, ok := strings.Cut(f[0], "_")
		if !ok {
			continue
		}
		if t, err := strconv.Atoi(task); err == nil {
			alive[taskRef{job, t}] = f[1]
			continue
		}
		// A pending range the scheduler has not split: 12_[3-9%2].
		r := strings.Trim(task, "[]")
		r, _, _ = strings.Cut(r, "%")
		for _, part := range strings.Split(r, ",") {
			lo, hi, _ := strings.Cut(part, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			if hi != "" {
				b, _ = strconv.Atoi(hi)
			}
			if err1 != nil {
				continue
			}
			for t := a; t <= b; t++ {
				alive[taskRef{job, t}] = f[1]
			}
		}
	}
	return alive, nil
}

// logTail is the end of task t's log, for the error of a failed step.
func (d *driver) logTail(t taskRef) string {
	bdir, ok := d.logs[t.job]
	if !ok {
		return ""
	}
	p := filepath.Join(bdir, "logs", strconv.Itoa(t.task)+".log")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("; no log at %s", p)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	tail := strings.Join(lines, "\n")
	if len(tail) > 4000 {
		tail = tail[len(tail)-4000:]
	}
	return fmt.Sprintf("; log %s ends:\n%s", p, tail)
}

// SlurmOwnerSuffix ends the lease owner of `hetalign step` in array task
// job_task, so that the driver can break the leases of a task that died.
func SlurmOwnerSuffix(job, task string) string { return ":slurm=" + job + "_" + task }

// breakLease removes the lease of key when task t, now gone, holds it (it
// was killed before it could release it): the step's next task need not
// wait for the lease to expire.
func (d *driver) breakLease(key string, t taskRef) {
	if l := d.st.LeaseOf(key); l != nil && strings.HasSuffix(l.Owner, SlurmOwnerSuffix(t.job, strconv.Itoa(t.task))) {
		if err := d.st.ReleaseLease(key, l.Owner); err != nil {
			d.opts.Log.Warn().Err(err).Msg("breaking the lease of a dead task")
		}
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
