package exec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/store"
)

// TestMain lets this test binary stand in for the programs the Slurm
// executor runs, by the name it is called with: sbatch (runs an array's
// tasks one after the other before answering, unless FAKE_SBATCH_RUN=0,
// and logs its arguments), squeue (lists nothing: tasks are over when
// sbatch answers) and hetalign (`hetalign step` with a step function
// that returns the key, failing steps whose label contains
// FAKE_FAIL_STEP).
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "sbatch":
		os.Exit(fakeSbatch(os.Args[1:]))
	case "squeue":
		// FAKE_SQUEUE_LIST: lines to print ("1_0 RUNNING", …).
		if l := os.Getenv("FAKE_SQUEUE_LIST"); l != "" {
			fmt.Println(strings.ReplaceAll(l, ";", "\n"))
		}
		os.Exit(0)
	case "hetalign":
		os.Exit(fakeStep(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeSbatch(args []string) int {
	dir := filepath.Dir(os.Args[0])
	var array, output, script string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--array":
			i++
			array = args[i]
		case "--output":
			i++
			output = args[i]
		default:
			script = args[i]
		}
	}
	// FAKE_SBATCH_DOWN=N: the first N calls find the controller down.
	if n, _ := strconv.Atoi(os.Getenv("FAKE_SBATCH_DOWN")); n > 0 {
		p := filepath.Join(dir, "down")
		b, _ := os.ReadFile(p)
		k, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if k < n {
			os.WriteFile(p, []byte(strconv.Itoa(k+1)), 0o644)
			fmt.Fprintln(os.Stderr, "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)")
			return 1
		}
	}
	if os.Getenv("FAKE_SBATCH_REJECT_GPU") == "1" && strings.Contains(strings.Join(args, " "), "--gres") {
		fmt.Fprintln(os.Stderr, "sbatch: error: Invalid generic resource (gres) specification")
		return 1
	}
	f, err := os.OpenFile(filepath.Join(dir, "sbatch.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(f, strings.Join(args, " "))
	f.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "jobs"))
	job, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	job++
	os.WriteFile(filepath.Join(dir, "jobs"), []byte(strconv.Itoa(job)), 0o644)
	// FAKE_SBATCH_LOSE=J: job J is accepted and never runs (a controller
	// that lost it, while squeue may still list it).
	if os.Getenv("FAKE_SBATCH_RUN") != "0" && os.Getenv("FAKE_SBATCH_LOSE") != strconv.Itoa(job) {
		r, _, _ := strings.Cut(array, "%")
		_, hi, _ := strings.Cut(r, "-")
		n, _ := strconv.Atoi(hi)
		for t := 0; t <= n; t++ {
			cmd := osexec.Command("sh", script)
			cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+strconv.Itoa(t), "SLURM_ARRAY_JOB_ID="+strconv.Itoa(job))
			log, err := os.Create(strings.ReplaceAll(output, "%a", strconv.Itoa(t)))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			cmd.Stdout, cmd.Stderr = log, log
			cmd.Run()
			log.Close()
		}
	}
	fmt.Printf("%d;cluster\n", job)
	return 0
}

func fakeStep(args []string) int {
	var cache, keysFile string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--cache":
			i++
			cache = args[i]
		case "--keys-file":
			i++
			keysFile = args[i]
		}
	}
	st, err := store.Open(cache)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := os.Open(keysFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var keys []string
	sc := bufio.NewScanner(f)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		keys = append(keys, sc.Text())
	}
	fail, die := os.Getenv("FAKE_FAIL_STEP"), os.Getenv("FAKE_DIE_STEP")
	fn := func(ctx context.Context, d *store.StepDesc, inputs [][]byte) ([]byte, error) {
		if die != "" && strings.Contains(d.Label, die) {
			// Die once, holding the step's lease, as a killed task does.
			marker := filepath.Join(cache, "died")
			if _, err := os.Stat(marker); err != nil {
				os.WriteFile(marker, nil, 0o644)
				os.Exit(3)
			}
		}
		if fail != "" && strings.Contains(d.Label, fail) {
			return nil, errors.New("failing on purpose")
		}
		return []byte(`"` + d.Key + `"`), nil
	}
	owner := NewOwner() + SlurmOwnerSuffix(os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"))
	if err := RunStored(context.Background(), st, keys, fn, StoredOptions{Jobs: 2, Owner: owner, Log: zerolog.New(os.Stderr)}); err != nil {
		fmt.Fprintln(os.Stderr, "hetalign step:", err)
		return 1
	}
	return 0
}

// fakeSlurm makes the stand-ins and returns a configuration that uses
// them, and the directory where sbatch logs its calls.
func fakeSlurm(t testing.TB, cache string) (SlurmConfig, string) {
	dir := t.TempDir()
	for _, name := range []string{"sbatch", "squeue", "hetalign"} {
		if err := os.Symlink(os.Args[0], filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return SlurmConfig{Dir: filepath.Join(cache, "slurm"), Cache: cache, Command: filepath.Join(dir, "hetalign"),
		Sbatch: filepath.Join(dir, "sbatch"), Squeue: filepath.Join(dir, "squeue"), Poll: 10 * time.Millisecond, Grace: 30 * time.Millisecond}, dir
}

func sbatchCalls(t testing.TB, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "sbatch.log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func gpuGraph(t *testing.T) *plan.Graph {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.cue")
	os.WriteFile(p, []byte(strings.Replace(src, `dpo: {kind: "dpo", data: "pop"}`, `dpo: {kind: "dpo", data: "pop", optimizer: steps: 10}`, 1)), 0o644)
	files, err := spec.Load([]string{p}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := plan.Build(files, plan.Options{Code: "test", Backend: "cuda@fake", GPU: true})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSlurmDriver runs graphs through the Slurm executor with stand-ins
// for sbatch, squeue and hetalign step.
func TestSlurmDriver(t *testing.T) {
	for _, tc := range []struct {
		name    string
		g       func(t *testing.T) *plan.Graph
		cfg     func(c *SlurmConfig)
		fail    string // label substring of the steps that fail
		die     string // label substring of a step whose task dies once
		run     bool   // sbatch runs the tasks
		noGPU   bool   // sbatch rejects the arrays that ask for a GPU
		anyErr  bool   // check counts the failures itself
		env     map[string]string
		logHas  []string // the driver's log contains these
		check   func(t *testing.T, g *plan.Graph, outs []*Outcome, calls []string)
		wantErr int
	}{
		{name: "chunks of 3", g: graph, run: true, cfg: func(c *SlurmConfig) { c.Chunk = 3; c.Throttle = 2; c.Partition = "p"; c.Extra = []string{"--qos=x"} },
			check: func(t *testing.T, g *plan.Graph, outs []*Outcome, calls []string) {
				for _, c := range calls {
					for _, want := range []string{"--partition p", "--qos=x", "%2", "--job-name hetalign-"} {
						if !strings.Contains(c, want) {
							t.Errorf("sbatch %s lacks %q", c, want)
						}
					}
				}
			}},
		{name: "one failing step", g: graph, run: true, fail: "dataset pop s/x/seed=1", cfg: func(c *SlurmConfig) { c.Retries = 1 },
			wantErr: 3, // the dataset, the train that reads it, its eval
			check: func(t *testing.T, g *plan.Graph, outs []*Outcome, calls []string) {
				for i, s := range g.Steps {
					if strings.Contains(s.Label, "dataset pop s/x/seed=1") {
						msg := fmt.Sprint(outs[i].Err)
						for _, want := range []string{"attempt 2 of 2", "failing on purpose", "log "} {
							if !strings.Contains(msg, want) {
								t.Errorf("error lacks %q: %s", want, msg)
							}
						}
					}
				}
			}},
		{name: "a task dies holding a lease", g: graph, run: true, die: "dataset pop s/x/seed=2", cfg: func(c *SlurmConfig) { c.Retries = 1 }},
		// slurmctld restarting: sbatch fails four times saying it cannot
		// reach the controller; with no retries at all every step still
		// computes (those failures spend no tries), after a backoff.
		{name: "controller restarting", g: graph, run: true, cfg: func(c *SlurmConfig) { c.Retries = 0 },
			env:    map[string]string{"FAKE_SBATCH_DOWN": "4"},
			logHas: []string{"the Slurm controller does not answer sbatch", "accepts submissions again"}},
		// A restarted controller lists a task as running that it lost:
		// the task shows no sign of life in the store, so after Stale it
		// is taken as ended and its steps resubmitted; nothing progresses
		// meanwhile, which the driver says after StallWarn.
		{name: "squeue lists a lost task as running", g: graph, run: true,
			cfg: func(c *SlurmConfig) {
				c.Retries = 1
				c.Stale = 300 * time.Millisecond
				c.StallWarn = 100 * time.Millisecond
			},
			env:    map[string]string{"FAKE_SBATCH_LOSE": "1", "FAKE_SQUEUE_LIST": "1_0 RUNNING;1_1 RUNNING;1_2 RUNNING;1_3 RUNNING"},
			logHas: []string{"no sign of life in the store", "no step has finished lately"}},
		{name: "GPU steps in their own arrays", g: gpuGraph, run: true, cfg: func(c *SlurmConfig) { c.GPUs = 2 },
			check: func(t *testing.T, g *plan.Graph, outs []*Outcome, calls []string) {
				gpu := 0
				for _, c := range calls {
					if strings.Contains(c, "--gres=gpu:2") {
						gpu++
						f, _ := filepath.Glob(filepath.Join(filepath.Dir(strings.Fields(c)[len(strings.Fields(c))-1]), "keys.*"))
						for _, kf := range f {
							b, _ := os.ReadFile(kf)
							for _, k := range strings.Fields(string(b)) {
								for _, s := range g.Steps {
									if s.Key == k && !s.GPU {
										t.Errorf("CPU step %s in a GPU array", s.Label)
									}
								}
							}
						}
					}
				}
				if gpu == 0 {
					t.Error("no GPU array")
				}
			}},
		// A rejected GPU array fails the GPU steps (no retries left) and
		// what needs them, but not the CPU steps of the same round, whose
		// array was accepted.
		{name: "a rejected GPU array spares the CPU steps", g: gpuGraph, run: true, noGPU: true, anyErr: true, cfg: func(c *SlurmConfig) { c.Retries = 0 },
			check: func(t *testing.T, g *plan.Graph, outs []*Outcome, calls []string) {
				// Steps are in topological order: a step fails when it
				// asks for a GPU or (not being a report) reads a failed one.
				fails := make([]bool, len(g.Steps))
				gpu, cpuOK := 0, 0
				for i, s := range g.Steps {
					fails[i] = s.GPU
					for _, in := range s.Inputs {
						fails[i] = fails[i] || (fails[in.Index] && !s.Partial)
					}
					if s.GPU {
						gpu++
					}
					if got := outs[i].Err != nil; got != fails[i] {
						t.Errorf("step %s: failed %v, want %v (%v)", s.Label, got, fails[i], outs[i].Err)
					}
					if !s.GPU && !fails[i] && !s.Partial {
						cpuOK++
					}
				}
				if gpu == 0 || cpuOK == 0 {
					t.Errorf("want GPU steps and CPU steps that need none, got %d and %d", gpu, cpuOK)
				}
			}},
		{name: "arrays of at most MaxArray tasks", g: func(*testing.T) *plan.Graph { return wideGraph(2*MaxArray + 10) }, cfg: func(c *SlurmConfig) { c.Chunk = 1 },
			wantErr: 2*MaxArray + 10,
			check: func(t *testing.T, g *plan.Graph, outs []*Outcome, calls []string) {
				var arrays []string
				for _, c := range calls {
					f := strings.Fields(c)
					for i := range f {
						if f[i] == "--array" {
							arrays = append(arrays, f[i+1])
						}
					}
				}
				want := []string{"0-999", "0-999", "0-9"}
				if fmt.Sprint(arrays) != fmt.Sprint(want) {
					t.Errorf("arrays %v, want %v", arrays, want)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g(t)
			cache := filepath.Join(t.TempDir(), "cache")
			st, err := store.Open(cache)
			if err != nil {
				t.Fatal(err)
			}
			cfg, dir := fakeSlurm(t, cache)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			t.Setenv("FAKE_FAIL_STEP", tc.fail)
			t.Setenv("FAKE_DIE_STEP", tc.die)
			start := time.Now()
			if !tc.run {
				t.Setenv("FAKE_SBATCH_RUN", "0")
			}
			if tc.noGPU {
				t.Setenv("FAKE_SBATCH_REJECT_GPU", "1")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var log strings.Builder
			c := &counting{}
			outs := Slurm{Config: cfg}.Execute(context.Background(), g, st, c.fn, Options{Log: zerolog.New(&syncWriter{w: &log})})
			for _, want := range tc.logHas {
				if !strings.Contains(log.String(), want) {
					t.Errorf("the driver's log lacks %q:\n%s", want, log.String())
				}
			}
			nerr := 0
			for i, o := range outs {
				if o.Err != nil {
					nerr++
					continue
				}
				if s := g.Steps[i]; !s.Partial && tc.run && !o.Incomplete {
					b, err := st.Output(o.Manifest, "out")
					if err != nil || string(b) != `"`+s.Key+`"` {
						t.Errorf("step %s: output %q, %v", s.Label, b, err)
					}
				}
			}
			if took := time.Since(start); took > DefaultLeaseTTL/2 {
				t.Errorf("took %v: a dead task's lease was waited for", took)
			}
			if nerr != tc.wantErr && !tc.anyErr {
				t.Errorf("%d steps failed, want %d", nerr, tc.wantErr)
			}
			for _, s := range g.Steps {
				if want := map[bool]int{true: 1}[s.Partial]; c.n[s.Key] != want {
					t.Errorf("step %s computed %d times by the driver, want %d", s.Label, c.n[s.Key], want)
				}
			}
			if tc.check != nil {
				tc.check(t, g, outs, sbatchCalls(t, dir))
			}
		})
	}
}

// submitWatch counts the steps the driver logs as submitted and cancels
// the run once want are.
type submitWatch struct {
	want, got int
	cancel    func()
	done      time.Time
}

func (w *submitWatch) Write(p []byte) (int, error) {
	s := string(p)
	if strings.Contains(s, `"message":"submitted"`) {
		if i := strings.Index(s, `"steps":`); i >= 0 {
			n, _ := strconv.Atoi(strings.TrimRight(strings.SplitN(s[i+8:], ",", 2)[0], "}\n"))
			w.got += n
		}
		if w.got >= w.want && w.done.IsZero() {
			w.done = time.Now()
			w.cancel()
		}
	}
	return len(p), nil
}

// BenchmarkSlurmSubmit10k plans the 10,000-cell sweep of
// runner/testdata/sweep10k.cue (40,001 steps) and times the Slurm
// driver's first round: every step without inputs described in the store,
// its key lists written and submitted to a stand-in sbatch that only
// records the call (no Slurm here). plan-s/op is the planning time,
// submit-s/op the submission, steps the steps submitted.
func BenchmarkSlurmSubmit10k(b *testing.B) {
	files, err := spec.Load([]string{"../testdata/sweep10k.cue"}, spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var planT, submitT time.Duration
	var ready int
	for i := 0; i < b.N; i++ {
		start := time.Now()
		g, err := plan.Build(files, plan.Options{Code: "bench", Workers: 2})
		if err != nil {
			b.Fatal(err)
		}
		planT += time.Since(start)
		ready = 0
		for _, s := range g.Steps {
			if len(s.Inputs) == 0 && !s.Partial {
				ready++
			}
		}
		cache := filepath.Join(b.TempDir(), "cache")
		st, err := store.Open(cache)
		if err != nil {
			b.Fatal(err)
		}
		cfg, _ := fakeSlurm(b, cache)
		cfg.Poll = time.Hour
		os.Setenv("FAKE_SBATCH_RUN", "0")
		ctx, cancel := context.WithCancel(context.Background())
		w := &submitWatch{want: ready, cancel: cancel}
		start = time.Now()
		Slurm{Config: cfg}.Execute(ctx, g, st, nil, Options{Log: zerolog.New(w)})
		cancel()
		if w.done.IsZero() {
			b.Fatalf("submitted %d of %d steps", w.got, ready)
		}
		submitT += w.done.Sub(start)
	}
	os.Unsetenv("FAKE_SBATCH_RUN")
	b.ReportMetric(planT.Seconds()/float64(b.N), "plan-s/op")
	b.ReportMetric(submitT.Seconds()/float64(b.N), "submit-s/op")
	b.ReportMetric(float64(ready), "steps")
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
