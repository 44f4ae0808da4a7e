package methods

import (
	"encoding/json"
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
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
