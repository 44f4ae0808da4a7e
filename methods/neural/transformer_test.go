package neural

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// seqsOf lays out prompt/response token pairs as BOS p SEP r EOS PAD…
// with the byte tokenizer's specials (256–259).
func seqsOf(T int, pairs ...[2][]int32) *Seqs {
	s := &Seqs{Context: T}
	for _, pr := range pairs {
		row := append([]int32{256}, pr[0]...)
		row = append(row, 257)
		start := len(row)
		row = append(row, pr[1]...)
		row = append(row, 258)
		n := len(row)
		for len(row) < T {
			row = append(row, 259)
		}
		s.Tokens = append(s.Tokens, row...)
		s.Len = append(s.Len, int32(n))
		s.Start = append(s.Start, int32(start))
	}
	return s
}

// A policy that has learned one response by heart scores it far above a
// shuffle of the same tokens. Without the one-position shift (position t
// "predicting" the token it reads) a model would learn the identity and
// score any order alike, so this fails if the shift is lost.
func TestPolicyShift(t *testing.T) {
	be, err := Backend("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{'a', 'b'}
	resp := []int32{'t', 'h', 'e', ' ', 'o', 'p', 't', 'i', 'c', 'k', 's'}
	shuffled := []int32{'k', 'o', 't', 'h', 's', ' ', 'i', 'p', 'e', 'c', 't'}
	T := len(prompt) + len(resp) + 3
	arch := SeqArch{Vocab: 260, Context: T, Width: 16, Depth: 1, Heads: 2, FF: 2, Head: PolicyHead}
	m, err := NewSeqModel(be, arch, 1)
	if err != nil {
		t.Fatal(err)
	}
	train := seqsOf(T, [2][]int32{prompt, resp})
	if err := m.Pretrain(train, Optim{LR: 1e-2, Batch: 4, Steps: 150}, 2); err != nil {
		t.Fatal(err)
	}
	sc, err := m.Score(seqsOf(T, [2][]int32{prompt, resp}, [2][]int32{prompt, shuffled}), 2)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(resp) + 1)
	if sc[0] < -0.1*n {
		t.Errorf("memorised response: log π = %.3f over %d tokens, want near 0", sc[0], int(n))
	}
	if sc[1] > sc[0]-n {
		t.Errorf("shuffled response scores %.3f, memorised %.3f: want at least a nat per token less", sc[1], sc[0])
	}
}

// A reward model learns "longer is better" from labelled pairs.
func TestRewardModelLearnsLength(t *testing.T) {
	be, err := Backend("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const T = 16
	tokens := func(n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = int32('a' + rng.IntN(26))
		}
		return out
	}
	mk := func(n int) (*SeqPairs, []float64) {
		var pairs [][2][]int32
		var truth []float64
		for range n {
			p := tokens(2)
			pairs = append(pairs, [2][]int32{p, tokens(1 + rng.IntN(10))}, [2][]int32{p, tokens(1 + rng.IntN(10))})
		}
		s := seqsOf(T, pairs...)
		sp := &SeqPairs{Seqs: s}
		for k := range n {
			sp.A, sp.B = append(sp.A, int32(2*k)), append(sp.B, int32(2*k+1))
			d := float64(s.Len[2*k+1] - s.Len[2*k])
			sp.Label = append(sp.Label, 1/(1+math.Exp(-d)))
			sp.Weight = append(sp.Weight, 1)
			truth = append(truth, d)
		}
		return sp, truth
	}
	train, _ := mk(2000)
	arch := SeqArch{Vocab: 260, Context: T, Width: 16, Depth: 1, Heads: 2, FF: 2, Head: RewardHead}
	m, err := TrainSeq(be, train, Loss{Kind: "dpo", Beta: 1, Scale: 1}, arch, Optim{LR: 3e-3, Batch: 32, Steps: 150}, 5)
	if err != nil {
		t.Fatal(err)
	}
	test, d := mk(300)
	sc, err := m.Score(test.Seqs, 128)
	if err != nil {
		t.Fatal(err)
	}
	agree, decided := 0, 0
	for k, dk := range d {
		if dk == 0 {
			continue
		}
		decided++
		if (sc[2*k+1]-sc[2*k] > 0) == (dk > 0) {
			agree++
		}
	}
	if frac := float64(agree) / float64(decided); frac < 0.9 {
		t.Errorf("reward model orders %.3f of test pairs by length, want ≥ 0.9", frac)
	}
}

// The replacement gradients of Dot and DotGeneral equal GoMLX's own.
func TestDotGradientsMatchGeneric(t *testing.T) {
	be, err := Backend("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	cases := []struct {
		name string
		a, b *tensors.Tensor
		f    func(a, b *Node) *Node
	}{
		{"matmul", random(5, 3), random(3, 4), Dot},
		{"matvec", random(5, 3), random(3), Dot},
		{"einsum batch", random(2, 5, 3), random(2, 3, 4), func(a, b *Node) *Node { return Einsum("bij,bjk->bik", a, b) }},
		{"attention", random(2, 4, 3, 5), random(2, 6, 3, 5), func(a, b *Node) *Node { return Einsum("bqhd,bkhd->bqhk", a, b) }},
		{"two contractions", random(3, 4, 5), random(5, 6, 3), func(a, b *Node) *Node {
			return DotGeneral(a, []int{0, 2}, nil, b, []int{2, 0}, nil)
		}},
		{"dense rank 3", random(2, 3, 4), random(4, 6), func(a, b *Node) *Node { return Einsum("abc,cd->abd", a, b) }},
	}
	grads := func(c int) []float64 {
		e := MustNewExec(be, func(a, b *Node) []*Node {
			y := cases[c].f(a, b)
			w := Sin(Iota(y.Graph(), shapes.Make(dtypes.Float64, y.Shape().Dimensions...), y.Rank()-1))
			return Gradient(ReduceAllSum(Mul(y, w)), a, b)
		})
		out := e.MustExec(cases[c].a, cases[c].b)
		var flat []float64
		for _, o := range out {
			flat = append(flat, tensors.MustCopyFlatData[float64](o)...)
		}
		return flat
	}
	for c, tc := range cases {
		ours := grads(c)
		VJPRegistration[NodeTypeDotGeneral], VJPRegistration[NodeTypeDot] = genericDotGeneralVJP, genericDotVJP
		theirs := grads(c)
		VJPRegistration[NodeTypeDotGeneral], VJPRegistration[NodeTypeDot] = dotGeneralVJP, dotVJP
		if len(ours) != len(theirs) {
			t.Fatalf("%s: %d gradient entries, generic %d", tc.name, len(ours), len(theirs))
		}
		for i := range ours {
			if math.Abs(ours[i]-theirs[i]) > 1e-12*(1+math.Abs(theirs[i])) {
				t.Fatalf("%s: gradient entry %d = %v, generic %v", tc.name, i, ours[i], theirs[i])
			}
		}
	}
}

// Training throughput on the pure-Go backend at the quick profile's size
// (L = 32, 1 × 16) and the paper profile's (L = 512, 4 × 128; batch 4
// pairs here, so that one step fits a benchmark run on a laptop).
func BenchmarkTransformer(b *testing.B) {
	be, err := Backend("go:ops_sequential")
	if err != nil {
		b.Fatal(err)
	}
	sizes := []struct {
		name                              string
		L, width, depth, heads, ff, batch int
	}{
		{"quick", 32, 16, 1, 2, 2, 32},
		{"paper", 512, 128, 4, 4, 4, 4},
	}
	for _, sz := range sizes {
		for _, head := range []string{RewardHead, PolicyHead} {
			b.Run(sz.name+"/"+head, func(b *testing.B) {
				arch := SeqArch{Vocab: 260, Context: sz.L + 3, Width: sz.width, Depth: sz.depth, Heads: sz.heads, FF: sz.ff, Head: head}
				tps, sps, err := Throughput(be, arch, Optim{LR: 1e-4, Batch: sz.batch, Steps: max(1, b.N)}, 1, 1)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(tps, "tokens/s")
				b.ReportMetric(sps*1e3, "ms/step")
			})
		}
	}
}
