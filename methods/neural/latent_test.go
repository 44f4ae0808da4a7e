package neural

import (
	"math"
	"testing"

	"hetalign/bradleyterry"
	"hetalign/methods/latent"
)

// tvRows is the largest total variation distance between two policies'
// rows.
func tvRows(p, q [][]float64) float64 {
	var worst float64
	for x := range p {
		var s float64
		for y := range p[x] {
			s += math.Abs(p[x][y] - q[x][y])
		}
		worst = math.Max(worst, s/2)
	}
	return worst
}

// A PolicyTrainer trained in several calls (warm starts) on weighted
// win counts approaches the exact DPO policy of those counts, the Gibbs
// policy π ∝ exp(θ/β) of their Bradley–Terry fit (uniform reference). Its
// tuples are the pair shares themselves (population data), so what is
// left is Adam's jitter: with a constant learning rate lr each logit
// moves by about lr per step, so the TV to the optimum is of order lr
// times the number of responses; the test asks for 2·lr·nY.
func TestPolicyTrainerWarmStarts(t *testing.T) {
	w := [][]float64{{0, 6, 8, 9}, {4, 0, 5, 7}, {2, 5, 0, 6}, {1, 3, 4, 0}}
	theta, ok := bradleyterry.MM(w, 1e-13, 100_000)
	if !ok {
		t.Fatal("MM did not converge")
	}
	const beta = 0.5
	r := [][]float64{make([]float64, 4)}
	copy(r[0], theta)
	ref := [][]float64{{0.25, 0.25, 0.25, 0.25}}
	want := latent.Gibbs(r, ref, beta)
	b, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	const lr = 0.01
	p, err := NewPolicyTrainer(b, 1, 4, beta, Arch{Kind: "tabular"}, lr, 256, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := FromPairs([][][]float64{w}, []float64{1})
	var prev float64
	for call := range 4 {
		if _, err := p.Train(data, 400, uint64(call)); err != nil {
			t.Fatal(err)
		}
		pol, err := p.Policy()
		if err != nil {
			t.Fatal(err)
		}
		tv := tvRows(pol, want)
		t.Logf("after %d steps: TV %.4f", 400*(call+1), tv)
		if call == 0 {
			prev = tv
		}
		if call == 3 && (tv > 2*lr*4 || tv > prev) {
			t.Errorf("TV to the exact DPO policy %v after 1,600 steps (after 400: %v)", tv, prev)
		}
	}
}

// MaxMinSGD's policy approaches the exact max-min policy (latent.MaxMin,
// by its dual to a gap of 1e-10) on two groups with conflicting rewards
// over two prompts; the objective's gradient is exact, so the distance is
// the optimisation's: Adam's jitter (order lr per logit) and the
// exponentiated-weights step's (order η times the groups' value gap).
// The test asks for TV ≤ 0.02 and a worst-off value within 0.01.
func TestMaxMinSGDMatchesExact(t *testing.T) {
	rewards := [][][]float64{
		{{2, 1, 0, -1}, {0, 1, 0, 0}},
		{{-1, 0, 1, 1.5}, {0, 0, 2, 0}},
	}
	prior := []float64{0.7, 0.3}
	ref := [][]float64{{0.25, 0.25, 0.25, 0.25}, {0.25, 0.25, 0.25, 0.25}}
	logRef := [][]float64{make([]float64, 4), make([]float64, 4)}
	for x := range ref {
		for y := range ref[x] {
			logRef[x][y] = math.Log(ref[x][y])
		}
	}
	const beta = 1.0
	_, exact, gap := latent.MaxMin(rewards, ref, prior, beta, 1e-10, 200_000)
	if gap > 1e-8 {
		t.Fatalf("exact max-min: gap %v", gap)
	}
	worstExact := math.Inf(1)
	for k := range rewards {
		worstExact = math.Min(worstExact, latent.Objective(exact, rewards[k], ref, prior, beta))
	}
	b, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []Arch{{Kind: "tabular"}, {Kind: "mlp", Depth: 2, Width: 15, Activation: "tanh"}} {
		pol, lambda, worst, err := MaxMinSGD(b, rewards, prior, logRef, beta, arch, MaxMinOptions{Rounds: 300, Steps: 10, LR: 0.02, Eta: 0.5}, 1)
		if err != nil {
			t.Fatal(err)
		}
		tv := tvRows(pol, exact)
		t.Logf("%s: TV %.4f, λ %.3f, worst %.4f (exact %.4f)", arch.Kind, tv, lambda, worst, worstExact)
		if tv > 0.02 || math.Abs(worst-worstExact) > 0.01 {
			t.Errorf("%s: TV %v to the exact max-min policy; worst-off value %v, exact %v", arch.Kind, tv, worst, worstExact)
		}
	}
}
