package methods

import (
	_ "embed"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/metrics"
)

//go:embed nbc.cue
var nbcCUE string

func init() {
	Register(Kind{
		Name: "nbc",
		Doc:  "the win-rate policy π(y) ∝ NBC(y) (Eq. 13), a reference for what DPO follows",
		CUE:  nbcCUE, CUEFile: "hetalign/methods/nbc.cue",
		New: func() Params { return new(NBC) },
	})
}

// NBC is the policy π ∝ NBC (Eq. 13); it has no settings.
type NBC struct{}

// Defaults: none.
func (*NBC) Defaults(Context) {}

// Check: nothing to check.
func (*NBC) Check(Context) []Problem { return nil }

// SGD is false: nothing is trained.
func (*NBC) SGD() bool { return false }

// FitTabular returns NBC normalised, per prompt.
func (*NBC) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return fromTruth(in.World, func(t *analytic.Truth) ([]float64, error) { return envs.Normalise(t.NBC) })
}
