package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"hetalign/envs"
	"hetalign/envs/sequence"
)

// SeqTrained is what a trained sequence model leaves for evaluation: its
// score of every test sequence (rows of World.Seqs(World.Test): r(x, y)
// for a reward model, log π(y|x) for a policy), its final training loss,
// the tokens it trained on, and the share of the dataset it used.
type SeqTrained struct {
	Scores    []float64 `json:"scores"`
	FinalLoss float64   `json:"final_loss"`
	// Curve is the training loss over equal stretches of the steps.
	Curve    []float64 `json:"curve,omitempty"`
	Tokens   int64     `json:"tokens"`
	DataUsed *float64  `json:"data_used,omitempty"`
	// RefCurve and RefFinalLoss are the pre-training loss of the
	// reference policy the model started from (none for a uniform one).
	RefCurve     []float64 `json:"ref_curve,omitempty"`
	RefFinalLoss *float64  `json:"ref_final_loss,omitempty"`
	// Latent is what a method that infers annotator types found (em-dpo,
	// maxmin on annotated data); nil for the others.
	Latent *Latent `json:"latent,omitempty"`
}

// ComputeSequenceTruth evaluates truth metrics of the length environment
// on its grid of lengths: avg_reward r̄(x) = Σ_u w_u r_u(x) (Eq. 9),
// reward r_u(x) (Fig. 11), test_pairs and majority_agreement.
func ComputeSequenceTruth(w *sequence.World, names []string) (map[string]Value, error) {
	out := map[string]Value{}
	at := func(row []float64) []float64 {
		v := make([]float64, len(w.GridX))
		for i, x := range w.GridX {
			v[i] = row[x]
		}
		return v
	}
	var majority, decided int
	for _, i := range w.Test {
		dr := w.Avg[w.X(i, 1)] - w.Avg[w.X(i, 0)]
		if dr == 0 {
			continue
		}
		decided++
		var p float64
		for u, d := range w.Delta(i) {
			p += w.Weights[u] * envs.Sigmoid(d/w.Temperature)
		}
		if (p > 0.5 && dr > 0) || (p < 0.5 && dr < 0) {
			majority++
		}
	}
	for _, n := range names {
		switch n {
		case "avg_reward":
			out[n] = Vec(at(w.Avg))
		case "reward":
			m := make([][]float64, len(w.R))
			for u, row := range w.R {
				m[u] = at(row)
			}
			out[n] = Mat(m)
		case "type_weights":
			parts := make([]string, len(w.Types))
			for i, ty := range w.Types {
				parts[i] = fmt.Sprintf("%s %.3g", ty, w.Weights[i])
			}
			out[n] = Str(strings.Join(parts, ", "))
		case "test_pairs":
			out[n] = Num(float64(decided))
		case "majority_agreement":
			out[n] = ratio(majority, decided)
		case "consensus_cost":
			out[n] = Num(w.ConsensusCost())
		}
	}
	return out, nil
}

// ComputeSequenceMethod evaluates a trained sequence model: agreement
// with r̄ on the test pairs (ties in the model count as disagreement and
// are reported as ties), its score profile over length, final_loss and
// data_used.
func ComputeSequenceMethod(w *sequence.World, m *SeqTrained, names []string) (map[string]Value, error) {
	agree, ties, decided, err := w.Agreement(m.Scores)
	if err != nil {
		return nil, err
	}
	out := map[string]Value{}
	for _, n := range names {
		switch n {
		case "agreement":
			out[n] = ratio(agree, decided)
		case "ties":
			out[n] = ratio(ties, decided)
		case "score_profile":
			out[n] = Vec(w.Profile(m.Scores))
		case "final_loss":
			out[n] = Num(m.FinalLoss)
		case "data_used":
			out[n] = optional(m.DataUsed)
		case "loss_curve":
			out[n] = curveText(m.Curve)
		case "loss_last_drop":
			out[n] = lastDrop(m.Curve)
		case "pretrain_loss":
			out[n] = optional(m.RefFinalLoss)
		case "pretrain_curve":
			out[n] = curveText(m.RefCurve)
		case "pretrain_last_drop":
			out[n] = lastDrop(m.RefCurve)
		case "type_recovery", "log_likelihood", "latent_types":
			out[n] = LatentMetric(n, m.Latent)
		}
	}
	return out, nil
}

// curveText writes a loss curve as its points to 3 significant digits,
// first to last; none when there is no curve.
func curveText(c []float64) Value {
	if len(c) == 0 {
		return NA()
	}
	parts := make([]string, len(c))
	for i, v := range c {
		parts[i] = strconv.FormatFloat(v, 'g', 3, 64)
	}
	return Str(strings.Join(parts, " "))
}

// lastDrop is (c[k−2] − c[k−1])/|c[k−2]| for a curve of k ≥ 2 points: the
// relative fall of the loss over its last stretch; none otherwise.
func lastDrop(c []float64) Value {
	k := len(c)
	if k < 2 || c[k-2] == 0 {
		return NA()
	}
	return Num((c[k-2] - c[k-1]) / math.Abs(c[k-2]))
}

// optional is *v, or none when v is nil.
func optional(v *float64) Value {
	if v == nil {
		return NA()
	}
	return Num(*v)
}

// ratio is a/b, or none when b is 0.
func ratio(a, b int) Value {
	if b == 0 {
		return NA()
	}
	return Num(float64(a) / float64(b))
}
