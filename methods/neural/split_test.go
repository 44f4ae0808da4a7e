package neural

import (
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/methods/pairloss"
)

// splitData is n random pairs of sequences of context T over the letters
// (prompts of 1–2 tokens, responses of 1–5), soft labels, uneven weights
// and reference scores.
func splitData(n, T int, seed uint64) *SeqPairs {
	rng := rand.New(rand.NewPCG(seed, 7))
	toks := func(k int) []int32 {
		out := make([]int32, k)
		for i := range out {
			out[i] = int32('a' + rng.IntN(26))
		}
		return out
	}
	var prs [][2][]int32
	for range n {
		p := toks(1 + rng.IntN(2))
		prs = append(prs, [2][]int32{p, toks(1 + rng.IntN(5))}, [2][]int32{p, toks(1 + rng.IntN(5))})
	}
	sp := &SeqPairs{Seqs: seqsOf(T, prs...)}
	for k := range n {
		sp.A, sp.B = append(sp.A, int32(2*k)), append(sp.B, int32(2*k+1))
		sp.Label = append(sp.Label, rng.Float64())
		sp.Weight = append(sp.Weight, 0.5+rng.Float64())
	}
	for range 2 * n {
		sp.Ref = append(sp.Ref, -5-10*rng.Float64())
	}
	return sp
}

// closeTo reports whether a and b agree to rel relative to the larger of
// their magnitudes and 1.
func closeTo(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// compareModels checks that two models trained alike score every sequence
// alike and have the same loss curves. Rewards are compared less their
// mean: a shift of every reward alike (the reward head's bias, the final
// LayerNorm's offset along the head's weights) cancels in
// z = r(B) − r(A), so its gradient is zero but for float32 residue of
// either sign, which Adam's normalisation turns into steps of up to lr.
// The two paths' residues differ, so their rewards drift apart by a
// common constant (0.0097 in TestSplitMatchesSingleExec) that changes no
// z, loss or gradient.
func compareModels(t *testing.T, stage string, one, two *SeqModel, s *Seqs) {
	t.Helper()
	const rel = 1e-4
	a, err := one.Score(s, 16)
	if err != nil {
		t.Fatal(err)
	}
	b, err := two.Score(s, 16)
	if err != nil {
		t.Fatal(err)
	}
	if one.Arch.Head == RewardHead {
		center := func(x []float64) {
			mean := 0.0
			for _, v := range x {
				mean += v / float64(len(x))
			}
			for i := range x {
				x[i] -= mean
			}
		}
		center(a)
		center(b)
	}
	worst := 0.0
	for i := range a {
		if !closeTo(a[i], b[i], rel) {
			t.Errorf("%s: sequence %d scores %.7g in one execution, %.7g split", stage, i, a[i], b[i])
		}
		worst = math.Max(worst, math.Abs(a[i]-b[i])/math.Max(1, math.Abs(a[i])))
	}
	if len(one.Curve) != len(two.Curve) {
		t.Fatalf("%s: loss curves of %d and %d points", stage, len(one.Curve), len(two.Curve))
	}
	for i := range one.Curve {
		if !closeTo(one.Curve[i], two.Curve[i], rel) {
			t.Errorf("%s: loss curve point %d is %.7g in one execution, %.7g split", stage, i, one.Curve[i], two.Curve[i])
		}
	}
	if !closeTo(one.FinalLoss, two.FinalLoss, rel) {
		t.Errorf("%s: final loss %.7g in one execution, %.7g split", stage, one.FinalLoss, two.FinalLoss)
	}
	if one.Tokens != two.Tokens {
		t.Errorf("%s: %d tokens in one execution, %d split", stage, one.Tokens, two.Tokens)
	}
	t.Logf("%s: largest score difference %.2g (relative), final loss %.6f vs %.6f", stage, worst, one.FinalLoss, two.FinalLoss)
}

// Split steps (two concurrent half-batch gradients, averaged, then Adam)
// train the same weights as one execution on the whole minibatch, to
// float32 rounding: a reward model (Train), and a policy pre-trained
// (Pretrain), then trained under a pairloss (TrainLoss) and then DPO
// (Train), each continuing the last one's weights and Adam state.
func TestSplitMatchesSingleExec(t *testing.T) {
	be, err := Backend("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	const T = 10
	data := splitData(24, T, 1)
	pair := func(head string) (one, two *SeqModel) {
		arch := SeqArch{Vocab: 260, Context: T, Width: 8, Depth: 1, Heads: 2, FF: 2, Head: head}
		one, err := NewSeqModel(be, arch, 3)
		if err != nil {
			t.Fatal(err)
		}
		two, err = NewSeqModel(be, arch, 3)
		if err != nil {
			t.Fatal(err)
		}
		one.SingleExec = true
		return one, two
	}
	both := func(one, two *SeqModel, f func(m *SeqModel) error) {
		t.Helper()
		for _, m := range []*SeqModel{one, two} {
			if err := f(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	opt := Optim{LR: 1e-2, Batch: 8, Steps: 20}

	one, two := pair(RewardHead)
	both(one, two, func(m *SeqModel) error {
		return m.Train(data, Loss{Kind: "dpo", Beta: 1, Scale: 1}, opt, 5)
	})
	compareModels(t, "reward", one, two, data.Seqs)

	one, two = pair(PolicyHead)
	both(one, two, func(m *SeqModel) error { return m.Pretrain(data.Seqs, Optim{LR: 1e-2, Batch: 6, Steps: 20}, 6) })
	compareModels(t, "pretrain", one, two, data.Seqs)
	both(one, two, func(m *SeqModel) error { return m.TrainLoss(data, pairloss.SPPO(0.5), opt, 7) })
	compareModels(t, "pairloss", one, two, data.Seqs)
	both(one, two, func(m *SeqModel) error {
		return m.Train(data, Loss{Kind: "dpo", Beta: 0.5, Scale: 1}, Optim{LR: 1e-2, Batch: 4, Steps: 20}, 8)
	})
	compareModels(t, "dpo", one, two, data.Seqs)
}

// Odd batches and a batch of one train in one execution.
func TestSplitOnlyEvenBatches(t *testing.T) {
	m := &SeqModel{}
	for b, want := range map[int]bool{1: false, 2: true, 3: false, 4: true, 32: true} {
		if got := m.split(b); got != want {
			t.Errorf("split(%d) = %v, want %v", b, got, want)
		}
	}
	m.SingleExec = true
	if m.split(32) {
		t.Error("SingleExec model splits")
	}
}

func TestSplitRows(t *testing.T) {
	x := []int32{1, 2, 3, 4, 5, 6, 7, 8} // pairs of width 1: A 1–4, B 5–8
	for h, want := range [][]int32{{1, 2, 5, 6}, {3, 4, 7, 8}} {
		got := splitPairRows(x, 4, 1, h)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("splitPairRows half %d = %v, want %v", h, got, want)
			}
		}
	}
	for h, want := range [][]int32{{1, 2, 3, 4}, {5, 6, 7, 8}} {
		got := splitRows(x, 4, 2, h)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("splitRows half %d = %v, want %v", h, got, want)
			}
		}
	}
}
