package methods

import (
	_ "embed"

	"hetalign/envs/analytic"
	"hetalign/metrics"
)

//go:embed oracle.cue
var oracleCUE string

func init() {
	Register(Kind{
		Name: "oracle",
		Doc:  "π* itself (Eq. 10), the reference every method is measured against",
		CUE:  oracleCUE, CUEFile: "hetalign/methods/oracle.cue",
		New: func() Params { return new(Oracle) },
	})
}

// Oracle is π* (Eq. 10) read off the truth; it has no settings.
type Oracle struct{}

// Defaults: none.
func (*Oracle) Defaults(Context) {}

// Check: nothing to check.
func (*Oracle) Check(Context) []Problem { return nil }

// SGD is false: nothing is trained.
func (*Oracle) SGD() bool { return false }

// FitTabular returns π* of every prompt.
func (*Oracle) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return fromTruth(in.World, func(t *analytic.Truth) ([]float64, error) { return t.PiStar, nil })
}
