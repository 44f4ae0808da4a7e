package games

import (
	"math"
	"testing"
)

// cycle is a Condorcet cycle: a beats b, b beats c, c beats a, each 2:1.
var cycle = [][]float64{{0.5, 2.0 / 3, 1.0 / 3}, {1.0 / 3, 0.5, 2.0 / 3}, {2.0 / 3, 1.0 / 3, 0.5}}

// condorcet: a beats b and c 3:2, b beats c always.
var condorcet = [][]float64{{0.5, 0.6, 0.6}, {0.4, 0.5, 1}, {0.4, 0, 0.5}}

// Nash-MD closes the duality gap, and its answer is the equilibrium's
// fixed point π ∝ π_ref·exp(P(· ≻ π)/τ) (checked directly); on a cycle
// with a uniform reference the rotation symmetry makes it uniform; as τ
// falls the equilibrium of a population with a Condorcet winner puts
// more and more mass on it.
func TestNash(t *testing.T) {
	uniform := []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
	skewed := []float64{0.2, 0.3, 0.5}
	for _, tc := range []struct {
		name string
		P    [][]float64
		ref  []float64
		tau  float64
	}{{"cycle", cycle, uniform, 0.1}, {"cycle skewed ref", cycle, skewed, 0.05}, {"condorcet", condorcet, uniform, 0.1}, {"condorcet small τ", condorcet, skewed, 0.01}} {
		pi, gap, err := Nash(tc.P, tc.ref, tc.tau, min(1, 1/(2*tc.tau)), 1e-12, 1_000_000)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if gap < -1e-15 || gap > 1e-12 { // ≥ 0 up to rounding
			t.Errorf("%s: gap %v", tc.name, gap)
		}
		// The gap is quadratic in the distance to the equilibrium (it is
		// a KL divergence near it), so a gap of 1e-12 leaves π within
		// about √(1e-12/τ) of the fixed point.
		fp := gibbs(tc.ref, beats(tc.P, pi), tc.tau)
		for y := range pi {
			if math.Abs(fp[y]-pi[y]) > 1e-5 {
				t.Errorf("%s: π = %v is not its own best response %v", tc.name, pi, fp)
				break
			}
		}
		if tc.name == "cycle" {
			for y := range pi {
				if math.Abs(pi[y]-1.0/3) > 1e-9 {
					t.Errorf("cycle: π = %v, want uniform", pi)
				}
			}
		}
	}
	prev := 0.0
	for _, tau := range []float64{1, 0.1, 0.01} {
		pi, _, err := Nash(condorcet, uniform, tau, min(1, 1/(2*tau)), 1e-12, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		if pi[0] <= prev {
			t.Errorf("τ = %v: mass on the Condorcet winner %v, not above %v", tau, pi[0], prev)
		}
		prev = pi[0]
	}
	if prev < 0.9 {
		t.Errorf("τ = 0.01: mass on the Condorcet winner only %v", prev)
	}
}

// The gap of a policy that is not the equilibrium is positive.
func TestGapPositive(t *testing.T) {
	if g := Gap(condorcet, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}, []float64{0, 0.5, 0.5}, 0.1); !(g > 0.01) {
		t.Errorf("gap of a policy without the Condorcet winner: %v", g)
	}
}

func TestWinRates(t *testing.T) {
	p := WinRates([][]float64{{0.1, 0.3, 0}, {0.1, 0, 0}, {0, 0, 0.2}})
	if math.Abs(p[0][1]-0.75) > 1e-15 || math.Abs(p[1][0]-0.25) > 1e-15 || p[0][2] != 0.5 || p[2][2] != 0.5 {
		t.Errorf("win rates %v", p)
	}
}
