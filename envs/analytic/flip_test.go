package analytic

import (
	"math"
	"math/rand/v2"
	"testing"
)

// For three alternatives, compare the LP with a brute-force search over a
// grid of q: the LP optimum is never worse than the best grid point, and
// the best grid point is within the grid's resolution of it.
func TestMinFlipAgainstGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const step = 0.002
	checked := 0
	for trial := 0; checked < 12 && trial < 200; trial++ {
		rew := make([][]float64, 3)
		for u := range rew {
			rew[u] = []float64{rng.NormFloat64() * 2, rng.NormFloat64() * 2, rng.NormFloat64() * 2}
		}
		e := newEnv(t, rew, []float64{1 + rng.Float64(), 1 + rng.Float64(), 1 + rng.Float64()}, nil, 1)
		pref := e.PrefMatrix()
		s, err := NBCSensitivity(pref, DefaultFlipParams)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range s.Pairs {
			best := math.Inf(1)
			for a := step; a < 1; a += step {
				for b := step; a+b < 1; b += step {
					q := []float64{a, b, 1 - a - b}
					nbc := NBC(pref, q)
					if nbc[f.Below]-nbc[f.Above] >= DefaultFlipParams.Delta {
						tv := (math.Abs(a-1./3) + math.Abs(b-1./3) + math.Abs(1-a-b-1./3)) / 2
						best = math.Min(best, tv)
					}
				}
			}
			switch {
			case !f.Feasible && !math.IsInf(best, 1):
				t.Fatalf("LP says infeasible, grid found TV %v", best)
			case f.Feasible && math.IsInf(best, 1):
				// The optimum may sit closer to the boundary than the grid reaches.
				if f.TV < 0.6 {
					t.Fatalf("LP found TV %v, grid found nothing", f.TV)
				}
			case f.Feasible:
				if f.TV > best+1e-9 || best-f.TV > 3*step {
					t.Fatalf("LP TV %v, grid TV %v", f.TV, best)
				}
				checked++
			}
		}
	}
	if checked < 12 {
		t.Fatalf("only %d feasible pairs compared", checked)
	}
}

// Homogeneous preferences: NBC follows the reward under every D, so no
// distribution flips any pair and every LP is infeasible.
func TestHomogeneousCannotFlip(t *testing.T) {
	r := []float64{0.3, -1, 2, 0.7}
	e := newEnv(t, [][]float64{r, r}, []float64{1, 3}, nil, 1)
	s, err := NBCSensitivity(e.PrefMatrix(), DefaultFlipParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pairs) != 6 {
		t.Fatalf("%d ordered pairs, want 6", len(s.Pairs))
	}
	for _, f := range s.Pairs {
		if f.Feasible {
			t.Errorf("pair (%d, %d) flips with TV %v", f.Above, f.Below, f.TV)
		}
	}
	if s.Min.Feasible || s.Top.Feasible {
		t.Error("summary says a flip exists")
	}
}

// The paper's sensitivity example: moving D(y3) from 0.02 to 0.04 flips
// y1/y2, so some distribution within TV ≈ 0.31 of uniform (D(y3) = 0.02
// is ½(|0.49−⅓|·2 + |0.02−⅓|) ≈ 0.313 away) flips the pair; the LP
// optimum can only be smaller.
func TestFlipWithinPaperExample(t *testing.T) {
	e := newEnv(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1)
	pref := e.PrefMatrix()
	nbc := NBC(pref, e.Sampling)
	above, below := 0, 1
	if nbc[1] > nbc[0] {
		above, below = 1, 0
	}
	f, err := MinFlip(pref, above, below, DefaultFlipParams)
	if err != nil || !f.Feasible {
		t.Fatalf("flip %+v, %v", f, err)
	}
	if err := CheckFlip(pref, f, DefaultFlipParams, 1e-9); err != nil {
		t.Fatal(err)
	}
	d := 0.02
	bound := (2*math.Abs((1-d)/2-1./3) + math.Abs(d-1./3)) / 2
	if f.TV > bound {
		t.Errorf("LP TV %v exceeds a known flipping distribution's TV %v", f.TV, bound)
	}
}

func TestCheckFlipRejects(t *testing.T) {
	e := newEnv(t, [][]float64{{6, 1, 4}, {3, 9, 4}}, []float64{1, 1}, nil, 1)
	pref := e.PrefMatrix()
	bad := Flip{Above: 0, Below: 1, Feasible: true, TV: 0, Q: []float64{1. / 3, 1. / 3, 1. / 3}}
	if CheckFlip(pref, bad, DefaultFlipParams, 1e-9) == nil {
		t.Error("uniform q accepted as a flip")
	}
}
