package neural

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"hetalign/methods/pairloss"
)

// softLoss is the minibatch objective of a pairloss.Loss on soft labels:
// the mean over the batch of p·ℓ(ρ2, ρ1) + (1 − p)·ℓ(ρ1, ρ2), p = Pr(y2
// preferred), ρ_i = log π(y_i|x)/π_ref(y_i|x).
func softLoss(loss pairloss.Loss, rho1, rho2, p *Node) *Node {
	p = ConvertDType(p, rho1.DType())
	return ReduceAllMean(Add(Mul(p, loss.Graph(rho2, rho1)), Mul(OneMinus(p), loss.Graph(rho1, rho2))))
}

// logRatios are ρ_i = log softmax(logits(x))[y_i] − logRef[x][y_i] for
// the tuples of flat indices i1 = x·nY + y1 and i2 = x·nY + y2. As in
// logRatioDiff, the logits of all nX prompts are computed once per step
// and gathered; logRef enters as a constant.
func (a Arch) logRatios(ctx *context.Context, i1, i2 *Node, logRef []float64, nX, nY int) (*Node, *Node) {
	g := i1.Graph()
	all := a.allLogits(ctx, g, nX, nY)
	rho := Sub(LogSoftmax(all), Reshape(Const(g, logRef), nX, nY))
	return pick(rho, i1), pick(rho, i2)
}

// TrainLoss fits a policy over nX prompts and nY responses to the tuples
// under a pairloss.Loss, by Adam on minibatches, following Train's
// conventions (minibatches drawn with replacement in proportion to Weight
// from a stream seeded with seed, which also seeds the initial weights;
// FinalLoss is the mean over the last 100 steps). The model gives
// ρ_i = log softmax(logits(x))[y_i] − logRef[x][y_i] for both responses of
// a tuple (logRef[x][y] = log π_ref(y|x); the normaliser matters for the
// losses that are not DeltaOnly), and each minibatch minimises the mean of
// p·ℓ(ρ2, ρ1) + (1 − p)·ℓ(ρ1, ρ2), p = Label = Pr(y2 preferred).
func TrainLoss(backend backends.Backend, data *Tuples, logRef [][]float64, nX, nY int, loss pairloss.Loss, arch Arch, opt Optim, seed uint64) (*Result, error) {
	if err := pairloss.Validate(loss); err != nil {
		return nil, fmt.Errorf("training %v: %w", loss, err)
	}
	if data.Len() == 0 {
		return nil, fmt.Errorf("no tuples to train on")
	}
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return nil, fmt.Errorf("need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	if len(logRef) != nX {
		return nil, fmt.Errorf("reference log-probabilities for %d prompts, want %d", len(logRef), nX)
	}
	flatRef := make([]float64, 0, nX*nY)
	for x, row := range logRef {
		if len(row) != nY {
			return nil, fmt.Errorf("reference log-probabilities of prompt %d have %d responses, want %d", x, len(row), nY)
		}
		for y, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("reference log-probability of prompt %d, response %d is %v", x, y, v)
			}
		}
		flatRef = append(flatRef, row...)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	obj := func(ctx *context.Context, b batchNodes, _ bool) (grad, value *Node) {
		r1, r2 := arch.logRatios(ctx, b.I1, b.I2, flatRef, nX, nY)
		l := softLoss(loss, r1, r2, b.P)
		return l, l
	}
	mean, err := newAdamTrainer(backend, ctx, obj, opt.LR, opt.Batch, false).fit(data, nY, opt, seed, nil)
	if err != nil {
		return nil, err
	}
	pol, err := policy(backend, ctx, arch, nX, nY)
	if err != nil {
		return nil, err
	}
	return &Result{Policy: pol, FinalLoss: mean}, nil
}

// TrainLoss continues training a policy model on labelled pairs under a
// pairloss.Loss, following Train's conventions (float32, A and B sequences
// in the two halves of a batch, minibatches drawn in proportion to Weight
// from a stream seeded with seed, FinalLoss the mean over the last 10% of
// steps). Each sequence's log-ratio is ρ = log π(y|x) − log π_ref(y|x) with
// log π_ref = data.Ref[i] when data.Ref is set (a pre-trained reference),
// and otherwise the token-uniform language model, log π_ref =
// −(Len[i] − Start[i])·log Vocab (the response's tokens and its EOS, each
// of probability 1/Vocab). A minibatch minimises the mean of
// p·ℓ(ρ_B, ρ_A) + (1 − p)·ℓ(ρ_A, ρ_B), p = Label = Pr(B preferred).
func (m *SeqModel) TrainLoss(data *SeqPairs, loss pairloss.Loss, opt Optim, seed uint64) error {
	if err := pairloss.Validate(loss); err != nil {
		return fmt.Errorf("training %v: %w", loss, err)
	}
	if m.Arch.Head != PolicyHead {
		return fmt.Errorf("a pairloss trains a policy (head %q), not a %q model", PolicyHead, m.Arch.Head)
	}
	if len(data.A) == 0 {
		return fmt.Errorf("no pairs to train on")
	}
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return fmt.Errorf("need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	s, T, B := data.Seqs, m.Arch.Context, opt.Batch
	if s.Context != T {
		return fmt.Errorf("sequences are padded to %d tokens, the model's context is %d", s.Context, T)
	}
	if data.Ref != nil && len(data.Ref) != s.N() {
		return fmt.Errorf("%d reference scores for %d sequences", len(data.Ref), s.N())
	}
	ref := data.Ref
	if ref == nil {
		lv := math.Log(float64(m.Arch.Vocab))
		ref = make([]float64, s.N())
		for i := range ref {
			ref[i] = -float64(s.Len[i]-s.Start[i]) * lv
		}
	}
	arch := m.Arch
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		// ρ of every row less its reference, then the two halves by
		// masked sums (no Slice, whose gradient SimpleGo lacks).
		rho := Reshape(Sub(arch.scores(ctx, in[0], in[1], in[2]), in[3]), 2, in[0].Shape().Dimensions[0]/2)
		g := rho.Graph()
		half := func(mask []float32) *Node {
			return ReduceSum(Mul(rho, InsertAxes(Const(g, mask), -1)), 0)
		}
		return []*Node{half([]float32{1, 0}), half([]float32{0, 1})}
	}
	lossFn := func(labels, pred []*Node) *Node { return softLoss(loss, pred[0], pred[1], labels[0]) }
	refs := make([]float32, 2*B)
	return m.fitPairs(model, lossFn, data, opt, seed, refs, func(i, k int) {
		refs[i], refs[B+i] = float32(ref[data.A[k]]), float32(ref[data.B[k]])
	})
}
