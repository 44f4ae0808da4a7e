package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"

	"hetalign/runner"
	rexec "hetalign/runner/exec"
	"hetalign/runner/plan"
	"hetalign/runner/spec"
	"hetalign/runner/store"
	"hetalign/runner/store/storetest"
)

const toySpec = "../../specs/paper/toy.cue"

// The edit: type B's reward of y2, 9 → 8, in the toy's sensitivity
// experiments.
const (
	rewardsBefore = `"rewards":[[6,1,4],[3,9,4]]`
	rewardsAfter  = `"rewards":[[6,1,4],[3,8,4]]`
)

// editObjects replaces old by new in every object of cache under prefix
// and returns how many objects changed.
func editObjects(t *testing.T, cache, prefix, old, new string) int {
	t.Helper()
	b := bucket(t, cache)
	it := b.List(&blob.ListOptions{Prefix: prefix})
	n := 0
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data := readObject(t, cache, o.Key)
		if bytes.Contains(data, []byte(old)) {
			writeObject(t, cache, o.Key, bytes.ReplaceAll(data, []byte(old), []byte(new)))
			n++
		}
	}
	return n
}

// referenceReport runs spec on a fresh directory cache and returns its
// report.json.
func referenceReport(t *testing.T, spec, name string) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, e, code := cli(t, "run", "--cache", filepath.Join(dir, "cache"), "--out", dir, spec); code != 0 {
		t.Fatalf("reference run: exit %d\n%s", code, e)
	}
	b, err := os.ReadFile(filepath.Join(dir, name, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The reproducer: a one-digit edit of a cached plan (a reward
// 9 → 8) is found, the plan discarded with a warning and made again from
// the spec, and the report is the one a clean cache gives; `cache verify`
// names the edited plan before the run and finds the cache consistent
// after it.
func TestEditedPlanIsDiscarded(t *testing.T) {
	want := referenceReport(t, toySpec, "toy")
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) { testEditedPlanIsDiscarded(t, storetest.URLs(t)[kind], want) })
	}
}

func testEditedPlanIsDiscarded(t *testing.T, cache string, want []byte) {
	if _, e, code := cli(t, "plan", "-q", "--cache", cache, toySpec); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, e)
	}
	if n := editObjects(t, cache, "plans/", rewardsBefore, rewardsAfter); n == 0 {
		t.Fatalf("no cached plan holds %s", rewardsBefore)
	}
	o, _, code := cli(t, "cache", "verify", "--cache", cache)
	if code != exitFailed || !strings.Contains(o, "plan: it is corrupt") {
		t.Errorf("cache verify of the edited plan: exit %d\n%s", code, o)
	}
	out := t.TempDir()
	_, e, code := cli(t, "run", "--cache", cache, "--out", out, toySpec)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, e)
	}
	if !strings.Contains(e, "cached plan") || !strings.Contains(e, "corrupt") || !strings.Contains(e, "planning again from the spec") {
		t.Errorf("run did not warn about the edited plan:\n%s", e)
	}
	got, err := os.ReadFile(filepath.Join(out, "toy", "report.json"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("report.json after the edited plan differs from a clean cache's (%v)", err)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != 0 {
		t.Errorf("cache verify after the run: exit %d\n%s", code, o)
	}
}

// toyGraph plans the toy spec as the CLI does, with st as its cache.
func toyGraph(t *testing.T, st *store.Store) *plan.Graph {
	t.Helper()
	files, err := spec.Load([]string{toySpec}, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, err := runner.CodeID()
	if err != nil {
		t.Fatal(err)
	}
	codes, err := runner.SourceCodes()
	if err != nil {
		t.Fatal(err)
	}
	g, err := runner.Plan(files, runner.Options{Jobs: 1, Backend: "go", Code: code, Codes: codes}, st)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// An edited step description (what a Slurm task computes from) is
// refused by `hetalign step`, which stores nothing under the original's
// key; the driver's next submission rewrites it and the step computes.
func TestEditedStepDescription(t *testing.T) { eachCache(t, testEditedStepDescription) }

func testEditedStepDescription(t *testing.T, cache string) {
	st, err := store.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := toyGraph(t, st)
	var target *plan.Step
	for _, s := range g.Steps {
		if len(s.Inputs) == 0 && bytes.Contains(s.Params, []byte(rewardsBefore)) {
			target = s
			break
		}
	}
	if target == nil {
		t.Fatalf("no input-free step of the toy has %s", rewardsBefore)
	}
	if err := st.PutStepDesc(rexec.Desc(target, "")); err != nil {
		t.Fatal(err)
	}
	k := "steps/" + target.Key[:2] + "/" + target.Key + ".json"
	if n := editObjects(t, cache, k, rewardsBefore, rewardsAfter); n != 1 {
		t.Fatalf("edited %d descriptions", n)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != exitFailed || !strings.Contains(o, "step description: it is corrupt") {
		t.Errorf("cache verify of the edited description: exit %d\n%s", code, o)
	}
	_, e, code := cli(t, "step", "--cache", cache, target.Key)
	if code != exitFailed || !strings.Contains(e, "corrupt") || !strings.Contains(e, target.Key[:12]) {
		t.Errorf("step on an edited description: exit %d\n%s", code, e)
	}
	if st.Has(target.Key) {
		t.Fatal("the edited description was computed and stored under the original key")
	}
	// The driver submits the step again: its description is rewritten.
	if err := st.PutStepDesc(rexec.Desc(target, "")); err != nil {
		t.Fatal(err)
	}
	if _, e, code := cli(t, "step", "--cache", cache, target.Key); code != 0 {
		t.Fatalf("step after the rewrite: exit %d\n%s", code, e)
	}
	if !st.Has(target.Key) {
		t.Error("the step is not stored after the rewrite")
	}
}

// An edited index (the last run of a report, which `plan` reads to say
// why a step reruns) is ignored with a warning, named by `cache verify`,
// and rewritten by the next run.
func TestEditedIndex(t *testing.T) {
	for _, kind := range []string{"dir", "s3"} {
		t.Run(kind, func(t *testing.T) { testEditedIndex(t, storetest.URLs(t)[kind]) })
	}
}

func testEditedIndex(t *testing.T, cache string) {
	spec := writeSpec(t, t.TempDir(), "quickstart.cue", quickstart(t))
	if _, e, code := cli(t, "run", "--cache", cache, "--out", t.TempDir(), spec); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, e)
	}
	if n := editObjects(t, cache, "index/", `"roles":{"`, `"roles":{"x`); n != 1 {
		t.Fatalf("edited %d indexes", n)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != exitFailed || !strings.Contains(o, "index: it is corrupt") {
		t.Errorf("cache verify of the edited index: exit %d\n%s", code, o)
	}
	e := captureStderr(t, func() {
		if o, e, code := cli(t, "plan", "-q", "--cache", cache, spec); code != 0 {
			t.Errorf("plan: exit %d\n%s%s", code, o, e)
		}
	})
	if !strings.Contains(e, "index") || !strings.Contains(e, "corrupt") {
		t.Errorf("plan did not warn about the edited index:\n%s", e)
	}
	if _, e, code := cli(t, "run", "--cache", cache, "--out", t.TempDir(), spec); code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, e)
	}
	if o, _, code := cli(t, "cache", "verify", "--cache", cache); code != 0 {
		t.Errorf("cache verify after the rerun: exit %d\n%s", code, o)
	}
}

// lastLine is the last line of s: what a user reads first.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
