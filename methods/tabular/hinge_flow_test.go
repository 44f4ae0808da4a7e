package tabular

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/circular"
	"hetalign/methods/pairloss"
)

// hingeValue is H(θ) = Σ_{a≠b} W[a][b]·max(0, m − β(θ_a − θ_b)), written
// out independently of the solvers.
func hingeValue(w [][]float64, theta []float64, beta, m float64) float64 {
	var h float64
	for a := range w {
		for b := range w {
			if a != b {
				h += w[a][b] * math.Max(0, m-beta*(theta[a]-theta[b]))
			}
		}
	}
	return h
}

// checkHingeDual verifies, independently of hingeFlow's own bookkeeping,
// that (θ, f) is a primal–dual optimal pair of the hinge LP: f is feasible
// for (D) (0 ≤ f ≤ W, f = 0 off the support and on the diagonal, flow
// conserved at every node, all to 1e-12·ΣW), complementary slackness holds
// (f_ab < W_ab ⇒ β(θ_a − θ_b) ≥ m; f_ab > 0 ⇒ β(θ_a − θ_b) ≤ m, to 1e-9·m)
// and strong duality H(θ) = m·Σ f holds to 1e-9 relative (plus
// 1e-12·m·ΣW for objectives near 0). Together these certify that θ
// minimises H. It returns H(θ).
func checkHingeDual(t *testing.T, name string, w, flow [][]float64, theta []float64, beta, m float64) float64 {
	t.Helper()
	n := len(w)
	var mass float64
	for a := range n {
		for b := range n {
			if a != b {
				mass += w[a][b]
			}
		}
	}
	tol := 1e-12 * mass
	if len(theta) != n || len(flow) != n {
		t.Fatalf("%s: θ has %d entries and f %d rows for %d alternatives", name, len(theta), len(flow), n)
	}
	var sum float64
	net := make([]float64, n)
	for a := range n {
		if len(flow[a]) != n {
			t.Fatalf("%s: row %d of f has %d entries", name, a, len(flow[a]))
		}
		for b := range n {
			f := flow[a][b]
			if a == b || w[a][b] == 0 {
				if f != 0 {
					t.Errorf("%s: flow %v on %d→%d, which carries no mass", name, f, a, b)
				}
				continue
			}
			if f < -tol || f > w[a][b]+tol {
				t.Errorf("%s: flow %v on %d→%d outside [0, W = %v]", name, f, a, b, w[a][b])
			}
			sum += f
			net[a] -= f
			net[b] += f
			d := beta * (theta[a] - theta[b])
			if f < w[a][b]-tol && d < m-1e-9*m {
				t.Errorf("%s: %d→%d unsaturated (f = %v < W = %v) but β(θ_a − θ_b) = %v < m = %v", name, a, b, f, w[a][b], d, m)
			}
			if f > tol && d > m+1e-9*m {
				t.Errorf("%s: %d→%d carries f = %v > 0 but β(θ_a − θ_b) = %v > m = %v", name, a, b, f, d, m)
			}
		}
	}
	for k, x := range net {
		if math.Abs(x) > tol {
			t.Errorf("%s: flow not conserved at %d: in − out = %v", name, k, x)
		}
	}
	h := hingeValue(w, theta, beta, m)
	if gap := math.Abs(h - m*sum); gap > 1e-9*h+1e-12*m*mass {
		t.Errorf("%s: primal H(θ) = %.17g, dual m·Σf = %.17g (gap %.3g)", name, h, m*sum, gap)
	}
	return h
}

// randomMasses draws an n×n pair-mass matrix: each off-diagonal entry is 0
// with probability zero, else uniform on (0, 1), or a small integer when
// ties is set (degenerate LPs with many optimal vertices).
func randomMasses(rng *rand.Rand, n int, zero float64, ties bool) [][]float64 {
	w := make([][]float64, n)
	for a := range w {
		w[a] = make([]float64, n)
		for b := range w[a] {
			switch {
			case a == b || rng.Float64() < zero:
			case ties:
				w[a][b] = float64(1 + rng.IntN(3))
			default:
				w[a][b] = rng.Float64()
			}
		}
	}
	return w
}

// On random small instances the flow solver's hinge objective equals the
// simplex's (hingeLP) to 1e-9, and its (θ, f) passes the independent
// optimality certificate. θ itself may differ: the minimiser need not be
// unique.
func TestHingeFlowMatchesLP(t *testing.T) {
	tests := []struct {
		n    int
		zero float64
		ties bool
	}{
		{2, 0.3, false}, {3, 0.3, false}, {4, 0.3, false}, {5, 0.3, false}, {6, 0.3, false}, {7, 0.3, false},
		{3, 0.5, true}, {5, 0.2, true}, {7, 0.4, true}, {7, 0, false}, {6, 0.7, false},
	}
	for ti, tc := range tests {
		rng := rand.New(rand.NewPCG(uint64(ti), 17))
		for rep := range 8 {
			w := randomMasses(rng, tc.n, tc.zero, tc.ties)
			for _, beta := range []float64{0.5, 1, 3} {
				name := fmt.Sprintf("n=%d zero=%v ties=%v #%d β=%v", tc.n, tc.zero, tc.ties, rep, beta)
				theta, flow, err := hingeFlow(w, beta, 1)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				h := checkHingeDual(t, name, w, flow, theta, beta, 1)
				ref, err := hingeLP(w, beta, 1)
				if err != nil {
					t.Fatalf("%s: reference LP: %v", name, err)
				}
				if hl := hingeValue(w, ref, beta, 1); math.Abs(h-hl) > 1e-9*math.Max(1, hl) {
					t.Errorf("%s: flow objective %.17g, simplex %.17g", name, h, hl)
				}
			}
		}
	}
}

// Hand-made cases: empty and one-sided data, a 2-cycle, disconnected
// components and unused alternatives (pinned as documented), margins other
// than 1.
func TestHingeFlowCases(t *testing.T) {
	tests := []struct {
		name  string
		w     [][]float64
		beta  float64
		m     float64
		obj   float64   // the optimal H
		theta []float64 // the canonical θ, when given
	}{
		{"empty", [][]float64{{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, 1, 1, 0, []float64{0, 0, 0}},
		{"diagonal only", [][]float64{{5, 0}, {0, 3}}, 1, 1, 0, []float64{0, 0}},
		{"one-sided", [][]float64{{0, 1}, {0, 0}}, 2, 1, 0, []float64{0.5, 0}},
		// 2·max(0, 1 − Δ) + max(0, 1 + Δ) is least (2) on Δ ∈ [−1, 1].
		{"2-cycle", [][]float64{{0, 2}, {1, 0}}, 1, 1, 2, nil},
		{"chain", [][]float64{{0, 1, 0}, {0, 0, 1}, {0, 0, 0}}, 1, 1, 0, []float64{2, 1, 0}},
		// Around a cycle the margins m − βΔ sum to 3m, so H ≥ 3 with
		// equality at θ = 0; the dual sends one unit around the cycle.
		{"3-cycle", [][]float64{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}}, 1, 1, 3, nil},
		{"components", [][]float64{
			{0, 1, 0, 0, 0},
			{0.5, 0, 0, 0, 0},
			{0, 0, 0, 0, 0},
			{0, 0, 0, 0, 2},
			{0, 0, 0, 0, 0},
		}, 1, 1, 1, nil},
		{"margin 2", [][]float64{{0, 2, 0}, {1, 0, 1}, {0, 0, 0}}, 0.5, 2, 4, nil},
		{"margin 0", [][]float64{{0, 2}, {1, 0}}, 1, 0, 0, []float64{0, 0}},
		{"negative margin", [][]float64{{0, 2}, {1, 0}}, 1, -1, 0, []float64{0, 0}},
	}
	for _, tc := range tests {
		theta, flow, err := hingeFlow(tc.w, tc.beta, tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var h float64
		if tc.m > 0 {
			h = checkHingeDual(t, tc.name, tc.w, flow, theta, tc.beta, tc.m)
		} else {
			h = hingeValue(tc.w, theta, tc.beta, tc.m)
		}
		if math.Abs(h-tc.obj) > 1e-12 {
			t.Errorf("%s: H = %v, want %v", tc.name, h, tc.obj)
		}
		for y, want := range tc.theta {
			if math.Abs(theta[y]-want) > 1e-12 {
				t.Errorf("%s: θ = %v, want %v", tc.name, theta, tc.theta)
				break
			}
		}
		if tc.name == "components" {
			// Components {0, 1} and {3, 4} are pinned at their last
			// alternative, 2 is on no arc.
			if theta[1] != 0 || theta[2] != 0 || theta[4] != 0 {
				t.Errorf("components: θ = %v, want θ_1 = θ_2 = θ_4 = 0", theta)
			}
		}
	}
}

// Invalid inputs fail with an error rather than a wrong θ.
func TestHingeFlowErrors(t *testing.T) {
	good := [][]float64{{0, 1}, {1, 0}}
	tests := []struct {
		name    string
		w       [][]float64
		beta, m float64
	}{
		{"ragged", [][]float64{{0, 1}, {1}}, 1, 1},
		{"negative mass", [][]float64{{0, -1}, {1, 0}}, 1, 1},
		{"NaN mass", [][]float64{{0, math.NaN()}, {1, 0}}, 1, 1},
		{"infinite mass", [][]float64{{0, math.Inf(1)}, {1, 0}}, 1, 1},
		{"zero beta", good, 0, 1},
		{"infinite beta", good, math.Inf(1), 1},
		{"NaN margin", good, 1, math.NaN()},
	}
	for _, tc := range tests {
		if _, _, err := hingeFlow(tc.w, tc.beta, tc.m); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// circularPaper is the circular environment of Section 7.2 (n = 40, three
// linear types shifted −10/0/+10, uniform prior, reference and sampling,
// τ = 1, β = 1) with its exact anonymous population statistics.
func circularPaper(tb testing.TB) (*analytic.World, *analytic.Data) {
	tb.Helper()
	const n = 40
	u := make([]float64, n)
	for i := range u {
		u[i] = 1.0 / n
	}
	e := circular.Env{
		N: n,
		Types: []circular.Type{
			{Name: "left", Shift: -10, Scale: 4, Decay: 0.075, Shape: circular.Linear},
			{Name: "center", Shift: 0, Scale: 1.5, Decay: 0.1, Shape: circular.Linear},
			{Name: "right", Shift: 10, Scale: 4, Decay: 0.075, Shape: circular.Linear},
		},
		Weights: []float64{1. / 3, 1. / 3, 1. / 3},
		Prior:   u, Reference: u, Sampling: u,
		Beta: 1, Preference: envs.Preference{Temperature: 1},
	}
	w, err := e.World()
	if err != nil {
		tb.Fatal(err)
	}
	d, err := w.PopulationData(analytic.Anonymous)
	if err != nil {
		tb.Fatal(err)
	}
	return w, d
}

// The circular environment's 40 hinge fits (n = 40, 1,560 arcs each) are
// certified optimal and FitLoss runs through them quickly.
func TestHingeFlowCircular(t *testing.T) {
	w, d := circularPaper(t)
	start := time.Now()
	for x, ds := range d.Prompts {
		for _, beta := range []float64{0.5, 1, 3} {
			theta, flow, err := hingeFlow(ds.Won, beta, 1)
			if err != nil {
				t.Fatalf("prompt %d, β=%v: %v", x, beta, err)
			}
			checkHingeDual(t, fmt.Sprintf("prompt %d, β=%v", x, beta), ds.Won, flow, theta, beta, 1)
		}
	}
	t.Logf("120 circular hinge fits with certificates in %v", time.Since(start))
	start = time.Now()
	for x, ds := range d.Prompts {
		r, err := FitLoss(ds, w.Prompts[x].Reference, pairloss.Hinge(1), 1, 0)
		if err != nil {
			t.Fatalf("prompt %d: %v", x, err)
		}
		if x == 0 {
			t.Logf("prompt 0: hinge θ = %.3g, H = %.6g", r.LogRatio, hingeValue(ds.Won, r.LogRatio, 1, 1))
		}
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("40 FitLoss hinge fits took %v", el)
	} else {
		t.Logf("40 FitLoss hinge fits in %v", el)
	}
}

// BenchmarkHingeFlow40 times one exact hinge fit at n = 40: prompt 0 of
// the circular environment's anonymous population data, β = 1, m = 1.
func BenchmarkHingeFlow40(b *testing.B) {
	_, d := circularPaper(b)
	won := d.Prompts[0].Won
	for b.Loop() {
		if _, _, err := hingeFlow(won, 1, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// hingeLP is the slow reference for hingeFlow, which replaced it in
// FitLoss (minutes at n = 40): it solves
// min_θ Σ_{a≠b} W[a][b]·max(0, margin − β(θ_a − θ_b)) with gonum's dense
// simplex on the standard-form LP over x = (θ⁺, θ⁻, t, s) ≥ 0 with one equality per pair
// with W[a][b] > 0: t_ab − s_ab + β(θ_a − θ_b) = margin, θ = θ⁺ − θ⁻, the
// last alternative pinned to 0 and alternatives in no such pair left at 0.
func hingeLP(w [][]float64, beta, margin float64) ([]float64, error) {
	n := len(w)
	type pair struct{ a, b int }
	var pairs []pair
	used := make([]bool, n)
	for a := range n {
		for b := range n {
			if a != b && w[a][b] > 0 {
				pairs = append(pairs, pair{a, b})
				used[a], used[b] = true, true
			}
		}
	}
	theta := make([]float64, n)
	if len(pairs) == 0 {
		return theta, nil
	}
	col := make([]int, n) // column of θ⁺_y (θ⁻_y follows), −1 when fixed
	nv := 0
	for y := range n {
		col[y] = -1
		if y < n-1 && used[y] {
			col[y] = nv
			nv += 2
		}
	}
	k := len(pairs)
	tCol := nv
	nv += 2 * k
	A := mat.NewDense(k, nv, nil)
	b := make([]float64, k)
	c := make([]float64, nv)
	for r, pr := range pairs {
		if j := col[pr.a]; j >= 0 {
			A.Set(r, j, beta)
			A.Set(r, j+1, -beta)
		}
		if j := col[pr.b]; j >= 0 {
			A.Set(r, j, -beta)
			A.Set(r, j+1, beta)
		}
		A.Set(r, tCol+2*r, 1)
		A.Set(r, tCol+2*r+1, -1)
		b[r] = margin
		c[tCol+2*r] = w[pr.a][pr.b]
	}
	_, x, err := lp.Simplex(c, A, b, 1e-12, nil)
	if err != nil {
		return nil, fmt.Errorf("hinge LP: %w", err)
	}
	for y := range n {
		if j := col[y]; j >= 0 {
			theta[y] = x[j] - x[j+1]
		}
	}
	return theta, nil
}
