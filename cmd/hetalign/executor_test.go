package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rexec "hetalign/runner/exec"
	"hetalign/runner/spec"
)

// TestExecutorFlags: the executor the flags ask for, the spec's
// executor.slurm field filling the options no flag sets.
func TestExecutorFlags(t *testing.T) {
	dir := t.TempDir()
	withField := writeSpec(t, dir, "a.cue", quickstartWith(t, `executor: slurm: {partition: "spec", time: "1:00:00", cpus: 4, extra: ["--qos=q"]}`))
	other := writeSpec(t, dir, "b.cue", strings.Replace(quickstartWith(t, `executor: slurm: {partition: "other"}`), `name: "quickstart"`, `name: "b"`, 1))
	plain := writeSpec(t, dir, "c.cue", strings.Replace(quickstart(t), `name: "quickstart"`, `name: "c"`, 1))
	for _, tc := range []struct {
		name    string
		args    []string
		specs   []string
		want    rexec.SlurmConfig
		local   bool
		wantErr string
	}{
		{name: "default is local", specs: []string{withField}, local: true},
		{name: "spec field", args: []string{"--executor", "slurm"}, specs: []string{withField},
			want: rexec.SlurmConfig{Partition: "spec", Time: "1:00:00", CPUs: 4, Extra: []string{"--qos=q"}, Retries: 2}},
		{name: "flags win", args: []string{"--executor", "slurm", "--slurm-partition", "flag", "--slurm-cpus", "1", "--slurm-extra", "--a", "--slurm-extra", "--b", "--retries", "0"},
			specs: []string{withField}, want: rexec.SlurmConfig{Partition: "flag", Time: "1:00:00", CPUs: 1, Extra: []string{"--a", "--b"}}},
		{name: "no field", args: []string{"--executor", "slurm", "--slurm-gpus", "2", "--slurm-throttle", "5", "--slurm-chunk", "7"}, specs: []string{plain},
			want: rexec.SlurmConfig{GPUs: 2, Throttle: 5, Chunk: 7, Retries: 2}},
		{name: "specs disagree", args: []string{"--executor", "slurm"}, specs: []string{withField, other}, wantErr: "executor.slurm.partition differently"},
		{name: "flag settles a disagreement", args: []string{"--executor", "slurm", "--slurm-partition", "x"}, specs: []string{withField, plain},
			want: rexec.SlurmConfig{Partition: "x", Time: "1:00:00", CPUs: 4, Extra: []string{"--qos=q"}, Retries: 2}},
		{name: "unknown executor", args: []string{"--executor", "k8s"}, specs: []string{plain}, wantErr: "--executor must be local or slurm"},
		{name: "bucket cache needs a dir", args: []string{"--executor", "slurm", "--cache", "s3://b"}, specs: []string{plain}, wantErr: "needs --slurm-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var e executorFlags
			e.register(fs)
			cache := fs.String("cache", filepath.Join(dir, "cache"), "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			files, err := spec.Load(tc.specs, spec.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := e.executor(fs, files, *cache)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.local {
				if _, ok := ex.(rexec.Local); !ok {
					t.Fatalf("executor %T, want local", ex)
				}
				return
			}
			got := ex.(rexec.Slurm).Config
			if got.Cache != filepath.Join(dir, "cache") || got.Dir != filepath.Join(dir, "cache", "slurm") {
				t.Errorf("cache %q, dir %q", got.Cache, got.Dir)
			}
			got.Cache, got.Dir, got.Poll = "", "", 0
			if strings.Join(got.Extra, " ") != strings.Join(tc.want.Extra, " ") {
				t.Errorf("extra %q, want %q", got.Extra, tc.want.Extra)
			}
			got.Extra, tc.want.Extra = nil, nil
			if got.Partition != tc.want.Partition || got.Time != tc.want.Time || got.CPUs != tc.want.CPUs || got.Mem != tc.want.Mem ||
				got.GPUs != tc.want.GPUs || got.Throttle != tc.want.Throttle || got.Retries != tc.want.Retries || got.Chunk != tc.want.Chunk {
				t.Errorf("config %+v, want %+v", got, tc.want)
			}
		})
	}
}

// quickstartWith is the quickstart spec with one more top-level field.
func quickstartWith(t *testing.T, field string) string {
	return quickstart(t) + "\n" + field + "\n"
}

// TestStepCommand: usage errors exit 2; a step that cannot be computed
// exits 1 with the error, naming the step, on stderr.
func TestStepCommand(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	key := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no keys", []string{"step", "--cache", cache}, exitInvalid, "name at least one step key"},
		{"no description", []string{"step", "--cache", cache, key}, exitFailed, "reading step description abababababab"},
		{"bad key", []string{"step", "--cache", cache, "xyz"}, exitFailed, `invalid step key "xyz"`},
		{"missing keys file", []string{"step", "--cache", cache, "--keys-file", filepath.Join(cache, "none")}, exitInvalid, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e, code := cli(t, tc.args...)
			if code != tc.code || !strings.Contains(e, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, e, tc.code, tc.stderr)
			}
		})
	}
}

// --executor slurm checks its prerequisites before it submits or writes
// anything: without sbatch on PATH, or with a squeue that cannot reach the
// controller, run exits 2 with the reason, and the reports directory is
// left as it was (it used to be rewritten with every cell "failed").
func TestSlurmPrerequisites(t *testing.T) {
	dir := t.TempDir()
	p := writeSpec(t, dir, "q.cue", quickstart(t))
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "reports")
	script := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	for _, tc := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"no sbatch", func() {}, "needs sbatch on PATH"},
		{"no squeue", func() { script("sbatch", "exit 0") }, "needs squeue on PATH"},
		{"controller down", func() {
			script("squeue", `echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1`)
		}, "Unable to contact slurm controller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			_, errs, code := cli(t, "run", "--executor", "slurm", "--out", out, "--cache", filepath.Join(dir, "cache"), p)
			if code != exitInvalid || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errs, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the reports directory was written (%v)", err)
			}
		})
	}
}
