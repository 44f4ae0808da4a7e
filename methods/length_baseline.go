package methods

import (
	_ "embed"

	"hetalign/envs"
	"hetalign/envs/sequence"
	"hetalign/metrics"
)

//go:embed length_baseline.cue
var lengthBaselineCUE string

func init() {
	Register(Kind{
		Name:    "length-baseline",
		Doc:     "a scorer that reads no labels: ± the response's token count (\"longer is better\" or \"shorter is better\", the length prior a sequence model can fall back on), or the population's Borda count NBC(x) over x = prompt + response tokens (\"borda\": the ranking DPO on anonymous labels targets, Eq. 13); sequence env",
		Regimes: []string{sequence.Anonymous, sequence.Typed, sequence.Consensus},
		CUE:     lengthBaselineCUE, CUEFile: "hetalign/methods/length_baseline.cue",
		New: func() Params { return new(LengthBaseline) },
	})
}

// LengthBaseline scores a response by its length: +n for prefer
// "longer", −n for "shorter", n the response's tokens with its EOS; or,
// for "borda", by the normalised Borda count of x = prompt + response
// tokens (Eq. 13),
//
//	NBC(x) = Σ_{x′} D(x′) Σ_u w_u σ((r_u(x) − r_u(x′))/τ),
//
// D the distribution of x over the training responses: the ranking that
// DPO on anonymous labels follows in the infinite-data limit (Section 4),
// for a model that ranks by x alone.
type LengthBaseline struct {
	Prefer string `json:"prefer"`
}

// Defaults: none (prefer is required).
func (*LengthBaseline) Defaults(Context) {}

// Check: nothing beyond the schema.
func (*LengthBaseline) Check(Context) []Problem { return nil }

// SGD is false: nothing is trained.
func (*LengthBaseline) SGD() bool { return false }

// FitSequence scores every test sequence by its response length.
func (p *LengthBaseline) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	w := in.World
	test := w.Seqs(w.Test)
	out := &metrics.SeqTrained{Scores: make([]float64, test.N())}
	switch p.Prefer {
	case "borda":
		nbc := bordaOverX(w)
		for k, i := range w.Test {
			out.Scores[2*k], out.Scores[2*k+1] = nbc[w.X(i, 0)], nbc[w.X(i, 1)]
		}
	default:
		sign := 1.0
		if p.Prefer == "shorter" {
			sign = -1
		}
		for i := range out.Scores {
			out.Scores[i] = sign * float64(test.Len[i]-test.Start[i])
		}
	}
	used := 0.0
	out.DataUsed = &used
	return out, nil
}

// bordaOverX is NBC(x) for x = 0 … L with D the distribution of x over
// both responses of every training prompt.
func bordaOverX(w *sequence.World) []float64 {
	d := make([]float64, w.L+1)
	for _, i := range w.Train {
		d[w.X(i, 0)]++
		d[w.X(i, 1)]++
	}
	n := float64(2 * len(w.Train))
	nbc := make([]float64, w.L+1)
	for x := range nbc {
		for x2, c := range d {
			if c == 0 {
				continue
			}
			for u, r := range w.R {
				nbc[x] += c / n * w.Weights[u] * envs.Sigmoid((r[x]-r[x2])/w.Temperature)
			}
		}
	}
	return nbc
}
