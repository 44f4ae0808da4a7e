package methods_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hetalign/runner/spec"
)

// A spec that asks for the published consistent loss without a model or an
// optimizer fails its check at the method's variant field, with a position
// in the file; with an optimizer it loads.
func TestConsistentPublishedNeedsSGDInSpec(t *testing.T) {
	const sgd = `c: {kind: "consistent", data: "full", variant: "published", optimizer: steps: 10}`
	src := `experiments: x: {
	population: types: {
		A: {weight: 1, reward: {y1: 1, y2: 2}}
		B: {weight: 1, reward: {y1: 2, y2: 0}}
	}
	preference: temperature: 1
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: full: regime: "full"
	methods: {
		` + sgd + `
	}
	report: tables: t: {rows: "method", columns: "metric", cell: "tv"}
}
`
	load := func(src string) error {
		p := filepath.Join(t.TempDir(), "spec.cue")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := spec.Load([]string{p}, spec.Options{})
		return err
	}
	if err := load(src); err != nil {
		t.Fatalf("published variant with an optimizer: %v", err)
	}
	bad := strings.Replace(src, ", optimizer: steps: 10", "", 1)
	err := load(bad)
	var errs spec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("published variant without SGD: err = %v, want spec.Errors", err)
	}
	i := strings.Index(bad, `variant: "published"`)
	line := strings.Count(bad[:i], "\n") + 1
	col := i - strings.LastIndex(bad[:i], "\n")
	want := fmt.Sprintf("spec.cue:%d:%d", line, col)
	for _, e := range errs {
		if strings.Contains(e.String(), want) && strings.Contains(e.Msg, "only by SGD") {
			return
		}
	}
	t.Errorf("want an error at %s saying the variant is fit only by SGD; got:\n%v", want, err)
}
