package methods

import (
	"bytes"
	"testing"

	"hetalign/envs/analytic"
	"hetalign/metrics"
)

// The published variant is fit only by SGD: without a model or an
// optimizer its check names the field variant; "eq20" is the default and
// shares the step key of a spec that leaves variant out.
func TestConsistentVariantCheck(t *testing.T) {
	c := Context{Name: "c", EnvBeta: 1, Types: 3, Data: "full", Regime: analytic.Full}
	tests := []struct {
		js   string
		path string // the problem's path, "" for none
	}{
		{`{}`, ""},
		{`{"variant": "eq20"}`, ""},
		{`{"variant": "published"}`, "variant"},
		{`{"variant": "published", "l2": 0.1}`, "variant"},
		{`{"variant": "published", "optimizer": {"steps": 10}}`, ""},
		{`{"variant": "published", "model": {"kind": "mlp"}}`, ""},
	}
	for _, tc := range tests {
		p, err := Decode("consistent", []byte(tc.js))
		if err != nil {
			t.Fatal(err)
		}
		p.Defaults(c)
		ps := p.Check(c)
		switch {
		case tc.path == "" && len(ps) > 0:
			t.Errorf("%s: unexpected problems %v", tc.js, ps)
		case tc.path != "" && (len(ps) != 1 || ps[0].Path != tc.path):
			t.Errorf("%s: problems %v, want one at %q", tc.js, ps, tc.path)
		}
	}
	key := func(js string) []byte {
		p, _ := Decode("consistent", []byte(js))
		p.Defaults(c)
		raw, err := StepParams("consistent", p, 0)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if a, b := key(`{}`), key(`{"variant": "eq20"}`); !bytes.Equal(a, b) {
		t.Errorf("variant eq20 changes the step params: %s vs %s", a, b)
	}
	if a, b := key(`{"optimizer": {}}`), key(`{"optimizer": {}, "variant": "published"}`); bytes.Equal(a, b) {
		t.Errorf("variant published leaves the step params unchanged: %s", a)
	}
}

// The kind passes the variant through to SGD: on Section 4.3's full
// population data the published variant trains a different tabular
// policy than Eq. 20.
func TestConsistentPublishedFit(t *testing.T) {
	w, _ := section43(t)
	d, err := w.PopulationData(analytic.Full)
	if err != nil {
		t.Fatal(err)
	}
	sgd := `"model": {"kind": "tabular"}, "optimizer": {"lr": 0.05, "batch": 256, "steps": 600}`
	eq20, err := fitTab(t, "consistent", `{`+sgd+`}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := fitTab(t, "consistent", `{"variant": "published", `+sgd+`}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	if tv := metrics.TV(eq20.Policy[0], pub.Policy[0]); tv < 0.01 {
		t.Errorf("published and Eq. 20 fits are %.4f (TV) apart: %v vs %v", tv, pub.Policy[0], eq20.Policy[0])
	}
	// The exact fit refuses the published variant (Check reports it first).
	p, _ := Decode("consistent", []byte(`{"variant": "published"}`))
	p.Defaults(Context{EnvBeta: 1, Types: 2})
	if _, err := p.(TabularFitter).FitTabular(&TabularInput{World: w, Data: d, Backend: goBackend}); err == nil {
		t.Error("the exact fit accepted the published variant")
	}
}
