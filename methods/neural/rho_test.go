package neural

import (
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/methods/pairloss"
	"hetalign/methods/tabular"
)

// sec43 is the Section 4.3 example (r_A = (6, 1, 4), r_B = (3, 9, 4), equal
// weights, uniform D) with a non-uniform reference, as a one-prompt World.
func sec43(t testing.TB) *analytic.World {
	t.Helper()
	pop, err := envs.NewPopulation([]string{"A", "B"}, []float64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	e := &analytic.Env{Alternatives: []string{"y1", "y2", "y3"}, Population: pop,
		Rewards: [][]float64{{6, 1, 4}, {3, 9, 4}}, Sampling: []float64{1. / 3, 1. / 3, 1. / 3},
		Reference: []float64{0.2, 0.5, 0.3}, Beta: 1, Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return analytic.Single(tr)
}

// SGD under a pairloss on the population tuples approaches the exact
// tabular fit: cDPO at ε = 0 (DPO), and NCA, which is not DeltaOnly and so
// checks that the model's log-ratios carry the softmax normaliser and the
// reference.
func TestTrainLossMatchesExact(t *testing.T) {
	w := sec43(t)
	d, err := w.PopulationData(analytic.Anonymous)
	if err != nil {
		t.Fatal(err)
	}
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	ref := w.Prompts[0].Reference
	logRef := [][]float64{make([]float64, len(ref))}
	for y, p := range ref {
		logRef[0][y] = math.Log(p)
	}
	for _, l := range []pairloss.Loss{pairloss.CDPO(1, 0), pairloss.NCA(1)} {
		res, err := TrainLoss(be, tuplesOf(d, wonOf), logRef, 1, 3, l, Arch{Kind: "tabular"},
			Optim{LR: 0.05, Batch: 64, Steps: 400}, 1)
		if err != nil {
			t.Fatalf("%v: %v", l, err)
		}
		ex, err := tabular.FitLoss(d.Prompts[0], ref, l, 1, 0)
		if err != nil {
			t.Fatalf("%v: %v", l, err)
		}
		var tv float64
		for y := range ex.Policy {
			tv += math.Abs(ex.Policy[y]-res.Policy[0][y]) / 2
		}
		if tv > 0.02 || math.IsNaN(res.FinalLoss) {
			t.Errorf("%v: SGD policy %v is %.3g (TV) from the exact %v", l, res.Policy[0], tv, ex.Policy)
		}
		t.Logf("%v: TV %.2g between SGD and the exact fit, final loss %.4f", l, tv, res.FinalLoss)
	}
}

// A tiny causal policy trains a few steps under sppo with the uniform
// reference and under apo-zero with a given reference, with finite loss.
func TestSeqTrainLossRuns(t *testing.T) {
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	const T = 8
	s := seqsOf(T, [2][]int32{{'a'}, {'x', 'y'}}, [2][]int32{{'a'}, {'z'}},
		[2][]int32{{'b'}, {'x', 'x', 'y'}}, [2][]int32{{'b'}, {'y'}})
	pairs := &SeqPairs{Seqs: s, A: []int32{0, 2}, B: []int32{1, 3}, Label: []float64{0.8, 0.3}, Weight: []float64{1, 1}}
	arch := SeqArch{Vocab: 260, Context: T, Width: 8, Depth: 1, Heads: 2, FF: 1, Head: PolicyHead}
	m, err := NewSeqModel(be, arch, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.TrainLoss(pairs, pairloss.SPPO(0.5), Optim{LR: 1e-3, Batch: 2, Steps: 3}, 2); err != nil {
		t.Fatal(err)
	}
	t.Logf("sppo final loss %.4f (2 when π = π_ref, β = ½), %d tokens", m.FinalLoss, m.Tokens)
	if math.IsNaN(m.FinalLoss) || math.IsInf(m.FinalLoss, 0) || m.FinalLoss <= 0 {
		t.Errorf("sppo final loss %v", m.FinalLoss)
	}
	pairs.Ref = []float64{-10, -6, -15, -5}
	if err := m.TrainLoss(pairs, pairloss.APOZero(0.1), Optim{LR: 1e-3, Batch: 2, Steps: 3}, 3); err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(m.FinalLoss) || m.FinalLoss < 0 || m.FinalLoss > 2 {
		t.Errorf("apo-zero final loss %v outside [0, 2]", m.FinalLoss)
	}
	if err := m.TrainLoss(pairs, pairloss.Robust(1, 0.7), Optim{LR: 1e-3, Batch: 2, Steps: 3}, 3); err == nil {
		t.Errorf("invalid loss accepted")
	}
}
