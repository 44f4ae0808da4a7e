package bradleyterry

import (
	"math"
	"testing"
)

// Closed forms: two items with wins 3 and 1 give θ_1 − θ_2 = log 3; three
// items whose wins are consistent with strengths 1, 2, 4 (w_ij ∝ π_i/(π_i
// + π_j)) give those strengths back.
func TestMMClosedForms(t *testing.T) {
	th, ok := MM([][]float64{{0, 3}, {1, 0}}, 1e-14, 100_000)
	if !ok || math.Abs(th[0]-th[1]-math.Log(3)) > 1e-12 {
		t.Errorf("two items: %v (converged %v), want a difference of log 3", th, ok)
	}
	pi := []float64{1, 2, 4}
	w := make([][]float64, 3)
	for i := range w {
		w[i] = make([]float64, 3)
		for j := range w[i] {
			if i != j {
				w[i][j] = 10 * pi[i] / (pi[i] + pi[j])
			}
		}
	}
	th, ok = MM(w, 1e-14, 100_000)
	for i := range pi {
		want := math.Log(pi[i]) - (math.Log(1)+math.Log(2)+math.Log(4))/3
		if !ok || math.Abs(th[i]-want) > 1e-10 {
			t.Errorf("item %d: θ %v, want %v (converged %v)", i, th[i], want, ok)
		}
	}
}
