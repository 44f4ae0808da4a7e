package runner

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"hetalign/runner/spec"
	"hetalign/runner/store"
)

const (
	sweep10k  = "testdata/sweep10k.cue"
	sweep100k = "testdata/sweep100k.cue"
)

func benchOpts(b *testing.B) Options {
	dir := b.TempDir()
	return Options{Jobs: 2, Cache: filepath.Join(dir, "cache"), Out: filepath.Join(dir, "out"),
		Backend: "go", Code: "bench", Log: zerolog.Nop(), Stdout: io.Discard}
}

// BenchmarkPlanCold10k loads the 10,000-cell spec, plans it from scratch
// (CUE evaluates every cell) and checks every step against an empty cache.
func BenchmarkPlanCold10k(b *testing.B) {
	o := benchOpts(b)
	for b.Loop() {
		files, err := spec.Load([]string{sweep10k}, spec.Options{})
		if err != nil {
			b.Fatal(err)
		}
		g, err := Plan(files, o, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := store.Open(o.Cache)
		Status(g, st)
	}
}

// BenchmarkPlanCold100k is BenchmarkPlanCold10k on 100,000 cells (1,000
// values of a field another is computed from, so evaluated with CUE, times
// 100 of one nothing reads). The target is under 15 s on 2 cores.
func BenchmarkPlanCold100k(b *testing.B) {
	o := benchOpts(b)
	for b.Loop() {
		files, err := spec.Load([]string{sweep100k}, spec.Options{})
		if err != nil {
			b.Fatal(err)
		}
		g, err := Plan(files, o, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := store.Open(o.Cache)
		Status(g, st)
	}
}

// BenchmarkRerun10k is `hetalign run` on the unchanged 10,000-cell spec
// after a complete run: load, plan (from the plan cache), find the report
// cached, write the report directory.
func BenchmarkRerun10k(b *testing.B) {
	o := benchOpts(b)
	files, err := spec.Load([]string{sweep10k}, spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Run(context.Background(), files, o); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		files, err := spec.Load([]string{sweep10k}, spec.Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := Run(context.Background(), files, o)
		if err != nil || res.Computed != 0 {
			b.Fatalf("rerun computed %d steps: %v", res.Computed, err)
		}
	}
}

// BenchmarkPlanCheck10k is `hetalign plan` after a complete run: load, the
// plan from the plan cache, and a cache lookup for all 40,001 steps.
func BenchmarkPlanCheck10k(b *testing.B) {
	o := benchOpts(b)
	files, _ := spec.Load([]string{sweep10k}, spec.Options{})
	if _, err := Run(context.Background(), files, o); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		files, _ := spec.Load([]string{sweep10k}, spec.Options{})
		st, _ := store.Open(o.Cache)
		g, err := Plan(files, o, st)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range Status(g, st) {
			if !s.Cached {
				b.Fatal("step not cached")
			}
		}
	}
}

// BenchmarkSurveySpec runs specs/paper/survey.cue from scratch (empty
// cache): reading ANES, rewards, every flip LP, DPO, the report.
func BenchmarkSurveySpec(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		o := benchOpts(b)
		b.StartTimer()
		files, err := spec.Load([]string{"../specs/paper/survey.cue"}, spec.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Run(context.Background(), files, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLossAtlas runs specs/beyond/losses.cue cold (a fresh cache each
// time): every loss of the atlas fit exactly on every example and on the
// circle, the evaluations and the report. The target is under 60 s on a
// 2-core machine.
func BenchmarkLossAtlas(b *testing.B) {
	files, err := spec.Load([]string{"../specs/beyond/losses.cue"}, spec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		o := benchOpts(b)
		if _, err := Run(context.Background(), files, o); err != nil {
			b.Fatal(err)
		}
	}
}
