package tabular

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"hetalign/envs/analytic"
	"hetalign/methods/pairloss"
)

// raise returns θ + t·1_S.
func raise(theta []float64, s []int, t float64) []float64 {
	out := slices.Clone(theta)
	for _, i := range s {
		out[i] += t
	}
	return out
}

// Section 4.3's population (issue 24's reproducer): apo-zero's and
// apo-down's expected losses fall monotonically as π(y3) → 0 (apo-down: as
// π(y2), π(y3) → 0), so the fit must fail naming the alternatives, and the
// l2 it suggests must give a finite fit. The monotone fall is checked on
// the independently written losses (formula).
func TestNoMinimiserSection43(t *testing.T) {
	ds, err := env(t, twoTypes, []float64{1, 1}, nil, 1).PopulationDataset(analytic.Anonymous)
	if err != nil {
		t.Fatal(err)
	}
	ref := []float64{1. / 3, 1. / 3, 1. / 3}
	for _, c := range []struct {
		name string
		up   []int
	}{{"apo-zero", []int{0, 1}}, {"apo-down", []int{0}}} {
		l := lossCase{c.name, 1, 0}.build(t)
		r, err := FitLoss(ds, ref, l, 1, 0)
		var nm *NoMinimiserError
		if !errors.As(err, &nm) {
			t.Fatalf("%s: want a NoMinimiserError, got %v, %v", c.name, r, err)
		}
		if !slices.Equal(nm.Up, c.up) || nm.N != 3 {
			t.Errorf("%s: runs off along %v of %d, want %v", c.name, nm.Up, nm.N, c.up)
		}
		msg := nm.Describe([]string{"y1", "y2", "y3"})
		if !strings.Contains(msg, c.name) || !strings.Contains(msg, `"y3"`) || !strings.Contains(msg, "l2: ") {
			t.Errorf("%s: message %q names neither the method, y3 nor an l2", c.name, msg)
		}
		// The loss falls (never rises) along the direction named.
		f := formula(c.name, 1, 0)
		prev := expectedLoss(ds.Won, ref, make([]float64, 3), 0, f)
		for step := 1; step <= 60; step++ {
			cur := expectedLoss(ds.Won, ref, raise(make([]float64, 3), nm.Up, float64(step)), 0, f)
			if cur > prev+1e-15 {
				t.Errorf("%s: the loss rises from %v to %v at t = %d along %v", c.name, prev, cur, step, nm.Up)
				break
			}
			prev = cur
		}
		if !(nm.L2 > 0) {
			t.Fatalf("%s: no l2 suggested", c.name)
		}
		r, err = FitLoss(ds, ref, l, 1, nm.L2)
		if err != nil {
			t.Fatalf("%s with the suggested l2 = %v: %v", c.name, nm.L2, err)
		}
		if gap := slices.Max(r.LogRatio) - slices.Min(r.LogRatio); gap > SuggestGap || r.Certificate != CertL2 {
			t.Errorf("%s with l2 = %v: gap %v, certificate %q", c.name, nm.L2, gap, r.Certificate)
		}
	}
}

// Robust DPO where a de-noised win rate (p − ε)/(1 − 2ε) leaves (0, 1):
// unbounded below, named, with the rate at which it falls.
func TestNoMinimiserRobust(t *testing.T) {
	ds := &analytic.Dataset{Won: [][]float64{{0, 0.5, 0.02}, {0.5, 0, 0.02}, {0.48, 0.48, 0}}}
	ref := []float64{1. / 3, 1. / 3, 1. / 3}
	_, err := FitLoss(ds, ref, pairloss.Robust(1, 0.1), 1, 0)
	var nm *NoMinimiserError
	if !errors.As(err, &nm) || !strings.Contains(nm.Cause, "unbounded below") {
		t.Fatalf("want unbounded below, got %v", err)
	}
	// Independently: raising Up by t lowers the loss without bound.
	f := formula("robust", 1, 0.1)
	zero := make([]float64, 3)
	if a, b := expectedLoss(ds.Won, ref, raise(zero, nm.Up, 50), 0, f), expectedLoss(ds.Won, ref, raise(zero, nm.Up, 100), 0, f); !(b < a-1) {
		t.Errorf("along %v the loss goes %v → %v: not unbounded below", nm.Up, a, b)
	}
}

// A fit either certifies its minimiser or fails with a NoMinimiserError,
// for every loss kind on random populations (and random sparse data,
// where some alternative may never win): never a policy that merely stays
// under a gap limit. Certified fits are checked independently: stationary
// (finite differences of formula), a local minimum along random
// directions, and, for the recession certificate, the loss rises far
// along every subset of alternatives raised together. Errors naming a
// direction are checked to be flat or falling along it far out.
func TestEveryLossCertifiesOrErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 1))
	cases := append(slices.Clone(smoothCases), lossCase{"hinge", 1, 0})
	var certified, failed int
	for trial := range 24 {
		n := 3 + trial%3
		k := 2 + trial%2
		var ds *analytic.Dataset
		if trial%4 == 3 {
			// sparse data: random win masses, some zero
			w := make([][]float64, n)
			for a := range w {
				w[a] = make([]float64, n)
				for b := range w[a] {
					if a != b && rng.Float64() < 0.6 {
						w[a][b] = rng.Float64()
					}
				}
			}
			ds = &analytic.Dataset{Won: w}
		} else {
			r := make([][]float64, k)
			for u := range r {
				r[u] = make([]float64, n)
				for y := range r[u] {
					r[u][y] = 3 * rng.NormFloat64()
				}
			}
			wt := make([]float64, k)
			for u := range wt {
				wt[u] = 0.2 + rng.Float64()
			}
			var err error
			ds, err = env(t, r, wt, nil, []float64{0.5, 1, 2}[trial%3]).PopulationDataset(analytic.Anonymous)
			if err != nil {
				t.Fatal(err)
			}
		}
		ref := make([]float64, n)
		for y := range ref {
			ref[y] = 1 / float64(n)
		}
		for _, c := range cases {
			l := c.build(t)
			f := formula(c.name, c.beta, c.eps)
			r, err := FitLoss(ds, ref, l, c.beta, 0)
			if err != nil {
				var nm *NoMinimiserError
				if !errors.As(err, &nm) {
					// hinge is an LP: bounded, so it never lacks a minimiser
					t.Errorf("trial %d, %s: error is not a NoMinimiserError: %v", trial, c.name, err)
					continue
				}
				failed++
				if len(nm.Up) > 0 {
					zero := make([]float64, n)
					a := expectedLoss(ds.Won, ref, raise(zero, nm.Up, 40/c.beta), 0, f)
					b := expectedLoss(ds.Won, ref, raise(zero, nm.Up, 80/c.beta), 0, f)
					if b > a+1e-9 {
						t.Errorf("trial %d, %s: the loss rises along the direction named %v (%v → %v)", trial, c.name, nm.Up, a, b)
					}
				}
				continue
			}
			certified++
			if r.Certificate == "" {
				t.Errorf("trial %d, %s: a fit without a certificate", trial, c.name)
			}
			f0 := expectedLoss(ds.Won, ref, r.LogRatio, 0, f)
			if c.name != "hinge" {
				if g := stationarity(ds.Won, ref, r.LogRatio, 0, f); g > 1e-6 {
					t.Errorf("trial %d, %s: finite-difference gradient %.3g at a certified fit", trial, c.name, g)
				}
			}
			for range 2 * n {
				v := make([]float64, n)
				for i := range v {
					v[i] = 1e-3 * rng.NormFloat64()
				}
				th := slices.Clone(r.LogRatio)
				for i := range th {
					th[i] += v[i]
				}
				if f1 := expectedLoss(ds.Won, ref, th, 0, f); f1 < f0-1e-12*math.Max(1, math.Abs(f0)) {
					t.Errorf("trial %d, %s (%s): not a local minimum, %v < %v", trial, c.name, r.Certificate, f1, f0)
					break
				}
			}
			if r.Certificate == CertRecession {
				for mask := 1; mask < 1<<n-1; mask++ {
					var s []int
					for i := range n {
						if mask>>i&1 == 1 {
							s = append(s, i)
						}
					}
					if f1 := expectedLoss(ds.Won, ref, raise(r.LogRatio, s, 200/c.beta), 0, f); !(f1 > f0) {
						t.Errorf("trial %d, %s: certified, but raising %v by 200/β does not raise the loss (%v → %v)", trial, c.name, s, f0, f1)
					}
				}
			}
		}
	}
	t.Logf("%d fits certified, %d failed with NoMinimiserError", certified, failed)
	if certified == 0 || failed == 0 {
		t.Errorf("the populations exercise only one outcome: %d certified, %d failed", certified, failed)
	}
}

// BenchmarkFitLossDiscopop times a non-convex exact fit on a
// 5-alternative population (as in specs/beyond/aggregation.cue): the fit
// from DPO's solution, its certificate and the search for other optima.
func BenchmarkFitLossDiscopop(b *testing.B) {
	e5 := env(b, [][]float64{{1, -2, 0.5, 3, 0}, {-1, 2, 1, -0.5, 0.3}}, []float64{0.3, 0.7}, nil, 1)
	ds, err := e5.PopulationDataset(analytic.Anonymous)
	if err != nil {
		b.Fatal(err)
	}
	ref := []float64{0.2, 0.2, 0.2, 0.2, 0.2}
	l := lossCase{"discopop", 1, 0.05}.build(b)
	for b.Loop() {
		if _, err := FitLoss(ds, ref, l, 1, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// A type's weight is its share of annotators, not of rows (issue 24): when
// type A's annotators label three times as many pairs per head as B's,
// relabelled DPO with the types' weights still lands on π* (τ = 1, β = 1:
// π* ∝ π_ref·e^{r̄}, computed here from the rewards), while weighting by
// rows lands elsewhere.
func TestRelabelWeighsTypesByAnnotators(t *testing.T) {
	e := env(t, twoTypes, []float64{1, 1}, nil, 1)
	ds, err := e.PopulationDataset(analytic.Typed)
	if err != nil {
		t.Fatal(err)
	}
	// A labels 3× as many rows: rescale its rows, renormalise.
	for a := range ds.ByType[0] {
		for b := range ds.ByType[0][a] {
			ds.ByType[0][a][b] *= 3
		}
	}
	var tot float64
	for u := range ds.ByType {
		for a := range ds.ByType[u] {
			for b := range ds.ByType[u][a] {
				tot += ds.ByType[u][a][b]
			}
		}
	}
	for a := range ds.Won {
		for b := range ds.Won[a] {
			ds.Won[a][b] = 0
			for u := range ds.ByType {
				ds.ByType[u][a][b] /= tot / 1
			}
		}
	}
	for u := range ds.ByType {
		for a := range ds.Won {
			for b := range ds.Won[a] {
				ds.Won[a][b] += ds.ByType[u][a][b]
			}
		}
	}
	ref := []float64{1. / 3, 1. / 3, 1. / 3}
	pistar := make([]float64, 3)
	var z float64
	for y := range pistar {
		pistar[y] = ref[y] * math.Exp((twoTypes[0][y]+twoTypes[1][y])/2)
		z += pistar[y]
	}
	tv := func(p []float64) float64 {
		var d float64
		for y := range p {
			d += math.Abs(p[y]-pistar[y]/z) / 2
		}
		return d
	}
	byRows, err := Fit(ds, ref, Config{Kind: "relabel-dpo", Beta: 1})
	if err != nil {
		t.Fatal(err)
	}
	ds.TypeShares = []float64{0.5, 0.5} // one annotator per type
	byAnnotators, err := Fit(ds, ref, Config{Kind: "relabel-dpo", Beta: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := tv(byAnnotators.Policy); d > 1e-9 {
		t.Errorf("weighted by annotators: TV %v from π*", d)
	}
	if d := tv(byRows.Policy); d < 1e-3 {
		t.Errorf("weighted by rows: TV %v from π*, want the row shares' bias", d)
	}
}
