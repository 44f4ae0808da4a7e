package steps

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs"
	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/metrics"
	"hetalign/runner/spec"
)

// SequenceParams are the sequence environment's part of TruthParams: the
// corpus (its path, and its SHA-256 so that a changed file changes the
// key), L, the cut, and each type's length reward.
type SequenceParams struct {
	Corpus    string                  `json:"corpus"`
	Digest    string                  `json:"digest"`
	Length    int                     `json:"length"`
	Prompts   int                     `json:"prompts"`
	Test      float64                 `json:"test"`
	PromptMin int                     `json:"prompt_min"`
	PromptMax int                     `json:"prompt_max"`
	Cut       int                     `json:"cut"`
	Grid      int                     `json:"grid"`
	Rewards   []sequence.LengthReward `json:"rewards"`
}

// goroot is the Go toolchain's root: $GOROOT, the one this binary was
// built with, or what `go env GOROOT` says.
func goroot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	if r := runtime.GOROOT(); r != "" {
		if _, err := os.Stat(r); err == nil {
			return r
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return ""
}

// corpusPath resolves a spec's corpus: "$GOROOT/…" against the toolchain,
// relative paths against the spec's folder.
func corpusPath(p, dir string) (string, error) {
	if rest, ok := strings.CutPrefix(p, "$GOROOT"); ok {
		root := goroot()
		if root == "" {
			return "", fmt.Errorf("env.corpus %q: cannot find the Go root (set GOROOT)", p)
		}
		return filepath.Join(root, rest), nil
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(dir, p), nil
	}
	return p, nil
}

func sequenceParams(c *spec.Config) (*TruthParams, error) {
	names := c.TypeNames()
	raw := make([]float64, len(names))
	sp := &SequenceParams{Length: c.Env.Length, Prompts: c.Env.Prompts, Test: c.Env.Test,
		PromptMin: c.Env.Prompt.Min, PromptMax: c.Env.Prompt.Max, Cut: c.Env.Cut, Grid: c.Env.Grid}
	for i, n := range names {
		t := c.Population.Types[n]
		raw[i] = t.Weight
		if t.Length == nil {
			return nil, fmt.Errorf("type %s has no length reward (population.types.%s.length)", n, n)
		}
		l := t.Length
		sp.Rewards = append(sp.Rewards, sequence.LengthReward{Shape: l.Shape, Rate: l.Rate, Divisor: l.Divisor, Cap: l.Cap,
			Center: l.Center, Width: l.Width, Slope: l.Slope, Intercept: l.Intercept}.Defaults())
	}
	pop, err := envs.NewPopulation(names, raw)
	if err != nil {
		return nil, err
	}
	path, err := corpusPath(c.Env.Corpus, c.Dir)
	if err != nil {
		return nil, err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("env.corpus: %w", err)
	}
	sp.Corpus, sp.Digest = path, sequence.Digest(text)
	return &TruthParams{Env: c.Env.Kind, Types: pop.Names, Weights: pop.Weights, Model: c.Preference.Model,
		Temperature: c.Preference.Temperature, Sequence: sp}, nil
}

// sequenceWorld cuts the corpus the parameters name, checking that it is
// the file that was planned.
func (p *TruthParams) sequenceWorld() (*sequence.World, error) {
	s := p.Sequence
	text, err := os.ReadFile(s.Corpus)
	if err != nil {
		return nil, fmt.Errorf("reading the corpus: %w", err)
	}
	if d := sequence.Digest(text); d != s.Digest {
		return nil, fmt.Errorf("corpus %s changed since planning (SHA-256 %s…, planned %s…): plan again", s.Corpus, d[:12], s.Digest[:12])
	}
	return sequence.New(sequence.Config{Text: text, L: s.Length, Prompts: s.Prompts, Test: s.Test,
		PromptMin: s.PromptMin, PromptMax: s.PromptMax, Seed: uint64(s.Cut), Names: p.Types, Weights: p.Weights,
		Rewards: s.Rewards, Temperature: p.Temperature, Grid: s.Grid})
}

func sequenceInput(inputs [][]byte) (*sequence.World, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("step has no truth input")
	}
	w := new(sequence.World)
	if err := json.Unmarshal(inputs[0], w); err != nil {
		return nil, fmt.Errorf("reading truth: %w", err)
	}
	if len(w.Items) == 0 || len(w.Test) == 0 {
		return nil, fmt.Errorf("truth has %d items and %d test prompts", len(w.Items), len(w.Test))
	}
	return w, nil
}

// seqArch is the transformer of a train step on w.
func seqArch(p TrainParams, w *sequence.World, head string) neural.SeqArch {
	m := p.Model
	return neural.SeqArch{Vocab: sequence.Vocab, Context: w.Context(), Width: m.Width, Depth: m.Depth,
		Heads: m.Heads, FF: m.FF, Head: head}
}

// scoreChunk is the number of sequences scored per call.
const scoreChunk = 256

// trainSequence fits a transformer on a sequence dataset (Section 7.3):
// reward and consistent-reward learn a reward model r with
// z = r(y2) − r(y1); dpo and consistent a causal policy with
// z = log π(y2|x) − log π(y1|x) (uniform reference); consistent kinds scale
// z by |U| (Eq. 20); relabel-dpo averages per-type reward models first.
func trainSequence(p TrainParams, inputs [][]byte, seed uint64, opts Options) ([]byte, error) {
	w, err := sequenceInput(inputs)
	if err != nil {
		return nil, err
	}
	if len(inputs) < 2 {
		return nil, fmt.Errorf("%s needs a dataset input", p.Kind)
	}
	d := new(sequence.Data)
	if err := json.Unmarshal(inputs[1], d); err != nil {
		return nil, fmt.Errorf("reading dataset: %w", err)
	}
	be, err := gomlxBackend(opts)
	if err != nil {
		return nil, err
	}
	opt := neural.Optim{LR: p.Optimizer.LR, Batch: p.Optimizer.Batch, Steps: p.Optimizer.Steps}
	loss := neural.Loss{Kind: "dpo", Beta: 1, Scale: 1}
	head := neural.PolicyHead
	pairs := w.Pairs(d, nil)
	switch p.Kind {
	case "reward", "consistent-reward":
		head = neural.RewardHead
	case "dpo", "consistent":
		loss.Beta = *p.Beta
	case "relabel-dpo":
		loss.Beta = *p.Beta
		if err := relabelSequence(be, p, w, d, pairs, opt, seed); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("method kind %s does not train on the sequence environment", p.Kind)
	}
	if p.Kind == "consistent" || p.Kind == "consistent-reward" {
		loss.Scale = float64(p.Types)
	}
	m, err := neural.NewSeqModel(be, seqArch(p, w, head), seed)
	if err != nil {
		return nil, err
	}
	test := w.Seqs(w.Test)
	var refTest []float64
	if p.Reference == "pretrained" {
		// π_ref: the policy pre-trained as a language model of the
		// training responses; DPO starts from it and measures log π/π_ref.
		pre := p.Pretrain
		if err := m.Pretrain(pairs.Seqs, neural.Optim{LR: pre.LR, Batch: pre.Batch, Steps: pre.Steps}, seed^0x5bd1e995); err != nil {
			return nil, err
		}
		if pairs.Ref, err = m.Score(pairs.Seqs, scoreChunk); err != nil {
			return nil, err
		}
		if refTest, err = m.Score(test, scoreChunk); err != nil {
			return nil, err
		}
	}
	if err := m.Train(pairs, loss, opt, seed); err != nil {
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
	return json.Marshal(metrics.SeqTrained{Scores: scores, FinalLoss: m.FinalLoss, Tokens: m.Tokens, DataUsed: &used})
}

// relabelSequence is relabelled DPO's first half on sequences: one BT
// reward model per type on that type's tuples, their scores of every
// training pair averaged with the types' shares of the data, and each
// pair's label replaced by σ(r̄(y2) − r̄(y1)).
func relabelSequence(be backends.Backend, p TrainParams, w *sequence.World, d *sequence.Data, pairs *neural.SeqPairs,
	opt neural.Optim, seed uint64) error {
	if len(d.Type) != len(d.Item) {
		return fmt.Errorf("relabel-dpo needs typed data (regime %q)", sequence.Typed)
	}
	avg := make([]float64, pairs.Seqs.N())
	for u := range w.Types {
		share := 0.0
		for _, t := range d.Type {
			if t == u {
				share++
			}
		}
		if share == 0 {
			continue
		}
		share /= float64(len(d.Type))
		sub := w.Pairs(d, func(k int) bool { return d.Type[k] == u })
		m, err := neural.TrainSeq(be, sub, neural.Loss{Kind: "dpo", Beta: 1, Scale: 1}, seqArch(p, w, neural.RewardHead), opt, seed+uint64(u)+1)
		if err != nil {
			return fmt.Errorf("reward model of type %s: %w", w.Types[u], err)
		}
		sc, err := m.Score(pairs.Seqs, scoreChunk)
		if err != nil {
			return fmt.Errorf("reward model of type %s: %w", w.Types[u], err)
		}
		for i, v := range sc {
			avg[i] += share * v
		}
	}
	for k := range pairs.Label {
		pairs.Label[k] = envs.Sigmoid(avg[pairs.B[k]] - avg[pairs.A[k]])
	}
	return nil
}

// evalSequence computes the metrics of a sequence cell: the truth's alone,
// or a trained model's against it.
func evalSequence(p EvalParams, inputs [][]byte) ([]byte, error) {
	w, err := sequenceInput(inputs)
	if err != nil {
		return nil, err
	}
	if len(inputs) == 1 {
		vals, err := metrics.ComputeSequenceTruth(w, p.Metrics)
		if err != nil {
			return nil, err
		}
		return json.Marshal(vals)
	}
	var m metrics.SeqTrained
	if err := json.Unmarshal(inputs[1], &m); err != nil {
		return nil, fmt.Errorf("reading trained model: %w", err)
	}
	vals, err := metrics.ComputeSequenceMethod(w, &m, p.Metrics)
	if err != nil {
		return nil, err
	}
	return json.Marshal(vals)
}
