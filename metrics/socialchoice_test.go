package metrics

import (
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// population builds the truth of one prompt over alternatives a, b, c
// whose types hold strict rankings: ranks[u] lists type u's alternatives
// best first; rewards 20, 0, −20 make Pr(a ≻ b | u) within 1e-8 of 0 or 1.
func population(t *testing.T, weights []float64, ranks [][3]int) *analytic.Truth {
	t.Helper()
	alts := []string{"a", "b", "c"}
	var rewards [][]float64
	var types []string
	for u, r := range ranks {
		row := make([]float64, 3)
		for pos, y := range r {
			row[y] = 20 - 20*float64(pos)
		}
		rewards = append(rewards, row)
		types = append(types, string(rune('A'+u)))
	}
	third := []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
	weights, err := envs.Normalise(weights)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := analytic.EnvOf(&envs.TruthBase{Alternatives: alts, Types: types, Weights: weights, Rewards: rewards,
		Sampling: third, Reference: third, Beta: 1, Model: "bt", Temperature: 1}).ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Hand-counted social choice on three populations: a Condorcet cycle, a
// Condorcet winner that is not the Borda winner, and a unanimous ranking.
func TestSocialChoice(t *testing.T) {
	names := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name                       string
		weights                    []float64
		ranks                      [][3]int
		borda, copeland, condorcet string
		lottery                    []float64
	}{
		// a>b>c, b>c>a, c>a>b, equal weights: every pair 2:1 in a cycle;
		// all Borda counts ½, Copeland scores 0, the maximal lottery
		// uniform (the game is symmetric under the rotation).
		{"cycle", []float64{1, 1, 1}, [][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}}, "a = b = c", "a = b = c", "none", []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		// 3/5 rank a>b>c and 2/5 b>c>a: a beats b and c 3:2 (Condorcet,
		// and the maximal lottery puts all mass on it), but b's Borda count
		// (½ + 2/5 + 1)/3 = 0.633 beats a's (½ + 3/5 + 3/5)/3 = 0.567.
		{"condorcet not borda", []float64{3, 2}, [][3]int{{0, 1, 2}, {1, 2, 0}}, "b", "a", "a", []float64{1, 0, 0}},
		{"unanimous", []float64{1, 4}, [][3]int{{2, 0, 1}, {2, 0, 1}}, "c", "c", "c", []float64{0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := population(t, tc.weights, tc.ranks)
			if got := Top(names, BordaScores(tr.Pref)); got != tc.borda {
				t.Errorf("Borda winner %s, want %s", got, tc.borda)
			}
			if got := Top(names, CopelandScores(tr.Pref)); got != tc.copeland {
				t.Errorf("Copeland winner %s, want %s", got, tc.copeland)
			}
			c := CondorcetWinner(tr.Pref)
			got := "none"
			if c >= 0 {
				got = names[c]
			}
			if got != tc.condorcet {
				t.Errorf("Condorcet winner %s, want %s", got, tc.condorcet)
			}
			p, err := MaximalLottery(tr.Pref)
			if err != nil {
				t.Fatal(err)
			}
			for y := range p {
				if math.Abs(p[y]-tc.lottery[y]) > 1e-6 {
					t.Errorf("maximal lottery %v, want %v", p, tc.lottery)
					break
				}
			}
			// Its defining property: no alternative beats it in expectation.
			for b := range p {
				var m float64
				for a := range p {
					m += p[a] * (tr.Pref[a][b] - tr.Pref[b][a])
				}
				if m < -1e-9 {
					t.Errorf("alternative %s beats the maximal lottery by %v", names[b], -m)
				}
			}
		})
	}
}

// Distortion on normalised rewards: two types with opposite favourites
// (weights 0.51 and 0.49) have per-type normalised welfare 0.51 and 0.49;
// picking the majority's favourite is optimal (1), the minority's costs
// 0.51/0.49, a coin flip 0.51/0.5.
func TestDistortion(t *testing.T) {
	tr := &analytic.Truth{Alternatives: []string{"x", "y"}, Weights: []float64{0.51, 0.49}, Rewards: [][]float64{{1, 0}, {0, 10}}}
	for _, tc := range []struct {
		pol  []float64
		want float64
	}{{[]float64{1, 0}, 1}, {[]float64{0, 1}, 0.51 / 0.49}, {[]float64{0.5, 0.5}, 0.51 / 0.5}} {
		if got := Distortion(tr, tc.pol); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("π = %v: distortion %v, want %v", tc.pol, got, tc.want)
		}
	}
}
