package envs

import (
	"math"
	"testing"
)

// The alias table puts exactly w_k/Σw of the unit interval on index k:
// column i (width 1/n) keeps prob[i] of its width for i and gives the rest
// to alias[i]. Draws over an even grid of u reproduce the same shares, and
// an index of weight 0 is never drawn.
func TestCategoricalAlias(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    []float64
	}{
		{"one", []float64{3}},
		{"uniform", []float64{1, 1, 1, 1}},
		{"skewed", []float64{0.01, 5, 0.3, 2, 0.69}},
		{"zeros", []float64{0, 2, 0, 1, 0}},
		{"tiny and huge", []float64{1e-12, 1e6, 1, 1e-3}},
		{"many", func() []float64 {
			w := make([]float64, 1000)
			for i := range w {
				w[i] = float64((i*7919)%13) + 0.5*float64(i%3)
			}
			return w
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCategorical(tc.w)
			if err != nil {
				t.Fatal(err)
			}
			n := len(tc.w)
			var total float64
			for _, w := range tc.w {
				total += w
			}
			mass := make([]float64, n)
			for i := range n {
				mass[i] += c.prob[i] / float64(n)
				mass[c.alias[i]] += (1 - c.prob[i]) / float64(n)
			}
			for k, w := range tc.w {
				if math.Abs(mass[k]-w/total) > 1e-12 {
					t.Errorf("index %d: mass %v, want %v", k, mass[k], w/total)
				}
			}
			const M = 200_000
			count := make([]int, n)
			for j := range M {
				count[c.Draw((float64(j)+0.5)/M)]++
			}
			for k, w := range tc.w {
				// An even grid of M points hits each column piece within
				// one point of its share.
				if got, want := float64(count[k]), M*w/total; math.Abs(got-want) > 2*float64(n)+1 {
					t.Errorf("index %d drawn %v times of %d, want %.1f", k, got, M, want)
				}
				if w == 0 && count[k] > 0 {
					t.Errorf("index %d has weight 0 but was drawn %d times", k, count[k])
				}
			}
			if k := c.Draw(math.Nextafter(1, 0)); k < 0 || k >= n {
				t.Errorf("Draw(1⁻) = %d", k)
			}
		})
	}
}

func TestCategoricalErrors(t *testing.T) {
	for _, w := range [][]float64{nil, {0, 0}, {1, -1}, {1, math.NaN()}, {math.Inf(1)}} {
		if _, err := NewCategorical(w); err == nil {
			t.Errorf("weights %v: no error", w)
		}
	}
}
