package neural

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"hetalign/envs"
)

// Heads of a sequence model.
const (
	// RewardHead is a reward model r(x, y): a transformer encoder
	// (bidirectional attention over the sequence's real tokens) and a
	// linear scalar head on the hidden state of the EOS token.
	RewardHead = "reward"
	// PolicyHead is a causal language model π(y|x): causal attention, a
	// linear head over the vocabulary, and
	//
	//	log π(y|x) = Σ_{t=start}^{len−1} log softmax(logits_{t−1})[tok_t],
	//
	// the response's tokens and its EOS each predicted from the position
	// before it (the one-position shift the published code omitted).
	PolicyHead = "policy"
)

// SeqArch is a small pre-LayerNorm transformer over token sequences padded
// to Context: token and learned position embeddings of Width units, Depth
// blocks of multi-head self-attention (Heads heads of Width/Heads units)
// and a ReLU feed-forward layer of FF·Width units, each added to its input
// after a LayerNorm, and a final LayerNorm before the head.
type SeqArch struct {
	Vocab, Context          int
	Width, Depth, Heads, FF int
	Head                    string
}

// Params is the number of trainable weights of the architecture.
func (a SeqArch) Params() int {
	d := a.Width
	n := a.Vocab*d + a.Context*d + 2*d // embeddings, final LayerNorm
	block := 4*d*d + 4*d               // attention projections and biases
	block += 2*a.FF*d*d + a.FF*d + d   // feed-forward
	block += 4 * d                     // two LayerNorms
	n += a.Depth * block
	if a.Head == PolicyHead {
		return n + d*a.Vocab + a.Vocab
	}
	return n + d + 1
}

func (a SeqArch) check() error {
	if a.Vocab < 2 || a.Context < 3 || a.Width < 1 || a.Depth < 1 || a.Heads < 1 || a.FF < 1 {
		return fmt.Errorf("transformer needs vocab ≥ 2, context ≥ 3 and width, depth, heads, ff ≥ 1; got %+v", a)
	}
	if a.Width%a.Heads != 0 {
		return fmt.Errorf("transformer width %d is not a multiple of heads %d", a.Width, a.Heads)
	}
	if a.Head != RewardHead && a.Head != PolicyHead {
		return fmt.Errorf("transformer head %q is not %q or %q", a.Head, RewardHead, PolicyHead)
	}
	return nil
}

// Seqs are token sequences laid out as BOS prompt SEP response EOS PAD…,
// row-major in Tokens ([n, Context]); Len[i] is the index of sequence i's
// EOS plus one and Start[i] the index of its first response token.
type Seqs struct {
	Context int
	Tokens  []int32
	Len     []int32
	Start   []int32
}

// N is the number of sequences.
func (s *Seqs) N() int { return len(s.Len) }

// SeqPairs are labelled pairs of sequences: Label[k] is the probability
// that sequence B[k] is preferred to A[k] (same prompt), Weight[k] the
// pair's share of the data.
type SeqPairs struct {
	Seqs   *Seqs
	A, B   []int32
	Label  []float64
	Weight []float64
	// Ref is the reference policy's log π_ref of each sequence, for DPO
	// against a pre-trained reference: z becomes the difference of log
	// π/π_ref. Nil means a uniform reference (log π_ref cancels).
	Ref []float64
}

// scores is the model's score per sequence: tokens [n, T], lens and starts [n].
func (a SeqArch) scores(ctx *context.Context, tok, lens, starts *Node) *Node {
	h, pos := a.hidden(ctx, tok, lens)
	if a.Head == RewardHead {
		return a.rewardHead(ctx, h, pos, lens)
	}
	return a.policyHead(ctx, h, pos, tok, lens, starts)
}

// hidden is the transformer's last hidden state [n, T, Width] after the
// final LayerNorm, and the positions [n, T].
func (a SeqArch) hidden(ctx *context.Context, tok, lens *Node) (h, pos *Node) {
	g := tok.Graph()
	n, T, d := tok.Shape().Dimensions[0], a.Context, a.Width
	dt := dtypes.Float32
	pos = Iota(g, shapes.Make(dtypes.Int32, n, T), 1)
	valid := LessThan(pos, InsertAxes(lens, -1)) // [n, T]
	h = layers.Embedding(ctx.In("tokens"), tok, dt, a.Vocab, d)
	posEmb := ctx.In("positions").VariableWithShape("embeddings", shapes.Make(dt, T, d)).ValueGraph(g)
	h = Add(h, InsertAxes(posEmb, 0))
	for l := range a.Depth {
		bc := ctx.In(fmt.Sprintf("block%d", l))
		x := layers.LayerNormalization(bc.In("ln_attn"), h, -1).Done()
		att := layers.MultiHeadAttention(bc.In("attn"), x, x, x, a.Heads, d/a.Heads)
		if a.Head == PolicyHead {
			att = att.UseCausalMask()
		} else {
			att = att.SetKeyMask(valid)
		}
		h = Add(h, att.Done())
		x = layers.LayerNormalization(bc.In("ln_ff"), h, -1).Done()
		x = layers.Dense(bc.In("ff_in"), x, true, a.FF*d)
		x = Max(x, ZerosLike(x))
		h = Add(h, layers.Dense(bc.In("ff_out"), x, true, d))
	}
	return layers.LayerNormalization(ctx.In("ln_final"), h, -1).Done(), pos
}

// rewardHead is r(x, y): a linear scalar head on the hidden state at EOS
// (index len − 1), taken by a one-hot sum.
func (a SeqArch) rewardHead(ctx *context.Context, h, pos, lens *Node) *Node {
	eos := ConvertDType(Equal(pos, InsertAxes(AddScalar(lens, -1), -1)), dtypes.Float32)
	last := ReduceSum(Mul(h, InsertAxes(eos, -1)), 1) // [n, d]
	return Squeeze(layers.Dense(ctx.In("reward"), last, true, 1), -1)
}

// policyHead is log π(y|x) of every sequence from the hidden states.
func (a SeqArch) policyHead(ctx *context.Context, h, pos, tok, lens, starts *Node) *Node {
	g := tok.Graph()
	n, T, d := tok.Shape().Dimensions[0], a.Context, a.Width
	dt := dtypes.Float32
	// Position t predicts token t + 1: the targets are the tokens shifted
	// left (a PAD after the last), taken from the input, which carries no
	// gradient; the log-probabilities are kept whole (SimpleGo lacks Pad,
	// the gradient of Slice).
	//
	// log p(tok_{t+1} | tok_{≤t}) = l[tok_{t+1}] − logsumexp(l) with l the
	// lm_head's logits (the variables layers.Dense would make): the picked
	// logit is the hidden state times the gathered column of the weights
	// plus the gathered bias, and the log-sum-exp subtracts each row's
	// maximum (held constant in the gradient, as it cancels). No [n, T, V]
	// one-hot, no log-softmax over the whole tensor.
	next := Concatenate([]*Node{Slice(tok, AxisRange(), AxisRange(1, T)),
		BroadcastToDims(ConstAs(tok, int32(a.Vocab-1)), n, 1)}, 1)
	dc := ctx.In("lm_head").In("dense")
	w := dc.VariableWithShape("weights", shapes.Make(dt, d, a.Vocab)).ValueGraph(g)
	b := dc.VariableWithShape("biases", shapes.Make(dt, a.Vocab)).ValueGraph(g)
	logits := Add(Einsum("ntd,dv->ntv", h, w), Reshape(b, 1, 1, a.Vocab)) // [n, T, V]
	m := StopGradient(ReduceMax(logits, -1))                              // [n, T]
	lse := Add(Log(ReduceSum(Exp(Sub(logits, BroadcastToDims(InsertAxes(m, -1), n, T, a.Vocab))), -1)), m)
	idx := InsertAxes(next, -1)
	wPicked := Gather(Transpose(w, 0, 1), idx)             // [n, T, d]
	bPicked := Squeeze(Gather(InsertAxes(b, -1), idx), -1) // [n, T]
	picked := Sub(Add(ReduceSum(Mul(h, wPicked), -1), bPicked), lse)
	target := AddScalar(pos, 1)
	inResp := LogicalAnd(GreaterOrEqual(target, InsertAxes(starts, -1)), LessThan(target, InsertAxes(lens, -1)))
	return ReduceSum(Mul(picked, ConvertDType(inResp, dt)), -1)
}

// SeqModel is a trained sequence model.
type SeqModel struct {
	Arch    SeqArch
	backend backends.Backend
	ctx     *context.Context
	// FinalLoss is the mean training loss over the last 10% of steps.
	FinalLoss float64
	// Curve is the last training's loss curve: the mean loss over each of
	// CurvePoints equal stretches of its steps (fewer when there are fewer
	// steps).
	Curve []float64
	// Tokens is the number of tokens (pairs × 2 × Context) the training
	// pushed through the model.
	Tokens int64
	// SingleExec trains each minibatch in one execution of a
	// train.Trainer step. By default a minibatch of an even number ≥ 2 of
	// pairs (or sequences, for Pretrain) runs as two concurrent
	// half-batch gradient executions and one Adam update (see split.go),
	// which keeps two cores busy and gives the same weights to float32
	// rounding.
	SingleExec bool
	built      bool // the weights exist: later graphs reuse them
}

// split reports whether minibatches of B rows train as two halves.
func (m *SeqModel) split(B int) bool { return !m.SingleExec && B >= 2 && B%2 == 0 }

// seqStepper runs Adam steps (optimizers.Adam at opt.LR) of a model and
// loss: a train.Trainer on the whole minibatch, or a splitTrainer on its
// halves when m.split(B).
type seqStepper struct {
	trainer *train.Trainer
	st      *splitTrainer
}

func (m *SeqModel) newStepper(model train.ModelFn, lossFn train.LossFn, opt Optim, nIn int) (*seqStepper, error) {
	adam := optimizers.Adam().LearningRate(opt.LR).Done()
	if !m.split(opt.Batch) {
		return &seqStepper{trainer: train.NewTrainer(m.backend, m.graphCtx(), model, lossFn, adam, nil, nil)}, nil
	}
	st, err := newSplitTrainer(m.backend, m.graphCtx(), model, lossFn, adam, nIn)
	if err != nil {
		return nil, err
	}
	return &seqStepper{st: st}, nil
}

// CurvePoints is the number of points of a training's loss curve.
const CurvePoints = 10

// curve accumulates a loss curve of steps steps in CurvePoints stretches.
type curve struct {
	steps      int
	sum        []float64
	n          []int
	tailFrom   int
	tail       float64
	tailN      int
	firstError error
}

func newCurve(steps int) *curve {
	k := min(CurvePoints, steps)
	return &curve{steps: steps, sum: make([]float64, k), n: make([]int, k), tailFrom: steps - max(1, steps/10)}
}

// add records step's loss v (NaN is an error: training diverged).
func (c *curve) add(step int, v float64) error {
	if math.IsNaN(v) {
		return fmt.Errorf("training diverged at step %d: the loss is NaN", step)
	}
	i := step * len(c.sum) / c.steps
	c.sum[i] += v
	c.n[i]++
	if step >= c.tailFrom {
		c.tail += v
		c.tailN++
	}
	return nil
}

// points are the stretches' means; final the mean over the last 10% of steps.
func (c *curve) points() (pts []float64, final float64) {
	pts = make([]float64, len(c.sum))
	for i := range pts {
		pts[i] = c.sum[i] / float64(max(1, c.n[i]))
	}
	return pts, c.tail / float64(max(1, c.tailN))
}

// lossOf reads a training step's first metric, the batch loss.
func lossOf(ms []*tensors.Tensor, step int) (float64, error) {
	if len(ms) == 0 {
		return 0, fmt.Errorf("training step %d returned no loss", step)
	}
	v, ok := ms[0].Value().(float32)
	if !ok {
		return 0, fmt.Errorf("training step %d: loss of type %T", step, ms[0].Value())
	}
	return float64(v), nil
}

// graphCtx is the context a new training graph builds in: fresh the first
// time, reusing the weights after.
func (m *SeqModel) graphCtx() *context.Context {
	if m.built {
		return m.ctx.Reuse()
	}
	m.built = true
	return m.ctx
}

// NewSeqModel builds an untrained model with weights drawn from seed.
func NewSeqModel(backend backends.Backend, arch SeqArch, seed uint64) (*SeqModel, error) {
	if err := arch.check(); err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed >> 1)); err != nil {
		return nil, err
	}
	return &SeqModel{Arch: arch, backend: backend, ctx: ctx}, nil
}

// TrainSeq fits a sequence model to labelled pairs by Adam on PairLoss,
// z = score(B) − score(A): BT reward learning and its consistent version
// with the reward head, DPO and the consistent DPO loss with the policy
// head (β·log π, the reference policy uniform so log π_ref cancels).
// Minibatches are drawn with replacement in proportion to Weight by a
// stream seeded with seed, which also seeds the initial weights.
func TrainSeq(backend backends.Backend, data *SeqPairs, loss Loss, arch SeqArch, opt Optim, seed uint64) (*SeqModel, error) {
	m, err := NewSeqModel(backend, arch, seed)
	if err != nil {
		return nil, err
	}
	if err := m.Train(data, loss, opt, seed); err != nil {
		return nil, err
	}
	return m, nil
}

// Train continues training the model on data (see TrainSeq).
func (m *SeqModel) Train(data *SeqPairs, loss Loss, opt Optim, seed uint64) error {
	if len(data.A) == 0 {
		return fmt.Errorf("no pairs to train on")
	}
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return fmt.Errorf("need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	if loss.Kind == "corrected" {
		return fmt.Errorf("corrected DPO is not available for sequence models")
	}
	s, T, B := data.Seqs, m.Arch.Context, opt.Batch
	if s.Context != T {
		return fmt.Errorf("sequences are padded to %d tokens, the model's context is %d", s.Context, T)
	}
	if data.Ref != nil && len(data.Ref) != s.N() {
		return fmt.Errorf("%d reference scores for %d sequences", len(data.Ref), s.N())
	}
	arch := m.Arch
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		// z = score(B) − score(A) as a signed sum over the two halves of
		// the batch (no Slice, whose gradient SimpleGo lacks), less the
		// reference's difference.
		sc := Reshape(arch.scores(ctx, in[0], in[1], in[2]), 2, in[0].Shape().Dimensions[0]/2)
		sign := InsertAxes(Const(sc.Graph(), []float32{-1, 1}), -1)
		return []*Node{Sub(ReduceSum(Mul(sc, sign), 0), in[3])}
	}
	lossFn := func(labels, pred []*Node) *Node { return PairLoss(loss, pred[0], labels) }
	refDiff := make([]float32, B)
	return m.fitPairs(model, lossFn, data, opt, seed, refDiff, func(i, k int) {
		if data.Ref != nil {
			refDiff[i] = float32(data.Ref[data.B[k]] - data.Ref[data.A[k]])
		}
	})
}

// fitPairs runs opt.Steps Adam steps of model and lossFn (a mean over the
// minibatch's pairs), each on a minibatch of opt.Batch pairs drawn with
// replacement in proportion to Weight by a stream seeded with seed: the A
// sequences in rows 0 … B−1 and the B sequences in rows B … 2B−1 (tokens,
// lengths, starts), then aux, which setAux fills for pair k at batch
// position i, one value per pair (len B) or per row (len 2B, the A rows
// then the B rows); labels p. The model must take the batch size from its
// inputs' shape: split steps (m.split) give it B/2 pairs, the pairs
// ½B·h … ½B·(h+1) − 1 of the minibatch in half h, and average the halves'
// gradients with weights ½ (the mean of the halves' means). It sets
// FinalLoss to the mean loss over the last 10% of steps and counts the
// tokens.
func (m *SeqModel) fitPairs(model train.ModelFn, lossFn train.LossFn, data *SeqPairs, opt Optim, seed uint64, aux []float32, setAux func(i, k int)) error {
	s, T, B := data.Seqs, m.Arch.Context, opt.Batch
	if len(aux) != B && len(aux) != 2*B {
		return fmt.Errorf("%d auxiliary values for a batch of %d pairs", len(aux), B)
	}
	stepper, err := m.newStepper(model, lossFn, opt, 4)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x3c6ef372fe94f82b))
	pick, err := envs.NewCategorical(data.Weight)
	if err != nil {
		return fmt.Errorf("pairs: %w", err)
	}
	tok := make([]int32, 2*B*T)
	lens := make([]int32, 2*B)
	starts := make([]int32, 2*B)
	lab := make([]float32, B)
	put := func(row int, i int32) {
		copy(tok[row*T:(row+1)*T], s.Tokens[int(i)*T:(int(i)+1)*T])
		lens[row], starts[row] = s.Len[i], s.Start[i]
	}
	c := newCurve(opt.Steps)
	for step := range opt.Steps {
		for i := range B {
			k := pick.Draw(rng.Float64())
			put(i, data.A[k])
			put(B+i, data.B[k])
			lab[i] = float32(data.Label[k])
			setAux(i, k)
		}
		var v float64
		var err error
		if stepper.st != nil {
			var halves [2][]*tensors.Tensor
			for h := range 2 {
				a := splitRows(aux, B, 1, h)
				if len(aux) == 2*B {
					a = splitPairRows(aux, B, 1, h)
				}
				halves[h] = []*tensors.Tensor{tensors.FromFlatDataAndDimensions(splitPairRows(tok, B, T, h), B, T),
					tensors.FromFlatDataAndDimensions(splitPairRows(lens, B, 1, h), B),
					tensors.FromFlatDataAndDimensions(splitPairRows(starts, B, 1, h), B),
					tensors.FromFlatDataAndDimensions(a, len(a)),
					tensors.FromFlatDataAndDimensions(splitRows(lab, B, 1, h), B/2)}
			}
			v, err = stepper.st.step(halves, [2]float32{0.5, 0.5})
		} else {
			in := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(tok, 2*B, T),
				tensors.FromFlatDataAndDimensions(lens, 2*B), tensors.FromFlatDataAndDimensions(starts, 2*B),
				tensors.FromFlatDataAndDimensions(aux, len(aux))}
			var ms []*tensors.Tensor
			ms, err = stepper.trainer.TrainStep(nil, in, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(lab, B)})
			if err == nil {
				v, err = lossOf(ms, step)
			}
		}
		if err != nil {
			return fmt.Errorf("training step %d: %w", step, err)
		}
		if err := c.add(step, v); err != nil {
			return err
		}
		m.Tokens += int64(2 * B * T)
	}
	m.Curve, m.FinalLoss = c.points()
	return nil
}

// Pretrain fits a policy as a language model of the sequences' responses:
// Adam on the mean next-token negative log-likelihood
// −Σ log π(y|x) / Σ (|y| + 1) over minibatches of Batch sequences drawn
// uniformly with replacement. It makes a reference policy π_ref for DPO
// (and DPO's starting point). Split steps (m.split) run the rows ½B·h …
// ½B·(h+1) − 1 as half h, whose loss is −Σ_h log π / N_h with N_h the
// half's predicted tokens, and weight the halves' gradients by
// N_h/(N₀ + N₁), which gives the whole batch's −Σ log π / (N₀ + N₁).
func (m *SeqModel) Pretrain(s *Seqs, opt Optim, seed uint64) error {
	if m.Arch.Head != PolicyHead {
		return fmt.Errorf("only a policy can be pre-trained as a language model")
	}
	if s.N() == 0 {
		return fmt.Errorf("no sequences to pre-train on")
	}
	if opt.Batch < 1 || opt.Steps < 1 || !(opt.LR > 0) {
		return fmt.Errorf("need batch ≥ 1, steps ≥ 1 and lr > 0, got %d, %d, %v", opt.Batch, opt.Steps, opt.LR)
	}
	T, B, arch := m.Arch.Context, opt.Batch, m.Arch
	model := func(ctx *context.Context, _ any, in []*Node) []*Node {
		sc := arch.scores(ctx, in[0], in[1], in[2])
		n := ConvertDType(Sub(in[1], in[2]), dtypes.Float32) // response tokens + EOS
		return []*Node{Div(Neg(ReduceAllSum(sc)), ReduceAllSum(n))}
	}
	lossFn := func(_, pred []*Node) *Node { return pred[0] }
	stepper, err := m.newStepper(model, lossFn, opt, 3)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x7f4a7c159e3779b9))
	tok := make([]int32, B*T)
	lens := make([]int32, B)
	starts := make([]int32, B)
	c := newCurve(opt.Steps)
	for step := range opt.Steps {
		for r := range B {
			i := rng.IntN(s.N())
			copy(tok[r*T:(r+1)*T], s.Tokens[i*T:(i+1)*T])
			lens[r], starts[r] = s.Len[i], s.Start[i]
		}
		var v float64
		var err error
		if stepper.st != nil {
			var halves [2][]*tensors.Tensor
			var n [2]int32 // predicted tokens (response and EOS) of each half
			for h := range 2 {
				ls, ss := splitRows(lens, B, 1, h), splitRows(starts, B, 1, h)
				for r := range ls {
					n[h] += ls[r] - ss[r]
				}
				halves[h] = []*tensors.Tensor{tensors.FromFlatDataAndDimensions(splitRows(tok, B, T, h), B/2, T),
					tensors.FromFlatDataAndDimensions(ls, B/2), tensors.FromFlatDataAndDimensions(ss, B/2)}
			}
			w0 := float32(n[0]) / float32(n[0]+n[1])
			v, err = stepper.st.step(halves, [2]float32{w0, 1 - w0})
		} else {
			var ms []*tensors.Tensor
			ms, err = stepper.trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(tok, B, T),
				tensors.FromFlatDataAndDimensions(lens, B), tensors.FromFlatDataAndDimensions(starts, B)}, nil)
			if err == nil {
				v, err = lossOf(ms, step)
			}
		}
		if err != nil {
			return fmt.Errorf("pre-training step %d: %w", step, err)
		}
		if err := c.add(step, v); err != nil {
			return err
		}
		m.Tokens += int64(B * T)
	}
	m.Curve, m.FinalLoss = c.points()
	return nil
}

// Score returns the model's score of every sequence: r(x, y) for a reward
// model, log π(y|x) for a policy. Sequences run in chunks of chunk rows
// (the last one padded by repeating its first row).
func (m *SeqModel) Score(s *Seqs, chunk int) ([]float64, error) {
	T := m.Arch.Context
	if s.Context != T {
		return nil, fmt.Errorf("sequences are padded to %d tokens, the model's context is %d", s.Context, T)
	}
	arch := m.Arch
	m.built = true
	exec, err := context.NewExec(m.backend, m.ctx.Reuse(), func(ctx *context.Context, tok, lens, starts *Node) *Node {
		return arch.scores(ctx, tok, lens, starts)
	})
	if err != nil {
		return nil, fmt.Errorf("building the scoring graph: %w", err)
	}
	out := make([]float64, 0, s.N())
	tok := make([]int32, chunk*T)
	lens := make([]int32, chunk)
	starts := make([]int32, chunk)
	for lo := 0; lo < s.N(); lo += chunk {
		n := min(chunk, s.N()-lo)
		for r := range chunk {
			i := lo + min(r, n-1)
			if r >= n {
				i = lo
			}
			copy(tok[r*T:(r+1)*T], s.Tokens[i*T:(i+1)*T])
			lens[r], starts[r] = s.Len[i], s.Start[i]
		}
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(tok, chunk, T),
			tensors.FromFlatDataAndDimensions(lens, chunk), tensors.FromFlatDataAndDimensions(starts, chunk))
		if err != nil {
			return nil, fmt.Errorf("scoring sequences %d–%d: %w", lo, lo+n-1, err)
		}
		flat, err := tensors.CopyFlatData[float32](res[0])
		if err != nil {
			return nil, err
		}
		for _, v := range flat[:n] {
			if math.IsNaN(float64(v)) {
				return nil, fmt.Errorf("model scores are NaN: training diverged")
			}
			out = append(out, float64(v))
		}
	}
	return out, nil
}

// Throughput measures training speed of a transformer on random byte
// sequences of the full context (prompt of a quarter, response of the
// rest): warmup steps (compilation) are not timed, then steps are. It
// returns tokens per second (2·batch·Context tokens per pair step for
// heads scoring pairs) and seconds per step.
func Throughput(backend backends.Backend, arch SeqArch, opt Optim, warmup int, seed uint64) (tokensPerSec, secPerStep float64, err error) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	T := arch.Context
	n := 4 * opt.Batch
	s := &Seqs{Context: T}
	for range n {
		p := max(1, (T-3)/4)
		r := T - 3 - p
		row := []int32{256}
		for range p {
			row = append(row, int32(32+rng.IntN(95)))
		}
		row = append(row, 257)
		for range r {
			row = append(row, int32(32+rng.IntN(95)))
		}
		row = append(row, 258)
		s.Tokens = append(s.Tokens, row...)
		s.Len = append(s.Len, int32(T))
		s.Start = append(s.Start, int32(p+2))
	}
	pairs := &SeqPairs{Seqs: s}
	for k := range n / 2 {
		pairs.A, pairs.B = append(pairs.A, int32(2*k)), append(pairs.B, int32(2*k+1))
		pairs.Label = append(pairs.Label, float64(rng.IntN(2)))
		pairs.Weight = append(pairs.Weight, 1)
	}
	m, err := NewSeqModel(backend, arch, seed)
	if err != nil {
		return 0, 0, err
	}
	loss := Loss{Kind: "dpo", Beta: 0.1, Scale: 1}
	if err := m.Train(pairs, loss, Optim{LR: opt.LR, Batch: opt.Batch, Steps: max(1, warmup)}, seed); err != nil {
		return 0, 0, err
	}
	before := m.Tokens
	start := time.Now()
	if err := m.Train(pairs, loss, opt, seed+2); err != nil {
		return 0, 0, err
	}
	el := time.Since(start).Seconds()
	return float64(m.Tokens-before) / el, el / float64(opt.Steps), nil
}

// Weights are a sequence model's trainable variables: a snapshot that
// SetWeights loads into a model of the same architecture (a pre-trained
// reference policy passed between steps).
type Weights struct {
	Arch SeqArch          `json:"arch"`
	Vars []WeightVariable `json:"vars"`
}

// WeightVariable is one variable: its scope, name, shape and values.
type WeightVariable struct {
	Scope string    `json:"scope"`
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// Weights returns the model's trainable variables, sorted by scope and
// name.
func (m *SeqModel) Weights() (*Weights, error) {
	w := &Weights{Arch: m.Arch}
	var err error
	m.ctx.EnumerateVariables(func(v *context.Variable) {
		if err != nil || !v.Trainable {
			return
		}
		t, e := v.Value()
		if e != nil {
			err = fmt.Errorf("reading %s: %w", v.ScopeAndName(), e)
			return
		}
		data, e := tensors.CopyFlatData[float32](t)
		if e != nil {
			err = fmt.Errorf("reading %s: %w", v.ScopeAndName(), e)
			return
		}
		w.Vars = append(w.Vars, WeightVariable{Scope: v.Scope(), Name: v.Name(), Shape: t.Shape().Dimensions, Data: data})
	})
	if err != nil {
		return nil, err
	}
	if len(w.Vars) == 0 {
		return nil, fmt.Errorf("the model has no weights yet")
	}
	slices.SortFunc(w.Vars, func(a, b WeightVariable) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Name, b.Name))
	})
	return w, nil
}

// SetWeights gives an untrained model the weights w (of the same
// architecture); later training and scoring start from them.
func (m *SeqModel) SetWeights(w *Weights) error {
	if w.Arch != m.Arch {
		return fmt.Errorf("weights of a %+v model do not fit a %+v model", w.Arch, m.Arch)
	}
	if m.built {
		return fmt.Errorf("the model already has weights")
	}
	for _, v := range w.Vars {
		n := 1
		for _, d := range v.Shape {
			n *= d
		}
		if n != len(v.Data) {
			return fmt.Errorf("weight %s/%s: %d values for shape %v", v.Scope, v.Name, len(v.Data), v.Shape)
		}
		m.ctx.InAbsPath(v.Scope).VariableWithValue(v.Name, tensors.FromFlatDataAndDimensions(v.Data, v.Shape...))
	}
	m.built = true
	return nil
}
