package neural

import (
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// A split step is one Adam step on a minibatch whose two halves run as two
// concurrent executions of one gradient graph, so that one training run
// keeps two cores busy (the simplego backend runs one execution's ops on
// one goroutine under ops_sequential, and its parallel op executor
// deadlocks on the transformer graph).
//
// The math. Let the minibatch loss be L = w₀·L₀ + w₁·L₁, where L_h is the
// loss the same graph gives on half h alone and w₀ + w₁ = 1. For a mean
// over B pairs, L = (1/B)·Σ_i ℓ_i and L_h = (2/B)·Σ_{i∈h} ℓ_i, so
// w₀ = w₁ = ½ (the mean of the halves' means). For the language-model loss
// L = −Σ_i log π(y_i|x_i) / Σ_i n_i with n_i the tokens predicted in row i,
// L_h = −Σ_{i∈h} log π / N_h with N_h = Σ_{i∈h} n_i, so w_h = N_h/(N₀+N₁).
// The gradient is linear in L, so ∇L = w₀·∇L₀ + w₁·∇L₁ exactly; the
// per-row scores do not mix rows (attention, LayerNorm and the heads act
// within a sequence), so each half's graph computes exactly its rows'
// terms. The combined gradient g then takes optimizers.Adam's update,
// built by Adam's own UpdateGraphWithGradients on the same context
// variables (so its moments, step counts and learning rate are those a
// train.Trainer with optimizers.Adam keeps, and either path can continue
// the other's training): with t the step, β₁ = 0.9, β₂ = 0.999, ε = 1e−7,
//
//	m ← β₁·m + (1 − β₁)·g,  v ← β₂·v + (1 − β₂)·g²,
//	θ ← θ − lr · (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε).
//
// Only float32 summation order differs from a single execution on the
// whole batch, so the trained weights agree to float32 rounding, not
// bitwise. The minibatches are drawn exactly as before (same stream, same
// order); only the finished batch is cut in two.

// gradUpdater is the part of optimizers.Adam's optimizer that applies given
// gradients (its UpdateGraph computes them from the loss, then calls this).
type gradUpdater interface {
	UpdateGraphWithGradients(ctx *context.Context, grads []*Node, lossDType dtypes.DType)
}

// splitTrainer runs split steps: the gradient graph on each half, on two
// goroutines, then one update graph.
type splitTrainer struct {
	backend backends.Backend
	ctx     *context.Context
	nIn     int
	grad    *context.Exec // inputs then labels → loss, then ∂loss/∂θ for vars
	update  *context.Exec // w₀, w₁, L₀, L₁, ∇₀…, ∇₁… → w₀L₀ + w₁L₁; applies Adam
	vars    []*context.Variable
	ready   bool // the gradient graph is compiled and the variables initialized
}

// newSplitTrainer builds the split trainer of a model and loss (as a
// train.Trainer takes them: the model gets the first nIn graph inputs, the
// loss the rest as labels) with an optimizer that can apply gradients
// (optimizers.Adam's).
func newSplitTrainer(backend backends.Backend, ctx *context.Context, model train.ModelFn, lossFn train.LossFn, opt optimizers.Interface, nIn int) (*splitTrainer, error) {
	upd, ok := opt.(gradUpdater)
	if !ok {
		return nil, fmt.Errorf("optimizer %T cannot apply given gradients", opt)
	}
	st := &splitTrainer{backend: backend, ctx: ctx, nIn: nIn}
	var err error
	st.grad, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*Node) []*Node {
		g := in[0].Graph()
		ctx.SetTraining(g, true)
		loss := lossFn(in[nIn:], model(ctx, nil, in[:nIn]))
		if !loss.Shape().IsScalar() {
			loss = ReduceAllMean(loss) // as train.Trainer does
		}
		// The trainable variables the loss reads, in the context's order
		// (as Context.BuildTrainableVariablesGradientsGraph takes them).
		st.vars = st.vars[:0]
		var vals []*Node
		ctx.EnumerateVariables(func(v *context.Variable) {
			if v.Trainable && v.InUseByGraph(g) {
				st.vars = append(st.vars, v)
				vals = append(vals, v.ValueGraph(g))
			}
		})
		return append([]*Node{loss}, Gradient(loss, vals...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("building the gradient graph: %w", err)
	}
	st.update, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*Node) []*Node {
		nv := len(st.vars)
		w0, w1 := in[0], in[1]
		grads := make([]*Node, nv)
		for i, v := range st.vars {
			v.ValueGraph(in[0].Graph()) // Adam updates the trainable variables the graph reads
			grads[i] = Add(Mul(in[4+i], w0), Mul(in[4+nv+i], w1))
		}
		upd.UpdateGraphWithGradients(ctx, grads, dtypes.Float32)
		return []*Node{Add(Mul(in[2], w0), Mul(in[3], w1))}
	})
	if err != nil {
		return nil, fmt.Errorf("building the update graph: %w", err)
	}
	return st, nil
}

// step runs one split step on the halves' inputs and labels (the model's
// nIn inputs, then the labels) with weights w (w[0] + w[1] = 1) and
// returns the minibatch loss w₀·L₀ + w₁·L₁.
func (st *splitTrainer) step(halves [2][]*tensors.Tensor, w [2]float32) (float64, error) {
	args := func(h int) []any {
		a := make([]any, len(halves[h]))
		for i, t := range halves[h] {
			a[i] = t
		}
		return a
	}
	if !st.ready {
		// Build the gradient graph and initialize the new variables on
		// this goroutine: graph building creates variables and the first
		// execution would initialize them, neither safe to race.
		if err := st.grad.PreCompile(args(0)...); err != nil {
			return 0, fmt.Errorf("compiling the gradient graph: %w", err)
		}
		if err := st.ctx.InitializeVariables(st.backend, nil); err != nil {
			return 0, fmt.Errorf("initializing the weights: %w", err)
		}
		st.ready = true
	}
	// Half 1 on a new goroutine, half 0 on this one. The gradient graph
	// changes no variable, so the two executions only read the shared
	// weights (context.Exec passes them undonated; simplego takes each
	// execution's buffers from a pool).
	var out [2][]*tensors.Tensor
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { out[1], errs[1] = st.grad.Exec(args(1)...) })
	out[0], errs[0] = st.grad.Exec(args(0)...)
	wg.Wait()
	for h, err := range errs {
		if err != nil {
			return 0, fmt.Errorf("gradient of half %d: %w", h, err)
		}
	}
	nv := len(st.vars)
	if len(out[0]) != 1+nv || len(out[1]) != 1+nv {
		return 0, fmt.Errorf("gradient graph returned %d and %d tensors for %d variables", len(out[0]), len(out[1]), nv)
	}
	in := make([]any, 0, 4+2*nv)
	in = append(in, w[0], w[1], out[0][0], out[1][0])
	for _, o := range out {
		for _, t := range o[1:] {
			in = append(in, t)
		}
	}
	res, err := st.update.Exec(in...)
	if err != nil {
		return 0, fmt.Errorf("applying the gradients: %w", err)
	}
	for _, o := range out {
		for _, t := range o {
			t.FinalizeAll()
		}
	}
	if len(res) == 0 {
		return 0, fmt.Errorf("the update graph returned no loss")
	}
	v, ok := res[0].Value().(float32)
	if !ok {
		return 0, fmt.Errorf("loss of type %T", res[0].Value())
	}
	res[0].FinalizeAll()
	return float64(v), nil
}

// splitRows returns half h (of two) of a row-major batch of n rows of
// width values each: rows h·n/2 … (h+1)·n/2 − 1.
func splitRows[T int32 | float32](x []T, n, width, h int) []T {
	k := n / 2 * width
	return x[h*k : (h+1)*k]
}

// splitPairRows returns half h of a batch of 2B rows of width values laid
// out as pairs (the A rows in rows 0 … B−1, their B rows in B … 2B−1):
// the A rows of pairs h·B/2 … (h+1)·B/2 − 1 and then their B rows, the
// same layout for B/2 pairs.
func splitPairRows[T int32 | float32](x []T, B, width, h int) []T {
	k := B / 2 * width
	out := make([]T, 0, 2*k)
	out = append(out, x[h*k:(h+1)*k]...)
	return append(out, x[B*width+h*k:B*width+(h+1)*k]...)
}
