package bradleyterry

import (
	"math"
	"strings"
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

// Davidson's model on two items is saturated (two parameters, two free
// outcome probabilities), so the maximum-likelihood fit reproduces the
// observed frequencies: with a wins of item 0, b of item 1 and c ties,
// π_0/π_1 = a/b and ν = c/√(ab).
func TestDavidsonTwoItems(t *testing.T) {
	for _, tc := range []struct{ a, b, c float64 }{{3, 1, 2}, {5, 5, 1}, {1, 7, 10}} {
		th, nu, err := Davidson([][]float64{{0, tc.a}, {tc.b, 0}}, [][]float64{{0, tc.c}, {0, 0}}, 1e-13, 100)
		if err != nil {
			t.Fatal(err)
		}
		if d := th[0] - th[1]; math.Abs(d-math.Log(tc.a/tc.b)) > 1e-10 {
			t.Errorf("%v: θ0 − θ1 = %v, want log(a/b) = %v", tc, d, math.Log(tc.a/tc.b))
		}
		if want := tc.c / math.Sqrt(tc.a*tc.b); math.Abs(nu-want) > 1e-10*want {
			t.Errorf("%v: ν = %v, want c/√(ab) = %v", tc, nu, want)
		}
	}
}

// Davidson's fit exists only with ties and non-ties, and when no set of
// items avoids beating and tying the rest.
func TestDavidsonErrors(t *testing.T) {
	w := [][]float64{{0, 2, 1}, {1, 0, 1}, {1, 1, 0}}
	for _, tc := range []struct {
		name string
		w, t [][]float64
		want string
	}{
		{"no ties", w, nil, "without ties"},
		{"only ties", [][]float64{{0, 0}, {0, 0}}, [][]float64{{0, 3}, {0, 0}}, "every comparison is a tie"},
		// Item 2 beats both others and is never beaten nor tied; 0 and 1 tie.
		{"unbeaten", [][]float64{{0, 1, 0}, {1, 0, 0}, {2, 2, 0}}, [][]float64{{0, 1, 0}, {0, 0, 0}, {0, 0, 0}}, "never beat or tie"},
	} {
		_, _, err := Davidson(tc.w, tc.t, 1e-12, 100)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// A tie linking the otherwise unbeaten item makes the fit exist.
	if _, _, err := Davidson([][]float64{{0, 1, 0}, {1, 0, 0}, {2, 2, 0}}, [][]float64{{0, 1, 1}, {0, 0, 0}, {0, 0, 0}}, 1e-12, 100); err != nil {
		t.Errorf("tied in: %v", err)
	}
}
