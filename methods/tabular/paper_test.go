package tabular

import (
	"math"
	"testing"

	"hetalign/envs/analytic"
)

// The worked examples of Section 4.3 and Appendix A, computed exactly.
// Each claim is the paper's; nothing here was read off our own output.

// Two equally weighted types: r(·;A) = (6, 1, 4), r(·;B) = (3, 9, 4).
var twoTypes = [][]float64{{6, 1, 4}, {3, 9, 4}}

func TestPaperSensitivityToD(t *testing.T) {
	// D(y1) = D(y2); raising D(y3) from 0.02 to 0.04 flips DPO from y2 to y1.
	tests := []struct {
		d3       float64
		prefersA bool // π_DPO(y1) > π_DPO(y2)
	}{
		{0.02, false},
		{0.04, true},
	}
	var piStar []float64
	for _, tc := range tests {
		e := env(t, twoTypes, []float64{1, 1}, []float64{(1 - tc.d3) / 2, (1 - tc.d3) / 2, tc.d3}, 1)
		r := fitDPO(t, e)
		if got := r.Policy[0] > r.Policy[1]; got != tc.prefersA {
			t.Errorf("D(y3) = %v: π_DPO = %v, want y1 preferred: %v", tc.d3, r.Policy, tc.prefersA)
		}
		// π* does not depend on D.
		if piStar == nil {
			piStar = e.OptimalPolicy()
		} else if d := math.Abs(e.OptimalPolicy()[0] - piStar[0]); d > 0 {
			t.Errorf("π* moved with D by %g", d)
		}
	}
}

// The flip point has a closed form: with D = ((1−d)/2, (1−d)/2, d),
// NBC(y1) − NBC(y2) = (1−d)/2·A + d·B with A = P11 + P12 − P21 − P22 and
// B = P13 − P23, zero at d* = A/(A − 2B); DPO's order follows NBC.
func TestPaperFlipPoint(t *testing.T) {
	e := env(t, twoTypes, []float64{1, 1}, nil, 1)
	p := e.PrefMatrix()
	A := p[0][0] + p[0][1] - p[1][0] - p[1][1]
	B := p[0][2] - p[1][2]
	dstar := A / (A - 2*B)
	if !(dstar > 0.02 && dstar < 0.04) {
		t.Fatalf("flip point d* = %v outside (0.02, 0.04)", dstar)
	}
	for _, d := range []float64{dstar - 1e-6, dstar + 1e-6} {
		e := env(t, twoTypes, []float64{1, 1}, []float64{(1 - d) / 2, (1 - d) / 2, d}, 1)
		r := fitDPO(t, e)
		if (r.Policy[0] > r.Policy[1]) != (d > dstar) {
			t.Errorf("at D(y3) = d* %+g, π_DPO = %v", d-dstar, r.Policy)
		}
	}
}

func TestPaperTemperatureFlip(t *testing.T) {
	// Uniform D: τ = 1 → DPO prefers y1 over y2; τ = 2 → y2 over y1; π* fixed.
	for _, tc := range []struct {
		tau      float64
		prefersA bool
	}{{1, true}, {2, false}} {
		e := env(t, twoTypes, []float64{1, 1}, nil, tc.tau)
		r := fitDPO(t, e)
		if got := r.Policy[0] > r.Policy[1]; got != tc.prefersA {
			t.Errorf("τ = %v: π_DPO = %v, want y1 preferred: %v", tc.tau, r.Policy, tc.prefersA)
		}
		if pi := e.OptimalPolicy(); !(pi[1] > pi[0]) {
			t.Errorf("τ = %v: π* = %v should prefer y2 (r̄ = 4.5, 5, 4)", tc.tau, pi)
		}
	}
}

func TestPaperMediocrity(t *testing.T) {
	// short, med, long; A likes long, B short, C slightly med.
	e := env(t, [][]float64{{0, 1, 4}, {4, 1, 0}, {0, 1, 0}}, []float64{1, 1, 1}, nil, 1)
	pi := e.OptimalPolicy()
	nbc := analytic.NBC(e.PrefMatrix(), e.Sampling)
	if !(math.Abs(pi[0]-pi[2]) < 1e-15 && pi[0] > pi[1]) {
		t.Errorf("π* = %v, want π*(short) = π*(long) > π*(med)", pi)
	}
	if !(math.Abs(nbc[0]-nbc[2]) < 1e-15 && nbc[0] < nbc[1]) {
		t.Errorf("NBC = %v, want NBC(short) = NBC(long) < NBC(med)", nbc)
	}
	r := fitDPO(t, e)
	if !(r.Policy[1] > r.Policy[0] && r.Policy[1] > r.Policy[2]) {
		t.Errorf("π_DPO = %v, want med preferred", r.Policy)
	}
}

func TestPaperIIA(t *testing.T) {
	// Without y3: both π* and NBC prefer y2.
	e2 := env(t, [][]float64{{6, 1}, {3, 9}}, []float64{1, 1}, nil, 1)
	nbc2 := analytic.NBC(e2.PrefMatrix(), e2.Sampling)
	if pi := e2.OptimalPolicy(); !(pi[1] > pi[0] && nbc2[1] > nbc2[0]) {
		t.Errorf("two alternatives: π* = %v, NBC = %v, want both to prefer y2", pi, nbc2)
	}
	// With y3 (reward 2 for both): NBC(y1) ≈ 0.62 > NBC(y2) ≈ 0.55, π* still y2.
	e3 := env(t, [][]float64{{6, 1, 2}, {3, 9, 2}}, []float64{1, 1}, nil, 1)
	nbc3 := analytic.NBC(e3.PrefMatrix(), e3.Sampling)
	if math.Round(nbc3[0]*100) != 62 || math.Round(nbc3[1]*100) != 55 {
		t.Errorf("NBC = %v, want ≈ (0.62, 0.55, ·)", nbc3)
	}
	if pi := e3.OptimalPolicy(); !(pi[1] > pi[0]) {
		t.Errorf("π* = %v should still prefer y2", pi)
	}
	if r := fitDPO(t, e3); !(r.Policy[0] > r.Policy[1]) {
		t.Errorf("π_DPO = %v should now prefer y1", r.Policy)
	}
}

func TestPaperTyranny(t *testing.T) {
	// A (90%) slightly prefers y2; B (10%) finds y2 offensive.
	e := env(t, [][]float64{{0.5, 1}, {0.5, -10}}, []float64{0.9, 0.1}, nil, 1)
	nbc := analytic.NBC(e.PrefMatrix(), e.Sampling)
	if math.Round(nbc[0]*100) != 47 || math.Round(nbc[1]*100) != 53 {
		t.Errorf("NBC = %v, want ≈ (0.47, 0.53)", nbc)
	}
	if pi := e.OptimalPolicy(); !(pi[0] > pi[1]) {
		t.Errorf("π* = %v should prefer y1", pi)
	}
	if r := fitDPO(t, e); !(r.Policy[1] > r.Policy[0]) {
		t.Errorf("π_DPO = %v should prefer y2 (the majority)", r.Policy)
	}
}
