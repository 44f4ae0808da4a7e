package neural

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// The policy head (gathered logit minus a row-max log-sum-exp) computes
// what the textbook head does — a log-softmax over the vocabulary picked
// by a one-hot of the next token — and so do its gradients with respect to
// the hidden states and the head's weights, to float32 rounding, on a
// model with trained weights.
func TestPolicyHeadMatchesLogSoftmax(t *testing.T) {
	be, err := Backend("go")
	if err != nil {
		t.Fatal(err)
	}
	const T, V = 10, 260
	arch := SeqArch{Vocab: V, Context: T, Width: 8, Depth: 1, Heads: 2, FF: 2, Head: PolicyHead}
	s := seqsOf(T, [2][]int32{{65, 66}, {67, 68, 69}}, [2][]int32{{70}, {71, 72, 73, 74}},
		[2][]int32{{75, 76, 77}, {78}}, [2][]int32{{79}, {80, 81, 82, 83, 84}})
	m, err := NewSeqModel(be, arch, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Pretrain(s, Optim{LR: 3e-2, Batch: 4, Steps: 30}, 2); err != nil {
		t.Fatal(err)
	}
	n := s.N()
	exec, err := context.NewExec(be, m.ctx.Reuse(), func(ctx *context.Context, tok, lens, starts *Node) []*Node {
		g := tok.Graph()
		dt := dtypes.Float32
		h, pos := arch.hidden(ctx, tok, lens)
		fast := arch.policyHead(ctx, h, pos, tok, lens, starts)
		// The textbook head on the same variables.
		logp := LogSoftmax(layers.Dense(ctx.In("lm_head"), h, true, V))
		next := Concatenate([]*Node{Slice(tok, AxisRange(), AxisRange(1, T)),
			BroadcastToDims(ConstAs(tok, int32(V-1)), n, 1)}, 1)
		picked := ReduceSum(Mul(logp, OneHot(next, V, dt)), -1)
		target := AddScalar(pos, 1)
		inResp := LogicalAnd(GreaterOrEqual(target, InsertAxes(starts, -1)), LessThan(target, InsertAxes(lens, -1)))
		slow := ReduceSum(Mul(picked, ConvertDType(inResp, dt)), -1)
		dc := ctx.In("lm_head").In("dense")
		w := dc.VariableWithShape("weights", shapes.Make(dt, arch.Width, V)).ValueGraph(g)
		b := dc.VariableWithShape("biases", shapes.Make(dt, V)).ValueGraph(g)
		// Gradients of a weighted sum of the scores (weights 1 … n).
		coef := ConvertDType(AddScalar(Iota(g, shapes.Make(dtypes.Int32, n), 0), 1), dt)
		gf := Gradient(ReduceAllSum(Mul(fast, coef)), h, w, b)
		gs := Gradient(ReduceAllSum(Mul(slow, coef)), h, w, b)
		return append(append([]*Node{fast, slow}, gf...), gs...)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(s.Tokens, n, T),
		tensors.FromFlatDataAndDimensions(s.Len, n), tensors.FromFlatDataAndDimensions(s.Start, n))
	if err != nil {
		t.Fatal(err)
	}
	flat := func(i int) []float32 {
		v, err := tensors.CopyFlatData[float32](out[i])
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i, name := range []string{"scores", "∂/∂h", "∂/∂W", "∂/∂b"} {
		a, b := flat(2*i), flat(2*i+1)
		if i > 0 {
			a, b = flat(1+i), flat(4+i)
		}
		var scale, worst float64
		for k := range a {
			scale = math.Max(scale, math.Abs(float64(b[k])))
			worst = math.Max(worst, math.Abs(float64(a[k]-b[k])))
		}
		if worst > 1e-5*math.Max(1, scale) {
			t.Errorf("%s: largest difference %.3g (scale %.3g)", name, worst, scale)
		}
	}
}
