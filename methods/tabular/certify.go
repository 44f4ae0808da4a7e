package tabular

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"hetalign/methods/pairloss"
)

// NoMinimiserError says that a fit has no finite minimiser on its data, or
// that none could be certified: the loss does not increase (or falls) as
// the alternatives Up are raised together against the others, so the
// iterates run off to infinity along that direction. Alternatives are
// indices; Describe writes them with their names.
type NoMinimiserError struct {
	// Method is the loss or kind fitted ("apo-zero", "dpo", …).
	Method string
	// N is the number of alternatives.
	N int
	// Up are the alternatives whose log-ratios the loss pushes up against
	// all the others (raising them together never raises the loss).
	// Empty when no such direction was found (then Cause says why no
	// minimiser could be certified).
	Up []int
	// Cause is the reason in words, without alternative names.
	Cause string
	// L2 is the smallest power of ten for l2 (the centred quadratic prior)
	// with which the fit is finite and its log-ratio gap β·Δθ is at most
	// SuggestGap; 0 when none in [1e-6, 10] is.
	L2 float64
	// Gap is β·(max θ − min θ) of the fit with l2 = L2.
	Gap float64
}

// SuggestGap bounds the log-ratio gap β·Δθ of the fit with the l2 that
// NoMinimiserError suggests (e^20 ≈ 5e8: a policy that is finite but
// very sharp).
const SuggestGap = 20

// Error writes the alternatives as indices (Describe names them).
func (e *NoMinimiserError) Error() string { return e.Describe(nil) }

// Describe writes the error with names[i] for alternative i (indices
// when names is nil or short).
func (e *NoMinimiserError) Describe(names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fitting %s: no finite minimiser", e.Method)
	if len(e.Up) > 0 {
		name := func(i int) string {
			if i < len(names) {
				return fmt.Sprintf("%q", names[i])
			}
			return fmt.Sprintf("alternative %d", i)
		}
		var up, down []string
		for i := range max(e.N, len(names)) {
			if slices.Contains(e.Up, i) {
				up = append(up, name(i))
			} else {
				down = append(down, name(i))
			}
		}
		fmt.Fprintf(&b, ": the loss never rises as the log-ratios of %s grow against those of %s", strings.Join(up, ", "), strings.Join(down, ", "))
		if len(down) > 0 {
			fmt.Fprintf(&b, " (π(%s) → 0)", strings.Join(down, ", "))
		}
	}
	if e.Cause != "" {
		fmt.Fprintf(&b, " (%s)", e.Cause)
	}
	if e.L2 > 0 {
		fmt.Fprintf(&b, "; set l2 (a centred quadratic prior on the log-ratios) to keep it finite: l2: %g gives a log-ratio gap β·Δθ = %.3g", e.L2, e.Gap)
	} else {
		b.WriteString("; a positive l2 (a centred quadratic prior on the log-ratios) keeps convex losses finite")
	}
	return b.String()
}

// suggestL2 fills e.L2 and e.Gap: the smallest l2 = 10^k, k = −6 … 1,
// with which fit succeeds with a gap β·Δθ ≤ SuggestGap.
func (e *NoMinimiserError) suggestL2(beta float64, fit func(l2 float64) (*Result, error)) *NoMinimiserError {
	for k := -6; k <= 1; k++ {
		l2 := math.Pow(10, float64(k))
		r, err := fit(l2)
		if err != nil {
			continue
		}
		gap := beta * (slices.Max(r.LogRatio) - slices.Min(r.LogRatio))
		if gap <= SuggestGap {
			e.L2, e.Gap = l2, gap
			return e
		}
	}
	return e
}

// Certificates: how a fit knows its minimiser exists (Result.Certificate).
const (
	CertL2        = "l2 > 0: the pair losses grow at most linearly, the prior quadratically, so the loss is coercive and has a minimiser"
	CertLP        = "linear programme with objective ≥ 0: bounded and feasible, so an optimal vertex exists"
	CertRecession = "no direction of recession: raising any proper subset of alternatives together raises the loss at a positive rate"
	CertSecond    = "second-order sufficient conditions: gradient ≈ 0, Hessian positive definite (a strict local minimiser)"
)

// slopes returns the asymptotic slopes of a Δ-only loss f(Δ) = ℓ(Δ, 0):
// up = lim f′(z) as z → +∞ and down = lim f′(z) as z → −∞ (per unit of
// ρ_w − ρ_l, β included). They define f's recession function
// f∞(z) = up·z for z > 0 and down·z for z < 0.
func slopes(loss pairloss.Loss, beta float64) (up, down float64) {
	z := 1e4 / beta
	_, d1, _ := loss.Eval(z, 0)
	_, d2, _ := loss.Eval(-z, 0)
	return d1[0], d2[0]
}

// recession tests whether a convex Δ-only loss Σ W[a][b]·f(θ_a − θ_b) has
// a bounded set of minimisers (up to the constant θ is blind to). Its
// recession function is F∞(d) = Σ_{a≠b} c_ab·max(d_a − d_b, 0) with
// c_ab = W[a][b]·up − W[b][a]·down, the rate at which raising a above b
// changes the loss; by the layer-cake formula F∞(d) = ∫ cut(S_t) dt over
// the level sets S_t = {d > t}, with cut(S) = Σ_{a∈S, b∉S} c_ab. The
// minimiser set is non-empty and bounded iff cut(S) > 0 for every proper
// non-empty S. It returns nil when it is, or the error naming an S with
// cut(S) ≤ 0. With every c_ab ≥ 0 the test is strong connectivity of the
// graph a → b (c_ab > 0); otherwise S is searched exhaustively (n ≤ 16)
// and ok is false beyond (no decision).
func recession(w [][]float64, up, down float64) (err *NoMinimiserError, ok bool) {
	n := len(w)
	c := make([][]float64, n)
	var total float64
	neg := false
	for a := range n {
		c[a] = make([]float64, n)
		for b := range n {
			if a != b {
				total += w[a][b]
			}
		}
	}
	tol := 1e-12 * total * (math.Abs(up) + math.Abs(down))
	for a := range n {
		for b := range n {
			if a == b {
				continue
			}
			c[a][b] = w[a][b]*up - w[b][a]*down
			if c[a][b] < -tol {
				neg = true
			}
		}
	}
	if !neg {
		// cut(S) = 0 iff no edge a → b with c_ab > tol leaves S: the set
		// reachable from any vertex is such an S when it is not all.
		for v := range n {
			seen := make([]bool, n)
			seen[v] = true
			stack := []int{v}
			for len(stack) > 0 {
				a := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for b := range n {
					if !seen[b] && c[a][b] > tol {
						seen[b] = true
						stack = append(stack, b)
					}
				}
			}
			var s []int
			for i, x := range seen {
				if x {
					s = append(s, i)
				}
			}
			if len(s) < n {
				return &NoMinimiserError{N: n, Up: s, Cause: "the loss is flat as they rise: in the data they are never beaten by the others, or the loss ignores those pairs"}, true
			}
		}
		return nil, true
	}
	if n > 16 {
		return nil, false
	}
	best, bestCut := 0, math.Inf(1)
	for mask := 1; mask < 1<<n-1; mask++ {
		var cut float64
		for a := range n {
			if mask>>a&1 == 0 {
				continue
			}
			for b := range n {
				if mask>>b&1 == 0 {
					cut += c[a][b]
				}
			}
		}
		if cut < bestCut {
			best, bestCut = mask, cut
		}
	}
	if bestCut > tol {
		return nil, true
	}
	var s []int
	for i := range n {
		if best>>i&1 == 1 {
			s = append(s, i)
		}
	}
	cause := "the loss is flat as they rise"
	if bestCut < -tol {
		cause = fmt.Sprintf("the loss is unbounded below: it falls at rate %.3g per unit of their log-ratio", -bestCut)
	}
	return &NoMinimiserError{N: n, Up: s, Cause: cause}, true
}

// secondOrder certifies a stationary point θ of a smooth loss as a strict
// local minimiser: the reduced Hessian (θ[n−1] pinned) is positive
// definite with its smallest eigenvalue at least 1e-7·β²·ΣW, and the
// Newton step H⁻¹g is below 1e-7 in every coordinate. A point where the
// loss merely saturates (σ′ of a huge gap, ~1e-15) fails the eigenvalue
// test. It returns "" when certified, else why not.
func secondOrder(p rhoProblem, theta []float64, beta float64) string {
	why, _ := secondOrderDir(p, theta, beta)
	return why
}

// secondOrderDir is secondOrder that also returns, when the Hessian has a
// negative eigenvalue (a saddle), its eigenvector in θ (θ[n−1] = 0): the
// direction along which the loss falls away from the saddle.
func secondOrderDir(p rhoProblem, theta []float64, beta float64) (string, []float64) {
	n := len(theta)
	m := n - 1
	g := make([]float64, n)
	h := mat.NewSymDense(n, nil)
	p.eval(theta, g, h)
	hr := mat.NewSymDense(m, nil)
	for i := range m {
		for j := i; j < m; j++ {
			hr.SetSym(i, j, h.At(i, j))
		}
	}
	var total float64
	for a := range n {
		for b := range n {
			if a != b {
				total += p.w[a][b]
			}
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(hr, true) {
		return "the Hessian's eigenvalues could not be computed", nil
	}
	vals := eig.Values(nil)
	k := 0
	for i, v := range vals {
		if v < vals[k] {
			k = i
		}
	}
	lmin := vals[k]
	floor := 1e-7 * beta * beta * total
	if lmin < -floor {
		var vec mat.Dense
		eig.VectorsTo(&vec)
		dir := make([]float64, n)
		for i := range m {
			dir[i] = vec.At(i, k)
		}
		return fmt.Sprintf("a saddle point: the Hessian's smallest eigenvalue is %.3g", lmin), dir
	}
	if !(lmin >= floor) {
		return fmt.Sprintf("the Hessian's smallest eigenvalue is %.3g, below %.3g: the loss is (nearly) flat there", lmin, floor), nil
	}
	var chol mat.Cholesky
	if !chol.Factorize(hr) {
		return "the Hessian is not positive definite", nil
	}
	var step mat.VecDense
	if err := chol.SolveVecTo(&step, mat.NewVecDense(m, g[:m])); err != nil {
		return "the Newton step could not be solved", nil
	}
	for i := range m {
		if math.Abs(step.AtVec(i)) > 1e-7 {
			return fmt.Sprintf("the Newton step is %.3g: not a stationary point", step.AtVec(i)), nil
		}
	}
	return "", nil
}

// escapeSaddle restarts the fit from θ ± t·dir (t = 0.1, 1 in units of
// 1/β) along a direction of negative curvature and returns the certified
// local minimiser of lowest loss, or nil when none certifies.
func escapeSaddle(p rhoProblem, theta, dir []float64, beta float64) ([]float64, int, float64) {
	var best []float64
	var bestF float64
	var iters int
	var gnorm float64
	for _, t := range []float64{0.1, -0.1, 1, -1} {
		start := slices.Clone(theta)
		for i := range start {
			start[i] += t / beta * dir[i]
		}
		th, it, gn, err := fitRhoFrom(p, start)
		iters += it
		if err != nil || secondOrder(p, th, beta) != "" {
			continue
		}
		if f := p.eval(th, nil, nil); best == nil || f < bestF {
			best, bestF, gnorm = th, f, gn
		}
	}
	return best, iters, gnorm
}

// driftDirection finds the direction the iterates run to: the largest gap
// between consecutive sorted log-ratios splits the alternatives, and Up
// (those above the gap) are raised by t = 1, 10, 100. When the loss never
// rises along that ray, it returns the error naming Up; otherwise nil.
func driftDirection(p rhoProblem, theta []float64, beta float64) *NoMinimiserError {
	n := len(theta)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return -cmpFloat(theta[a], theta[b]) })
	cut, gap := 1, -1.0
	for k := 1; k < n; k++ {
		if d := theta[idx[k-1]] - theta[idx[k]]; d > gap {
			cut, gap = k, d
		}
	}
	up := slices.Clone(idx[:cut])
	slices.Sort(up)
	f0 := p.eval(theta, nil, nil)
	th := make([]float64, n)
	for _, t := range []float64{1, 10, 100} {
		copy(th, theta)
		for _, i := range up {
			th[i] += t / beta
		}
		if f := p.eval(th, nil, nil); f > f0+1e-12*math.Max(1, math.Abs(f0)) {
			return nil
		}
	}
	return &NoMinimiserError{N: n, Up: up, Cause: fmt.Sprintf("the fit drifted to a log-ratio gap β·Δθ = %.3g where the loss flattens", beta*(slices.Max(theta)-slices.Min(theta)))}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
