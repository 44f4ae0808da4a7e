package methods

import (
	_ "embed"
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/methods/reference"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

// CommonCUE holds the schema every kind's fragment builds on: #Method's
// kind and data, and the shared field groups #L2 and #SGD.
//
//go:embed common.cue
var CommonCUE string

// CommonCUEFile names common.cue in positions.
const CommonCUEFile = "hetalign/methods/common.cue"

//go:embed lossfamily.cue
var lossFamilyCUE string

// SharedCUE lists the schema files every kind's fragment may build on
// (name for positions, source): common.cue and lossfamily.cue.
func SharedCUE() [][2]string {
	return [][2]string{{CommonCUEFile, CommonCUE}, {"hetalign/methods/lossfamily.cue", lossFamilyCUE}}
}

// ModelConfig is a method's network for SGD fits (#SGD.model).
type ModelConfig struct {
	Kind       string `json:"kind,omitempty"`
	Depth      int    `json:"depth,omitempty"`
	Width      int    `json:"width,omitempty"`
	Activation string `json:"activation,omitempty"`
	// Heads and FF of a transformer (env kind "sequence").
	Heads int `json:"heads,omitempty"`
	FF    int `json:"ff,omitempty"`
}

// OptimizerConfig is Adam's settings.
type OptimizerConfig struct {
	LR    float64 `json:"lr,omitempty"`
	Batch int     `json:"batch,omitempty"`
	Steps int     `json:"steps,omitempty"`
}

// Fill sets the fields left at zero to the given defaults.
func (o *OptimizerConfig) Fill(lr float64, batch, steps int) {
	if o.LR == 0 {
		o.LR = lr
	}
	if o.Batch == 0 {
		o.Batch = batch
	}
	if o.Steps == 0 {
		o.Steps = steps
	}
}

func (o *OptimizerConfig) optim() neural.Optim {
	return neural.Optim{LR: o.LR, Batch: o.Batch, Steps: o.Steps}
}

// SGDConfig is #SGD: the network and Adam's settings of an SGD fit, and
// the reference policy of a sequence policy. Kinds embed it.
type SGDConfig struct {
	Model     *ModelConfig     `json:"model,omitempty"`
	Optimizer *OptimizerConfig `json:"optimizer,omitempty"`
	// Reference of sequence policies: "uniform" (as published: log π_ref
	// cancels) or "pretrained" (a language model fit with Pretrain).
	Reference string           `json:"reference,omitempty"`
	Pretrain  *OptimizerConfig `json:"pretrain,omitempty"`
}

// SGD reports whether the method is fit by stochastic gradient descent:
// the spec set a model or an optimizer.
func (s *SGDConfig) SGD() bool { return s.Model != nil || s.Optimizer != nil }

// defaults fills the network (tabular; MLP 2 × 15 tanh as published;
// transformer 1 block of 16 units, 2 heads, ff 2) and Adam (lr 1e-3,
// batch 1024, 10,000 steps). policy marks kinds that train a sequence
// policy, whose reference defaults to "uniform".
func (s *SGDConfig) defaults(policy bool) {
	if !s.SGD() {
		return
	}
	if s.Model == nil {
		s.Model = &ModelConfig{}
	}
	if s.Optimizer == nil {
		s.Optimizer = &OptimizerConfig{}
	}
	m := s.Model
	if m.Kind == "" {
		m.Kind = "tabular"
	}
	switch m.Kind {
	case "transformer":
		if m.Depth == 0 {
			m.Depth = 1
		}
		if m.Width == 0 {
			m.Width = 16
		}
		if m.Heads == 0 {
			m.Heads = 2
		}
		if m.FF == 0 {
			m.FF = 2
		}
	case "mlp":
		if m.Depth == 0 {
			m.Depth = 2
		}
		if m.Width == 0 {
			m.Width = 15
		}
		if m.Activation == "" {
			m.Activation = "tanh"
		}
	}
	s.Optimizer.Fill(1e-3, 1024, 10_000)
	if m.Kind == "transformer" && policy {
		if s.Reference == "" {
			s.Reference = "uniform"
		}
		if s.Reference == "pretrained" {
			if s.Pretrain == nil {
				s.Pretrain = &OptimizerConfig{}
			}
			s.Pretrain.Fill(s.Optimizer.LR, s.Optimizer.Batch, s.Optimizer.Steps)
		}
	}
}

// referenceParams are the parameters of the reference step a fit with
// seed starts from: set for a transformer policy whose reference is
// "pretrained" (a language model pre-trained with Pretrain's settings).
func (s *SGDConfig) referenceParams(seed int) (*reference.Params, bool) {
	if !s.transformer() || s.Reference != "pretrained" || s.Pretrain == nil {
		return nil, false
	}
	m, o := s.Model, s.Pretrain
	return &reference.Params{Env: sequence.WorldTag, Width: m.Width, Depth: m.Depth, Heads: m.Heads, FF: m.FF,
		LR: o.LR, Batch: o.Batch, Steps: o.Steps, Seed: seed}, true
}

// transformer reports whether the model is a transformer.
func (s *SGDConfig) transformer() bool { return s.Model != nil && s.Model.Kind == "transformer" }

// check: a transformer on the sequence environment (and only there), its
// width a multiple of its heads.
func (s *SGDConfig) check(c Context) []Problem {
	var ps []Problem
	if c.World == sequence.WorldTag {
		if !s.transformer() {
			return append(ps, problemf("", "method %s on a sequence env needs model: kind: \"transformer\"", c.Name))
		}
		if s.Model.Width%s.Model.Heads != 0 {
			ps = append(ps, problemf("model", "width %d is not a multiple of heads %d", s.Model.Width, s.Model.Heads))
		}
		return ps
	}
	if s.transformer() {
		ps = append(ps, problemf("model.kind", "a transformer reads token sequences: it needs env kind \"sequence\""))
	}
	return ps
}

// defaultBeta points at env.beta when the spec set no β.
func defaultBeta(b **float64, c Context) {
	if *b == nil {
		v := c.EnvBeta
		*b = &v
	}
}

// exactFit fits each prompt of the World with fit (tabular policies are
// independent across prompts) and weighs each prompt's data used by its
// share of the data.
func exactFit(in *TabularInput, fit func(x int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error)) (*metrics.Trained, error) {
	w, d := in.World, in.Data
	out := &metrics.Trained{}
	var used float64
	for x, ds := range d.Prompts {
		if ds == nil {
			return nil, fmt.Errorf("prompt %d has no data: draw more pairs", x)
		}
		res, err := fit(x, ds, w.Prompts[x].Reference)
		var nm *tabular.NoMinimiserError
		if errors.As(err, &nm) {
			err = errors.New(nm.Describe(w.Prompts[x].Alternatives))
		}
		if err != nil {
			if len(w.Prompts) > 1 {
				return nil, fmt.Errorf("prompt %d: %w", x, err)
			}
			return nil, err
		}
		out.Policy = append(out.Policy, res.Policy)
		out.LogRatio = append(out.LogRatio, res.LogRatio)
		used += d.Mass[x] * res.DataUsed
		if res.Optima != nil && !res.Optima.Unique() {
			if out.NotUnique == nil {
				out.NotUnique = make([]string, len(d.Prompts))
				out.NotUniqueTop = make([]string, len(d.Prompts))
			}
			out.NotUnique[x] = res.Optima.Shared(w.Prompts[x].Alternatives)
			out.NotUniqueTop[x] = res.Optima.Top(w.Prompts[x].Alternatives)
		}
	}
	out.DataUsed = &used
	return out, nil
}

// fromTruth is a policy read off the truth of each prompt (oracle, nbc).
func fromTruth(w *analytic.World, pol func(t *analytic.Truth) ([]float64, error)) (*metrics.Trained, error) {
	out := &metrics.Trained{}
	for _, t := range w.Prompts {
		p, err := pol(t)
		if err != nil {
			return nil, err
		}
		out.Policy = append(out.Policy, p)
		out.LogRatio = append(out.LogRatio, logRatio(p, t.Reference))
	}
	return out, nil
}

// logRatio is log π/π_ref, centred.
func logRatio(pol, ref []float64) []float64 {
	out := make([]float64, len(pol))
	var mean float64
	for i := range pol {
		// A policy may put no mass on an alternative (a maximal lottery);
		// its log-ratio is then that of the smallest float64, about −744,
		// finite so that reports can hold it, and below every other.
		out[i] = math.Log(math.Max(pol[i], math.SmallestNonzeroFloat64) / ref[i])
		mean += out[i] / float64(len(out))
	}
	for i := range out {
		out[i] -= mean
	}
	return out
}

// wonPairs are the per-prompt win statistics of the dataset (nil for a
// prompt without data).
func wonPairs(d *analytic.Data) [][][]float64 {
	pairs := make([][][]float64, len(d.Prompts))
	for x, ds := range d.Prompts {
		if ds != nil {
			pairs[x] = ds.Won
		}
	}
	return pairs
}

// sgdFit fits a policy with Adam on GoMLX over all prompts at once to the
// pair statistics pairs; tuples, when set, may add per-tuple inputs.
func sgdFit(in *TabularInput, s *SGDConfig, pairs [][][]float64, loss neural.Loss, used float64,
	tuples func(*neural.Tuples)) (*metrics.Trained, error) {
	t := neural.FromPairs(pairs, in.Data.Mass)
	if tuples != nil {
		tuples(t)
	}
	return sgdTrain(in, s, t, loss, used)
}

// sgdTrain trains the policy of s on the tuples t with loss by Adam
// (neural.Train) and returns it with its log-ratios to π_ref; used is the
// share of the data the fit used.
func sgdTrain(in *TabularInput, s *SGDConfig, t *neural.Tuples, loss neural.Loss, used float64) (*metrics.Trained, error) {
	be, err := in.Backend()
	if err != nil {
		return nil, err
	}
	w := in.World
	nY := len(w.Prompts[0].Alternatives)
	res, err := neural.Train(be, t, len(w.Prompts), nY, loss, s.arch(), s.Optimizer.optim(), in.Seed)
	if err != nil {
		return nil, err
	}
	out := &metrics.Trained{Policy: res.Policy, DataUsed: &used}
	for x, p := range w.Prompts {
		out.LogRatio = append(out.LogRatio, logRatio(res.Policy[x], p.Reference))
	}
	return out, nil
}

func (s *SGDConfig) arch() neural.Arch {
	return neural.Arch{Kind: s.Model.Kind, Depth: s.Model.Depth, Width: s.Model.Width, Activation: s.Model.Activation}
}

// seqArch is the transformer of a sequence fit on w with head.
func (s *SGDConfig) seqArch(w *sequence.World, head string) neural.SeqArch {
	m := s.Model
	return neural.SeqArch{Vocab: sequence.Vocab, Context: w.Context(), Width: m.Width, Depth: m.Depth,
		Heads: m.Heads, FF: m.FF, Head: head}
}

// scoreChunk is the number of sequences scored per call.
const scoreChunk = 256

// seqFit trains a transformer on a sequence dataset (Section 7.3) and
// scores the test sequences. A reward head learns r with z = r(y2) −
// r(y1); a policy head learns log π with z = log π(y2|x) − log π(y1|x)
// (reference uniform, or pre-trained when s.Reference says so, then
// scores are log π/π_ref). prepare may relabel the training pairs first;
// train, when set, replaces training on loss (the pair-loss family).
func seqFit(in *SequenceInput, s *SGDConfig, head string, loss neural.Loss,
	prepare func(be backends.Backend, pairs *neural.SeqPairs) error,
	train func(m *neural.SeqModel, pairs *neural.SeqPairs, opt neural.Optim, seed uint64) error) (*metrics.SeqTrained, error) {
	be, err := in.Backend()
	if err != nil {
		return nil, err
	}
	w, d := in.World, in.Data
	pairs := w.Pairs(d, nil)
	if prepare != nil {
		if err := prepare(be, pairs); err != nil {
			return nil, err
		}
	}
	m, err := neural.NewSeqModel(be, s.seqArch(w, head), in.Seed)
	if err != nil {
		return nil, err
	}
	test := w.Seqs(w.Test)
	var refTest []float64
	out := &metrics.SeqTrained{}
	if s.Reference == "pretrained" {
		// π_ref: the policy pre-trained as a language model of the
		// training responses (a reference step); DPO starts from it and
		// measures log π/π_ref.
		if in.Reference == nil {
			return nil, fmt.Errorf("a pre-trained reference policy is missing: the train step needs a reference input")
		}
		if err := m.SetWeights(in.Reference.Weights); err != nil {
			return nil, fmt.Errorf("loading the reference policy: %w", err)
		}
		if pairs.Ref, err = m.Score(pairs.Seqs, scoreChunk); err != nil {
			return nil, err
		}
		if refTest, err = m.Score(test, scoreChunk); err != nil {
			return nil, err
		}
		out.RefCurve, out.RefFinalLoss = in.Reference.Curve, &in.Reference.FinalLoss
	}
	if train == nil {
		train = func(m *neural.SeqModel, pairs *neural.SeqPairs, opt neural.Optim, seed uint64) error {
			return m.Train(pairs, loss, opt, seed)
		}
	}
	if err := train(m, pairs, s.Optimizer.optim(), in.Seed); err != nil {
		return nil, err
	}
	scores, err := m.Score(test, scoreChunk)
	if err != nil {
		return nil, err
	}
	for i := range refTest {
		scores[i] -= refTest[i]
	}
	used := 1.0
	out.Scores, out.FinalLoss, out.Curve, out.Tokens, out.DataUsed = scores, m.FinalLoss, m.Curve, m.Tokens, &used
	return out, nil
}
