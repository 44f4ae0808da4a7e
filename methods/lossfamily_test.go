package methods

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/metrics"
)

// familyKinds are TRL's loss family, each a registered kind.
var familyKinds = []string{"hinge", "robust", "cdpo", "exo", "nca", "bco", "sppo", "apo-zero", "apo-down", "discopop"}

// section43 is the paper's Section 4.3 example (two equally weighted
// types over three alternatives, τ = 1, uniform D and π_ref) as a World
// with its population data of regime anonymous.
func section43(t *testing.T) (*analytic.World, *analytic.Data) {
	t.Helper()
	e := &analytic.Env{Alternatives: []string{"y1", "y2", "y3"},
		Population: envs.Population{Names: []string{"A", "B"}, Weights: []float64{0.5, 0.5}},
		Rewards:    [][]float64{{6, 1, 4}, {3, 9, 4}}, Sampling: []float64{1. / 3, 1. / 3, 1. / 3},
		Reference: []float64{1. / 3, 1. / 3, 1. / 3}, Beta: 1, Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	w := analytic.Single(tr)
	d, err := w.PopulationData(analytic.Anonymous)
	if err != nil {
		t.Fatal(err)
	}
	return w, d
}

func params(t *testing.T, kind, js string) Params { return paramsOn(t, kind, js, "") }

func paramsOn(t *testing.T, kind, js, world string) Params {
	t.Helper()
	p, err := Decode(kind, []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	c := Context{Name: kind, EnvBeta: 1, Types: 2, World: world}
	p.Defaults(c)
	if ps := p.Check(c); len(ps) > 0 {
		t.Fatalf("%s %s: %v", kind, js, ps)
	}
	return p
}

func goBackend() (backends.Backend, error) { return neural.Backend("go") }

func fitTab(t *testing.T, kind, js string, w *analytic.World, d *analytic.Data) (*metrics.Trained, error) {
	t.Helper()
	f, ok := params(t, kind, js).(TabularFitter)
	if !ok {
		t.Fatalf("%s does not fit on finite alternatives", kind)
	}
	return f.FitTabular(&TabularInput{World: w, Data: d, Seed: 7, Backend: goBackend})
}

// Every kind of the family is registered, accepts the regimes of labelled
// pairs, fits the population of Section 4.3 exactly (apo-zero and apo-down
// only with a prior: their expected losses have no finite minimiser there,
// and the fit says so) and trains on
// both worlds.
func TestLossFamilyKinds(t *testing.T) {
	w, d := section43(t)
	for _, name := range familyKinds {
		k, ok := Lookup(name)
		if !ok {
			t.Fatalf("kind %s is not registered", name)
		}
		if !k.Accepts(analytic.Anonymous) || !k.Runs("") || !k.Runs(sequence.WorldTag) || !strings.Contains(k.CUE, `"`+name+`"`) {
			t.Errorf("%s: regimes %v, worlds %v", name, k.Regimes, k.Worlds())
		}
		res, err := fitTab(t, name, `{}`, w, d)
		if name == "apo-down" || name == "apo-zero" {
			if err == nil || !strings.Contains(err.Error(), "no finite minimiser") || !strings.Contains(err.Error(), `"y3"`) || !strings.Contains(err.Error(), `) → 0)`) || !strings.Contains(err.Error(), "l2: ") {
				t.Errorf("%s: want an error naming y3 and an l2 on Section 4.3 (its infimum is on the simplex's edge), got %v", name, err)
			}
			res, err = fitTab(t, name, `{"l2": 0.1}`, w, d)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var s float64
		for _, p := range res.Policy[0] {
			s += p
		}
		if math.Abs(s-1) > 1e-12 {
			t.Errorf("%s: policy sums to %v", name, s)
		}
	}
}

// At ε = 0, robust and cdpo are DPO: the kinds pass ε through.
func TestLossFamilyEpsilonZeroIsDPO(t *testing.T) {
	w, d := section43(t)
	dpo, err := fitTab(t, "dpo", `{}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"robust", "cdpo"} {
		res, err := fitTab(t, name, `{"epsilon": 0}`, w, d)
		if err != nil {
			t.Fatal(err)
		}
		for y := range res.LogRatio[0] {
			if math.Abs(res.LogRatio[0][y]-dpo.LogRatio[0][y]) > 1e-8 {
				t.Errorf("%s at ε = 0: θ %v, DPO %v", name, res.LogRatio[0], dpo.LogRatio[0])
				break
			}
		}
		smoothed, err := fitTab(t, name, `{"epsilon": 0.2}`, w, d)
		if err != nil {
			t.Fatal(err)
		}
		if metrics.TV(smoothed.Policy[0], dpo.Policy[0]) < 1e-3 {
			t.Errorf("%s at ε = 0.2 equals DPO: ε is not passed through", name)
		}
	}
	if _, err := Decode("cdpo", []byte(`{"epsilon": 0.7}`)); err != nil {
		t.Fatal(err)
	}
	bad, _ := Decode("cdpo", []byte(`{"epsilon": 0.7}`))
	bad.Defaults(Context{EnvBeta: 1})
	if ps := bad.Check(Context{EnvBeta: 1}); len(ps) == 0 || ps[0].Path != "epsilon" {
		t.Errorf("cdpo with ε = 0.7 passes its check: %v", ps)
	}
}

// SGD on a tabular policy and on the MLP reaches the exact population fit.
func TestLossFamilySGD(t *testing.T) {
	w, d := section43(t)
	for _, tc := range []struct{ kind, model string }{{"nca", "tabular"}, {"cdpo", "tabular"}, {"sppo", "mlp"}} {
		exact, err := fitTab(t, tc.kind, `{}`, w, d)
		if err != nil {
			t.Fatal(err)
		}
		sgd, err := fitTab(t, tc.kind, `{"model": {"kind": "`+tc.model+`"}, "optimizer": {"lr": 0.05, "batch": 256, "steps": 600}}`, w, d)
		if err != nil {
			t.Fatal(err)
		}
		if tv := metrics.TV(sgd.Policy[0], exact.Policy[0]); tv > 0.02 {
			t.Errorf("%s by SGD (%s): TV %.4f from the exact fit %v vs %v", tc.kind, tc.model, tv, sgd.Policy[0], exact.Policy[0])
		}
	}
}

// Every kind of the family trains a causal transformer policy on the
// sequence environment.
func TestLossFamilySequence(t *testing.T) {
	text := []byte(strings.Repeat("Light is propagated from luminous bodies in time. ", 40))
	rise := sequence.LengthReward{Shape: "rising"}.Defaults()
	fall := sequence.LengthReward{Shape: "falling"}.Defaults()
	w, err := sequence.New(sequence.Config{Text: text, L: 12, Prompts: 40, Test: 0.25, PromptMin: 1, PromptMax: 3,
		Names: []string{"long", "short"}, Weights: []float64{0.5, 0.5}, Rewards: []sequence.LengthReward{rise, fall},
		Temperature: 1, Grid: 5})
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.Sample(sequence.Anonymous, 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range familyKinds {
		p := paramsOn(t, name, `{"model": {"kind": "transformer", "width": 8, "heads": 2}, "optimizer": {"steps": 3, "batch": 4}}`, sequence.WorldTag)
		res, err := p.(SequenceFitter).FitSequence(&SequenceInput{World: w, Data: d, Seed: 3, Backend: goBackend})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Scores) != w.Seqs(w.Test).N() || math.IsNaN(res.FinalLoss) {
			t.Errorf("%s: %d scores for %d test sequences, final loss %v", name, len(res.Scores), w.Seqs(w.Test).N(), res.FinalLoss)
		}
	}
}

// The length baselines' agreement with r̄ is the share of decided test
// pairs whose r̄-better response is the longer (or the shorter) one,
// counted here from the world's rewards and lengths directly.
func TestLengthBaseline(t *testing.T) {
	text := []byte(strings.Repeat("Light is propagated from luminous bodies in time. ", 40))
	rise := sequence.LengthReward{Shape: "rising"}.Defaults()
	bump := sequence.LengthReward{Shape: "bump"}.Defaults()
	w, err := sequence.New(sequence.Config{Text: text, L: 24, Prompts: 200, Test: 0.5, PromptMin: 1, PromptMax: 5,
		Names: []string{"long", "mid"}, Weights: []float64{0.5, 0.5}, Rewards: []sequence.LengthReward{rise, bump},
		Temperature: 1, Grid: 5})
	if err != nil {
		t.Fatal(err)
	}
	var longer, shorter, decided int
	for _, i := range w.Test {
		x0, x1 := w.X(i, 0), w.X(i, 1)
		dr := w.Avg[x1] - w.Avg[x0]
		if dr == 0 {
			continue
		}
		decided++
		switch {
		case x1 > x0 && dr > 0 || x1 < x0 && dr < 0:
			longer++
		case x1 < x0 && dr > 0 || x1 > x0 && dr < 0:
			shorter++
		}
	}
	for _, tc := range []struct {
		prefer string
		want   float64
	}{{"longer", float64(longer) / float64(decided)}, {"shorter", float64(shorter) / float64(decided)}} {
		p := paramsOn(t, "length-baseline", `{"prefer": "`+tc.prefer+`"}`, sequence.WorldTag)
		res, err := p.(SequenceFitter).FitSequence(&SequenceInput{World: w, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		agree, _, dec, err := w.Agreement(res.Scores)
		if err != nil {
			t.Fatal(err)
		}
		if dec != decided || float64(agree)/float64(dec) != tc.want {
			t.Errorf("%s: agreement %d/%d, counted %.4f of %d", tc.prefer, agree, dec, tc.want, decided)
		}
	}
}

// With one type the Borda count over x orders every pair as that type's
// reward does (σ is increasing and D has mass), so the "borda" baseline
// agrees with r̄ = r on every decided test pair. (Monotone shapes only: a
// symmetric bump gives pairs whose rewards differ by rounding alone.)
func TestLengthBaselineBordaOneType(t *testing.T) {
	text := []byte(strings.Repeat("Light is propagated from luminous bodies in time. ", 40))
	for _, shape := range []string{"rising", "falling", "linear"} {
		w, err := sequence.New(sequence.Config{Text: text, L: 24, Prompts: 200, Test: 0.5, PromptMin: 1, PromptMax: 5,
			Names: []string{"only"}, Weights: []float64{1}, Rewards: []sequence.LengthReward{sequence.LengthReward{Shape: shape}.Defaults()},
			Temperature: 1, Grid: 5})
		if err != nil {
			t.Fatal(err)
		}
		p := paramsOn(t, "length-baseline", `{"prefer": "borda"}`, sequence.WorldTag)
		res, err := p.(SequenceFitter).FitSequence(&SequenceInput{World: w, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		agree, ties, dec, err := w.Agreement(res.Scores)
		if err != nil {
			t.Fatal(err)
		}
		if dec == 0 || agree != dec || ties != 0 {
			t.Errorf("%s: borda agrees on %d of %d decided pairs (%d ties), want all", shape, agree, dec, ties)
		}
	}
}
