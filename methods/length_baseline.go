package methods

import (
	_ "embed"

	"hetalign/envs/sequence"
	"hetalign/metrics"
)

//go:embed length_baseline.cue
var lengthBaselineCUE string

func init() {
	Register(Kind{
		Name:    "length-baseline",
		Doc:     "a scorer that ignores the labels: score = ± the response's token count (\"longer is better\" or \"shorter is better\"), the length prior a sequence model can fall back on; sequence env",
		Regimes: []string{sequence.Anonymous, sequence.Typed, sequence.Consensus},
		CUE:     lengthBaselineCUE, CUEFile: "hetalign/methods/length_baseline.cue",
		New: func() Params { return new(LengthBaseline) },
	})
}

// LengthBaseline scores a response by its length: +n for prefer
// "longer", −n for "shorter", n the response's tokens with its EOS.
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
	test := in.World.Seqs(in.World.Test)
	sign := 1.0
	if p.Prefer == "shorter" {
		sign = -1
	}
	out := &metrics.SeqTrained{Scores: make([]float64, test.N())}
	for i := range out.Scores {
		out.Scores[i] = sign * float64(test.Len[i]-test.Start[i])
	}
	used := 0.0
	out.DataUsed = &used
	return out, nil
}
