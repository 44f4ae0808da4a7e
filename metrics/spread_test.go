package metrics

import (
	"math"
	"testing"

	"hetalign/envs/analytic"
)

// Pearson and Spearman against hand computations: a perfect linear
// relation (1), its reverse (−1), a monotone but non-linear one (Spearman
// 1, Pearson below 1), ties by mid-ranks, and a constant vector
// (undefined).
func TestCorrelations(t *testing.T) {
	tests := []struct {
		name         string
		a, b         []float64
		pearson, spr float64
		ok           bool
	}{
		{"linear", []float64{1, 2, 3, 4}, []float64{3, 5, 7, 9}, 1, 1, true},
		{"reversed", []float64{1, 2, 3}, []float64{3, 2, 1}, -1, -1, true},
		// b = a³ on (−1, 0, 1, 2): mean a = ½, mean b = 2; Σ(a−ā)(b−b̄) =
		// (−1.5)(−3) + (−.5)(−2) + (.5)(−1) + (1.5)(6) = 14; Σ(a−ā)² = 5;
		// Σ(b−b̄)² = 9 + 4 + 1 + 36 = 50: r = 14/√250.
		{"cubic", []float64{-1, 0, 1, 2}, []float64{-1, 0, 1, 8}, 14 / math.Sqrt(250), 1, true},
		// ranks of b (1, 2.5, 2.5, 4) against (1, 2, 3, 4): Σ(a−ā)(b−b̄) =
		// 2.25 + 0 + 0 + 2.25 = 4.5 over √(5·4.5).
		{"ties", []float64{1, 2, 3, 4}, []float64{0, 1, 1, 5}, -1, 4.5 / math.Sqrt(5*4.5), true},
		{"constant", []float64{1, 2, 3}, []float64{2, 2, 2}, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := Pearson(tc.a, tc.b)
			if ok != tc.ok || ok && tc.pearson != -1 && math.Abs(p-tc.pearson) > 1e-12 {
				t.Errorf("Pearson = %v, %v; want %v, %v", p, ok, tc.pearson, tc.ok)
			}
			s, ok := Spearman(tc.a, tc.b)
			if ok != tc.ok || ok && math.Abs(s-tc.spr) > 1e-12 {
				t.Errorf("Spearman = %v, %v; want %v, %v", s, ok, tc.spr, tc.ok)
			}
		})
	}
}

// RewardSpread on two types of weights ¼ and ¾: each alternative's spread
// is √(w₁w₂)·|r₁ − r₂| = (√3/4)·|r₁ − r₂|.
func TestRewardSpread(t *testing.T) {
	tr := &analytic.Truth{Alternatives: []string{"a", "b", "c"}, Weights: []float64{0.25, 0.75},
		Rewards: [][]float64{{1, 0, 2}, {1, 4, -2}}}
	got := RewardSpread(tr)
	for y, want := range []float64{0, 4 * math.Sqrt(3) / 4, 4 * math.Sqrt(3) / 4} {
		if math.Abs(got[y]-want) > 1e-12 {
			t.Errorf("spread of %d = %v, want %v", y, got[y], want)
		}
	}
}

// ComputeMethod's σ metrics: a σ equal to the reward spread correlates
// perfectly (1), its reverse order by ranks at −1, and a method without
// σ has none.
func TestSigmaMetrics(t *testing.T) {
	tr := &analytic.Truth{Alternatives: []string{"a", "b", "c"}, Weights: []float64{0.5, 0.5},
		Rewards: [][]float64{{0, 1, 3}, {0, 2, 0}}, Reference: []float64{1. / 3, 1. / 3, 1. / 3},
		PiStar: []float64{1. / 3, 1. / 3, 1. / 3}, AvgReward: []float64{0, 1.5, 1.5}}
	w := analytic.Single(tr)
	spread := RewardSpread(tr) // 0, 0.5, 1.5
	pol := [][]float64{{1. / 3, 1. / 3, 1. / 3}}
	lr := [][]float64{{0, 0, 0}}
	names := []string{"sigma", "sigma_pearson", "sigma_spearman"}
	for _, tc := range []struct {
		name          string
		sigma         [][]float64
		pearson, rank float64
		none          bool
	}{
		{"equal to the spread", [][]float64{spread}, 1, 1, false},
		{"reversed", [][]float64{{3, 2, 0}}, -1, -1, false},
		{"no σ", nil, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ComputeMethod(w, &Trained{Policy: pol, LogRatio: lr, Sigma: tc.sigma}, names)
			if err != nil {
				t.Fatal(err)
			}
			if tc.none {
				for _, n := range names {
					if !got[n].None {
						t.Errorf("%s = %v, want none", n, got[n])
					}
				}
				return
			}
			if math.Abs(got["sigma_spearman"].Number-tc.rank) > 1e-12 {
				t.Errorf("sigma_spearman = %v, want %v", got["sigma_spearman"].Number, tc.rank)
			}
			if tc.pearson == 1 && math.Abs(got["sigma_pearson"].Number-1) > 1e-12 {
				t.Errorf("sigma_pearson = %v, want 1", got["sigma_pearson"].Number)
			}
			if tc.pearson == -1 && !(got["sigma_pearson"].Number < 0) {
				t.Errorf("sigma_pearson = %v, want negative", got["sigma_pearson"].Number)
			}
		})
	}
}
