package runner

import (
	"math"
	"testing"
)

// A class that no shipped cost covers gets a fallback estimate that can be
// off by orders of magnitude (a transformer step guessed from the tabular
// SGD fits). When one of its steps finishes at 100 times its guess, that
// must teach the model about that class, not about the machine: the
// measured classes keep their speed, and the guessed class's remaining
// steps take its own observed ratio.
func TestGuessedClassDoesNotSkewSpeed(t *testing.T) {
	tests := []struct {
		name      string
		slowGuess float64 // actual seconds over the fallback estimate
	}{
		{"guess 100 times too small", 100},
		{"guess 10 times too large", 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Steps 0-19: class "train/analytic/dpo" (shipped 1 s each);
			// steps 20-23: "train/sequence/dpo/sgd", unshipped, so its
			// estimate falls back to the shipped SGD classes' mean.
			var classes []string
			var sizes []float64
			for range 20 {
				classes, sizes = append(classes, "train/analytic/dpo"), append(sizes, 1)
			}
			for range 4 {
				classes, sizes = append(classes, "train/sequence/dpo/sgd"), append(sizes, 1)
			}
			shipped := map[string]float64{"train/analytic/dpo": 1, "train/circular/dpo/sgd": 2}
			m := newCostModel(classes, sizes, func(int) bool { return true }, func(int) (float64, bool) { return 0, false }, shipped)
			guess := m.estimate(20)
			if math.Abs(guess-2) > 1e-12 {
				t.Fatalf("fallback estimate %v, want the SGD classes' mean 2", guess)
			}
			// Half the measured class at exactly its estimate, then one
			// guessed step at slowGuess times its estimate.
			for i := range 10 {
				m.finished(i, 1, true)
			}
			m.finished(20, guess*tc.slowGuess, true)
			others := 0.0
			for i := 10; i < 20; i++ {
				others += m.estimate(i)
			}
			if math.Abs(others-10) > 1e-9 {
				t.Errorf("the measured class's 10 steps left are estimated at %v s, want 10 (its speed is 1)", others)
			}
			if got, want := m.estimate(21), guess*tc.slowGuess; math.Abs(got-want) > 1e-9*want {
				t.Errorf("a guessed step left is estimated at %v s, want %v (its class's observed ratio)", got, want)
			}
			if got, want := m.remaining(), 10+3*guess*tc.slowGuess; math.Abs(got-want) > 1e-9*want {
				t.Errorf("remaining %v s, want %v", got, want)
			}
		})
	}
}
