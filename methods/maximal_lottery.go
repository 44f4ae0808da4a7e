package methods

import (
	_ "embed"
	"fmt"

	"hetalign/metrics"
)

//go:embed maximal_lottery.cue
var maximalLotteryCUE string

func init() {
	Register(Kind{
		Name:    "maximal-lottery",
		Doc:     "the maximal lottery of the data's majority margins P(a ≻ b) − P(b ≻ a) (Fishburn 1984; the τ → 0 limit of nash and the minimax winner of Swamy et al. 2024): the optimal strategy of that symmetric zero-sum game, a linear programme (gonum's simplex); Condorcet-consistent",
		Regimes: familyRegimes,
		CUE:     maximalLotteryCUE, CUEFile: "hetalign/methods/maximal_lottery.cue",
		New: func() Params { return new(MaximalLottery) },
	})
}

// MaximalLottery has no settings.
type MaximalLottery struct{}

// Defaults: none.
func (*MaximalLottery) Defaults(Context) {}

// Check: nothing to check.
func (*MaximalLottery) Check(Context) []Problem { return nil }

// SGD is false: the lottery is a linear programme.
func (*MaximalLottery) SGD() bool { return false }

// FitTabular solves each prompt's majority-margin game on the win rates of
// its data.
func (*MaximalLottery) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	return gameFit(in, func(x int, P [][]float64, _ []float64) ([]float64, error) {
		p, err := metrics.MaximalLottery(P)
		if err != nil {
			return nil, fmt.Errorf("prompt %d: %w", x, err)
		}
		return p, nil
	})
}
