package methods

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
	"hetalign/metrics"
)

// latentParams decodes an em-dpo or maxmin value and takes its defaults.
func latentParams(t *testing.T, kind, raw string) Params {
	t.Helper()
	p, err := Decode(kind, json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	p.Defaults(Context{EnvBeta: 1, Types: 3, Regime: envs.Annotated})
	return p
}

// EM-DPO and MaxMin by SGD (tabular and MLP policy networks, the M step a
// few hundred warm-started DPO steps per round) approach their exact
// versions on the same annotated sample of three well-separated types
// (300 annotators × 20 labels). The tolerance is the sample's own
// resolution: a type has about L = 6,000/3 = 2,000 labels, so its win
// shares are known to about 1/(2√L) ≈ 0.011 and the exact fit's policy
// to about twice that (TV of a Gibbs policy moves by at most the change of
// its rewards' differences over 2β, and σ′ ≤ ¼ turns a share's error ε into
// a reward error ≈ 4ε): SGD need not be closer, and the test asks for
// TV ≤ 2/√L ≈ 0.045 to the exact policy and the same inferred types
// (ARI ≥ 0.95 between the two fits' assignments).
func TestLatentSGDApproachesExact(t *testing.T) {
	if testing.Short() {
		t.Skip("SGD fits")
	}
	e := &analytic.Env{Alternatives: []string{"y1", "y2", "y3", "y4"},
		Population: envs.Population{Names: []string{"a", "b", "c"}, Weights: []float64{0.4, 0.3, 0.3}},
		Rewards:    [][]float64{{2, 1, -1, -2}, {-2, -1, 1, 2}, {-1, 2, 2, -1}},
		Sampling:   []float64{0.25, 0.25, 0.25, 0.25}, Reference: []float64{0.25, 0.25, 0.25, 0.25}, Beta: 1,
		Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	w := analytic.Single(tr)
	d, err := w.SampleAnnotated(300, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	L := float64(300*20) / 3
	tol := 2 / math.Sqrt(L)
	for _, kind := range []string{"em-dpo", "maxmin"} {
		exact, err := latentParams(t, kind, `{"k": 3, "held_out": 0}`).(TabularFitter).FitTabular(&TabularInput{World: w, Data: d, Seed: 2, Backend: goBackend})
		if err != nil {
			t.Fatal(err)
		}
		for _, model := range []string{`{"kind": "tabular"}`, `{"kind": "mlp"}`} {
			p := latentParams(t, kind, `{"k": 3, "held_out": 0, "starts": 3, "model": `+model+`}`)
			if !p.SGD() {
				t.Fatalf("%s %s: not an SGD fit", kind, model)
			}
			sgd, err := p.(TabularFitter).FitTabular(&TabularInput{World: w, Data: d, Seed: 2, Backend: goBackend})
			if err != nil {
				t.Fatal(err)
			}
			tv := metrics.TV(sgd.Policy[0], exact.Policy[0])
			a, b := make([]int, len(sgd.Latent.Assign)), make([]int, len(exact.Latent.Assign))
			for i := range a {
				a[i], b[i] = int(sgd.Latent.Assign[i]), int(exact.Latent.Assign[i])
			}
			ari := metrics.ARI(a, b)
			t.Logf("%s, %s: TV %.4f (tolerance %.4f), ARI between the fits %.3f", kind, model, tv, tol, ari)
			if tv > tol || ari < 0.95 {
				t.Errorf("%s, %s: TV %v to the exact policy (tolerance %v), ARI %v", kind, model, tv, tol, ari)
			}
		}
	}
}

// On the sequence env (Appendix F's long, short and mid types, L = 32),
// annotated labels keep their annotator, and em-dpo's EM over the token
// count finds the annotators' types when each labels enough pairs (K =
// 3, 60 labels each): its ARI is within 0.1 of the Bayes classifier's,
// which knows the true rewards and weights (the best any method can do
// from these labels) — EM must also estimate 3 × 32 rewards, and with 100
// annotators one misassigned annotator moves the ARI by about 0.03, so
// this allows three misassignments beyond the Bayes classifier's; with one
// label each the types are not identified (ARI ≤ 0.2). Scores are the aggregate's log-probabilities of the test
// sequences' counts.
func TestLatentTypesOnSequences(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	w, err := sequence.New(sequence.Config{Text: text, L: 32, Prompts: 2000, Test: 0.1, PromptMin: 1, PromptMax: 8,
		Seed: 1, Names: []string{"long", "short", "mid"}, Weights: []float64{1. / 3, 1. / 3, 1. / 3},
		Rewards: []sequence.LengthReward{{Shape: "rising"}, {Shape: "falling"}, {Shape: "bump"}}, Temperature: 1, Grid: 9})
	if err != nil {
		t.Fatal(err)
	}
	// bayes is the ARI of the most probable type of each annotator under
	// the true mixture.
	bayes := func(d *sequence.Data) float64 {
		logp := make([][]float64, d.Annotators)
		for i := range logp {
			logp[i] = []float64{math.Log(1. / 3), math.Log(1. / 3), math.Log(1. / 3)}
		}
		for k, item := range d.Item {
			for u, dl := range w.Delta(item) {
				s := 2*d.Label[k] - 1 // +1: response 1 preferred
				logp[d.Annotator[k]][u] += -math.Log1p(math.Exp(-s * dl / w.Temperature))
			}
		}
		a, b := make([]int, d.Annotators), make([]int, d.Annotators)
		for i, row := range logp {
			for u := range row {
				if row[u] > row[a[i]] {
					a[i] = u
				}
			}
			b[i] = int(d.AnnotatorType[i])
		}
		return metrics.ARI(a, b)
	}
	for _, tc := range []struct {
		annotators, per int
		ari             func(got, bayes float64) bool
	}{
		{100, 60, func(a, b float64) bool { return a >= b-0.1 }},
		{3000, 1, func(a, _ float64) bool { return a <= 0.2 }},
	} {
		d, err := w.SampleAnnotated(tc.annotators, tc.per, 3)
		if err != nil {
			t.Fatal(err)
		}
		best := bayes(d)
		p := latentParams(t, "em-dpo", `{"k": 3, "held_out": 0, "starts": 2}`)
		res, err := p.(SequenceFitter).FitSequence(&SequenceInput{World: w, Data: d, Seed: 2, Backend: goBackend})
		if err != nil {
			t.Fatal(err)
		}
		ari := metrics.LatentMetric("type_recovery", res.Latent).Number
		t.Logf("%d annotators × %d labels: ARI %.3f (Bayes %.3f); %s", tc.annotators, tc.per, ari, best, metrics.LatentMetric("latent_types", res.Latent).Text)
		if !tc.ari(ari, best) || len(res.Scores) != 2*len(w.Test) {
			t.Errorf("%d annotators × %d labels: ARI %v (Bayes %v), %d scores", tc.annotators, tc.per, ari, best, len(res.Scores))
		}
	}
}
