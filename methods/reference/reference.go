// Package reference pre-trains the reference policy π_ref of DPO on the
// sequence environment (Section 7.3): a causal transformer fit as a
// language model of the training responses, once per seed and
// architecture, shared by every method that starts from it.
//
// The paper's published DPO used no reference (log π_ref cancels: a
// uniform reference); a policy trained from scratch then scores by log π
// alone, which falls with every token whatever the labels. Starting DPO
// from a pre-trained π_ref and scoring by β·log π/π_ref (Eq. 6) isolates
// what the labels teach.
package reference

import (
	"encoding/json"
	"fmt"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs/sequence"
	"hetalign/methods/neural"
)

// Params are a reference step's parameters: the policy's architecture,
// Adam's settings for pre-training, and the cell's seed (each seed its own
// reference). Env names the world codec ("sequence").
type Params struct {
	Env   string  `json:"env"`
	Width int     `json:"width"`
	Depth int     `json:"depth"`
	Heads int     `json:"heads"`
	FF    int     `json:"ff"`
	LR    float64 `json:"lr"`
	Batch int     `json:"batch"`
	Steps int     `json:"steps"`
	Seed  int     `json:"seed"`
}

// Arch is the policy transformer of the reference on world w.
func (p Params) Arch(w *sequence.World) neural.SeqArch {
	return neural.SeqArch{Vocab: sequence.Vocab, Context: w.Context(), Width: p.Width, Depth: p.Depth,
		Heads: p.Heads, FF: p.FF, Head: neural.PolicyHead}
}

// Reference is a pre-trained reference policy: its weights and its
// pre-training loss (the mean next-token negative log-likelihood per
// response token): the curve over CurvePoints stretches of the steps and
// the mean over the last 10%.
type Reference struct {
	Weights   *neural.Weights `json:"weights"`
	Curve     []float64       `json:"curve"`
	FinalLoss float64         `json:"final_loss"`
	Tokens    int64           `json:"tokens"`
}

// Build pre-trains the reference of params on both responses of every
// training prompt of w (neural.SeqModel.Pretrain), weights drawn from seed.
func Build(params []byte, w *sequence.World, seed uint64, be backends.Backend) (*Reference, error) {
	var p Params
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("reference params: %w", err)
	}
	m, err := neural.NewSeqModel(be, p.Arch(w), seed)
	if err != nil {
		return nil, err
	}
	if err := m.Pretrain(w.Seqs(w.Train), neural.Optim{LR: p.LR, Batch: p.Batch, Steps: p.Steps}, seed^0x5bd1e995); err != nil {
		return nil, err
	}
	wt, err := m.Weights()
	if err != nil {
		return nil, err
	}
	return &Reference{Weights: wt, Curve: m.Curve, FinalLoss: m.FinalLoss, Tokens: m.Tokens}, nil
}

// Decode reads a reference step's output.
func Decode(b []byte) (*Reference, error) {
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading the reference policy: %w", err)
	}
	if r.Weights == nil {
		return nil, fmt.Errorf("reading the reference policy: no weights")
	}
	return &r, nil
}
