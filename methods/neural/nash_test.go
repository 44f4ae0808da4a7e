package neural

import (
	"math"
	"testing"

	"hetalign/methods/games"
)

// NashTarget is one step of games.Nash: run from the reference, k steps of
// NashTarget reproduce games.Nash's iterate after k steps (its maxIter),
// and at the equilibrium the target is the policy itself (a fixed point,
// up to how far a duality gap of 1e-14 leaves π from it, about
// √(1e-14/τ) = 3e-7).
func TestNashTarget(t *testing.T) {
	cycle := [][]float64{{0.5, 0.7, 0.2}, {0.3, 0.5, 0.9}, {0.8, 0.1, 0.5}}
	ref := []float64{0.2, 0.3, 0.5}
	logRef := []float64{math.Log(0.2), math.Log(0.3), math.Log(0.5)}
	for _, tc := range []struct{ tau, eta float64 }{{0.1, 1}, {1, 0.5}, {0.5, 0.3}} {
		pi := append([]float64(nil), ref...)
		for range 7 {
			pi = NashTarget(cycle, logRef, pi, tc.tau, tc.eta)
		}
		want, _, _ := games.Nash(cycle, ref, tc.tau, tc.eta, 0, 7)
		for y := range pi {
			if math.Abs(pi[y]-want[y]) > 1e-12 {
				t.Errorf("τ %v η %v: 7 steps give %v, games.Nash %v", tc.tau, tc.eta, pi, want)
				break
			}
		}
		eq, _, err := games.Nash(cycle, ref, tc.tau, tc.eta, 1e-14, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		tt := NashTarget(cycle, logRef, eq, tc.tau, tc.eta)
		for y := range eq {
			if math.Abs(tt[y]-eq[y]) > 1e-6 {
				t.Errorf("τ %v η %v: target %v at the equilibrium %v", tc.tau, tc.eta, tt, eq)
				break
			}
		}
	}
}
