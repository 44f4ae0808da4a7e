package methods

import (
	_ "embed"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/methods/tabular"
	"hetalign/metrics"
)

//go:embed relabel_dpo.cue
var relabelCUE string

func init() {
	Register(Kind{
		Name:    "relabel-dpo",
		Doc:     "one Bradley–Terry reward model per type, averaged with the types' shares, relabels the pairs; DPO on the result (end of Section 6)",
		Regimes: []string{analytic.Typed},
		CUE:     relabelCUE, CUEFile: "hetalign/methods/relabel_dpo.cue",
		New: func() Params { return new(RelabelDPO) },
	})
}

// RelabelDPO is the relabel-dpo kind's settings.
type RelabelDPO struct {
	Beta *float64 `json:"beta,omitempty"`
	L2   float64  `json:"l2,omitempty"`
	SGDConfig
}

// Defaults: β = env.beta; the SGD defaults; a uniform sequence reference.
func (p *RelabelDPO) Defaults(c Context) {
	p.SGDConfig.defaults(true)
	defaultBeta(&p.Beta, c)
}

// Check the model against the env.
func (p *RelabelDPO) Check(c Context) []Problem { return p.SGDConfig.check(c) }

// FitTabular relabels exactly (tabular BT fits per type) and fits DPO by
// Newton, or does both by SGD.
func (p *RelabelDPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	if p.SGD() {
		pairs, err := p.relabelSGD(in)
		if err != nil {
			return nil, err
		}
		return sgdFit(in, &p.SGDConfig, pairs, neural.Loss{Kind: "dpo", Scale: 1, Beta: *p.Beta}, 1, nil)
	}
	cfg := tabular.Config{Kind: "relabel-dpo", Beta: *p.Beta, L2: p.L2}
	return exactFit(in, func(_ int, ds *analytic.Dataset, ref []float64) (*tabular.Result, error) {
		return tabular.Fit(ds, ref, cfg)
	})
}

// relabelSGD is relabelled DPO's first half by SGD: one reward model per
// type (the policy network trained with the BT loss, β = 1, on that type's
// labels; its logits are the rewards, the softmax normaliser cancelling in
// differences), averaged with the types' shares of the annotators
// (analytic.Dataset.TypeShares; of the tuples where each has its own
// annotator), then every
// pair labelled again with σ(r̄(a) − r̄(b)). It returns the relabelled pair
// statistics per prompt for DPO.
func (p *RelabelDPO) relabelSGD(in *TabularInput) ([][][]float64, error) {
	be, err := in.Backend()
	if err != nil {
		return nil, err
	}
	w, d := in.World, in.Data
	nX, nY := len(w.Prompts), len(w.Prompts[0].Alternatives)
	avg := make([][]float64, nX)
	for x := range avg {
		avg[x] = make([]float64, nY)
	}
	var total float64
	nTypes := len(w.Prompts[0].Types)
	for u := range nTypes {
		byType := make([][][]float64, nX)
		var share float64
		for x, ds := range d.Prompts {
			if ds == nil || ds.ByType == nil {
				return nil, fmt.Errorf("relabel-dpo: prompt %d has no per-type labels (needs regime %q)", x, analytic.Typed)
			}
			byType[x] = ds.ByType[u]
			for _, row := range ds.ByType[u] {
				for _, v := range row {
					share += d.Mass[x] * v
				}
			}
		}
		if share == 0 {
			continue
		}
		res, err := neural.Train(be, neural.FromPairs(byType, d.Mass), nX, nY, neural.Loss{Kind: "dpo", Beta: 1, Scale: 1},
			p.arch(), p.Optimizer.optim(), in.Seed+uint64(u)+1)
		if err != nil {
			return nil, fmt.Errorf("reward model of type %s: %w", w.Prompts[0].Types[u], err)
		}
		// the type's share of annotators where the data know it (observed
		// comparisons: one prompt), else of the tuples
		wu := share
		if ts := d.Prompts[0].TypeShares; len(d.Prompts) == 1 && len(ts) == nTypes {
			wu = ts[u]
		}
		for x := range avg {
			for y := range avg[x] {
				avg[x][y] += wu * math.Log(res.Policy[x][y])
			}
		}
		total += wu
	}
	out := make([][][]float64, nX)
	for x, ds := range d.Prompts {
		n := len(ds.Won)
		out[x] = make([][]float64, n)
		for a := range n {
			out[x][a] = make([]float64, n)
			for b := range n {
				if a != b {
					out[x][a][b] = (ds.Won[a][b] + ds.Won[b][a]) * envs.Sigmoid((avg[x][a]-avg[x][b])/total)
				}
			}
		}
	}
	return out, nil
}

// FitSequence averages per-type transformer reward models, relabels the
// training pairs and trains a policy by DPO on them.
func (p *RelabelDPO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return seqFit(in, &p.SGDConfig, neural.PolicyHead, neural.Loss{Kind: "dpo", Beta: *p.Beta, Scale: 1},
		func(be backends.Backend, pairs *neural.SeqPairs) error { return p.relabelSequence(be, in, pairs) }, nil)
}

// relabelSequence is relabelled DPO's first half on sequences: one BT
// reward model per type on that type's tuples, their scores of every
// training pair averaged with the types' shares of the data, and each
// pair's label replaced by σ(r̄(y2) − r̄(y1)).
func (p *RelabelDPO) relabelSequence(be backends.Backend, in *SequenceInput, pairs *neural.SeqPairs) error {
	w, d := in.World, in.Data
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
		m, err := neural.TrainSeq(be, sub, neural.Loss{Kind: "dpo", Beta: 1, Scale: 1}, p.seqArch(w, neural.RewardHead), p.Optimizer.optim(), in.Seed+uint64(u)+1)
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
