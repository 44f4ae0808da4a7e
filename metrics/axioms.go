package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"hetalign/envs/analytic"
)

// Axioms of social choice checked on a method's population policy.
//
// Each axiom lives in its own file (axiom_*.go) and registers two metrics
// through RegisterAxiom: axiom_NAME, 1 when the axiom holds on the
// evaluated population, 0 when it is violated and none when it does not
// apply (no Condorcet winner, one type, …); and axiom_NAME_witness, the
// violating population, shrunk to the fewest alternatives and types on
// which the method still violates the axiom, as text (none when it holds).
//
// The checks compare the method's induced order, the log-ratio θ(y) =
// log π(y)/π_ref(y) (Eq. 14's implicit reward up to β), with a tolerance
// orderTol, and its probabilities with massTol. Axioms that vary the
// population (an alternative removed or cloned, a reward raised, D
// changed, the population split) fit the method again on each variation
// through Refit, the method's own exact population fit: the variations
// are truths derived from the evaluated one (the same env with one thing
// changed). All of them need a one-prompt World.

// orderTol is the log-ratio difference under which two alternatives count
// as tied in a method's order: the exact fits reach the optimum's log-ratios
// to about 1e-8 (L-BFGS and Newton stop at gradient 1e-10 on these
// problems), so differences below 1e-6 are numerical, not the method's.
const orderTol = 1e-6

// massTol is the probability difference under which two policies count as
// giving an alternative the same mass, and the mass under which an
// alternative counts as dropped (a lottery's zero). The iterative fits
// (group-dpo's minimax, nash's mirror descent) reach π to about 1e-7, so
// smaller changes are the solver's, not the method's.
const massTol = 1e-6

// Refit fits the evaluated method again, by its exact population fit, on
// a World derived from the evaluated one; key names the variation (equal
// keys are equal worlds, so a Refit may memoise). Nil when the evaluation
// carries no method to refit (then axioms that vary the population are
// none and witnesses are not shrunk).
type Refit func(key string, w *analytic.World) (*Trained, error)

// Verdict is an axiom's answer on one population.
type Verdict struct {
	// Applies is false when the axiom says nothing about the population.
	Applies bool
	// Holds is true when the method satisfies it there.
	Holds bool
	// Detail says how it is violated ("y1 is the Condorcet winner but …").
	Detail string
	// Values are the axiom's extra metrics (by name).
	Values map[string]Value
}

func holds() Verdict         { return Verdict{Applies: true, Holds: true} }
func notApplicable() Verdict { return Verdict{} }
func violated(format string, args ...any) Verdict {
	return Verdict{Applies: true, Detail: fmt.Sprintf(format, args...)}
}

// Case is one population and the method's fit on it.
type Case struct {
	Truth  *analytic.Truth
	Policy []float64
	// Theta is the centred log-ratio log π/π_ref.
	Theta []float64
	refit Refit
}

// CanRefit reports whether the case can fit the method on variations.
func (c *Case) CanRefit() bool { return c.refit != nil }

// Fit fits the method on a population derived from the case's.
func (c *Case) Fit(t *analytic.Truth) (*Case, error) {
	if c.refit == nil {
		return nil, fmt.Errorf("no refit")
	}
	m, err := c.refit(truthKey(t), analytic.Single(t))
	if err != nil {
		return nil, &RefitError{Err: err}
	}
	if len(m.Policy) != 1 || len(m.Policy[0]) != len(t.Alternatives) {
		return nil, fmt.Errorf("refit on %d alternatives returned a policy of the wrong shape", len(t.Alternatives))
	}
	return &Case{Truth: t, Policy: m.Policy[0], Theta: m.LogRatio[0], refit: c.refit}, nil
}

// RefitError is a method's failure to fit a variation (a loss with no
// finite or unique minimiser there, as apo-zero's on an exact clone): the
// axiom is then none on that population rather than a failed step.
type RefitError struct{ Err error }

func (e *RefitError) Error() string { return "refit: " + e.Err.Error() }
func (e *RefitError) Unwrap() error { return e.Err }

// truthKey identifies a derived population by everything a fit can read.
func truthKey(t *analytic.Truth) string {
	return fmt.Sprint(t.Alternatives, t.Weights, t.Rewards, t.Sampling, t.Reference, t.Beta, t.Temperature)
}

// Axiom is one registered axiom check.
type Axiom struct {
	// Name: the metrics are axiom_Name and axiom_Name_witness.
	Name string
	// Doc states the property tested.
	Doc string
	// MinAlternatives and MinTypes bound the witness shrinking: the
	// smallest population on which the axiom can fail.
	MinAlternatives, MinTypes int
	// Extra are further metrics the check reports in Verdict.Values.
	Extra []Info
	// Variations are the families of derived populations (variations.go)
	// whose fits Check reads on every population: the planner computes
	// them in refit steps.
	Variations []string
	// Check evaluates the axiom on a case.
	Check func(c *Case) (Verdict, error)
}

var axioms []Axiom

// RegisterAxiom adds an axiom and its metrics (at init).
func RegisterAxiom(a Axiom) {
	for _, b := range axioms {
		if b.Name == a.Name {
			panic("metrics.RegisterAxiom: duplicate axiom " + a.Name)
		}
	}
	axioms = append(axioms, a)
	if baseRegistered {
		registerAxiomInfos(a)
	}
}

// baseRegistered is set once metrics.go's init has registered the base
// metrics: the axiom files' inits run before it (file order), and their
// metrics are listed after the base ones.
var baseRegistered bool

// registerAxiomInfos registers an axiom's metrics.
func registerAxiomInfos(a Axiom) {
	Register(Info{"axiom_" + a.Name, Method, Number, a.Doc + " (1 holds, 0 violated, none: does not apply); one-prompt worlds", NeedsRefit})
	Register(Info{"axiom_" + a.Name + "_witness", Method, Text, "the population violating axiom_" + a.Name + ", shrunk to the fewest alternatives and types that still violate it: 'aN tM | rewards …; policy …; what fails' (none when it holds)", NeedsRefit})
	for _, e := range a.Extra {
		Register(e)
	}
}

// NeedsRefit is Info.Needs of metrics that fit the method again on
// variations of the world: computed only when a spec names them.
const NeedsRefit = "refit"

// axiomOf finds the axiom behind a metric name: the axiom, and whether the
// name is its witness or one of its extras.
func axiomOf(name string) (Axiom, bool) {
	for _, a := range axioms {
		if name == "axiom_"+a.Name || name == "axiom_"+a.Name+"_witness" {
			return a, true
		}
		for _, e := range a.Extra {
			if e.Name == name {
				return a, true
			}
		}
	}
	return Axiom{}, false
}

// computeAxioms fills out with the axiom metrics among names.
func computeAxioms(w *analytic.World, m *Trained, names []string, refit Refit, out map[string]Value) error {
	if refit != nil {
		refit = memo(refit) // one memo for every axiom: clones and clone_mass fit the same clones
	}
	var done []string
	for _, n := range names {
		a, ok := axiomOf(n)
		if !ok || slices.Contains(done, a.Name) {
			continue
		}
		done = append(done, a.Name)
		vals, err := EvaluateAxiom(a, w, m, refit)
		if err != nil {
			return fmt.Errorf("axiom %s: %w", a.Name, err)
		}
		for k, v := range vals {
			if slices.Contains(names, k) {
				out[k] = v
			}
		}
	}
	return nil
}

// EvaluateAxiom checks axiom a on the method's fit m of world w and, when
// it is violated and refit is set, shrinks the witness: it removes
// alternatives, then types, one at a time (first in table order), keeping
// each removal on which the method — fitted again — still violates the
// axiom, until none can go.
func EvaluateAxiom(a Axiom, w *analytic.World, m *Trained, refit Refit) (map[string]Value, error) {
	out := map[string]Value{"axiom_" + a.Name: NA(), "axiom_" + a.Name + "_witness": NA()}
	for _, e := range a.Extra {
		out[e.Name] = NA()
	}
	if len(w.Prompts) != 1 {
		return out, nil
	}
	if w.Observed != nil {
		refit = nil // real comparisons: a variation has no data of its own
	}
	if refit != nil {
		refit = memo(refit)
	}
	c := &Case{Truth: w.Prompts[0], Policy: m.Policy[0], Theta: m.LogRatio[0], refit: refit}
	v, err := a.Check(c)
	if re := (*RefitError)(nil); errors.As(err, &re) {
		return out, nil // the method has no optimum on a variation: none
	}
	if err != nil {
		return nil, err
	}
	for k, x := range v.Values {
		out[k] = x
	}
	if !v.Applies {
		return out, nil
	}
	if v.Holds {
		out["axiom_"+a.Name] = Num(1)
		return out, nil
	}
	out["axiom_"+a.Name] = Num(0)
	wc, wv := c, v
	if refit != nil {
		if wc, wv, err = shrink(a, c, v); err != nil {
			return nil, err
		}
	}
	out["axiom_"+a.Name+"_witness"] = Str(Witness(wc, wv.Detail))
	return out, nil
}

// memo remembers a Refit's answers by key.
func memo(f Refit) Refit {
	seen := map[string]*Trained{}
	return func(key string, w *analytic.World) (*Trained, error) {
		if m, ok := seen[key]; ok {
			return m, nil
		}
		m, err := f(key, w)
		if err != nil {
			return nil, err
		}
		seen[key] = m
		return m, nil
	}
}

// shrink removes alternatives and then types from a violating case while
// the refitted method still violates the axiom.
func shrink(a Axiom, c *Case, v Verdict) (*Case, Verdict, error) {
	minAlt, minTypes := max(a.MinAlternatives, 2), max(a.MinTypes, 1)
	for changed := true; changed; {
		changed = false
		t := c.Truth
		var cands []*analytic.Truth
		if len(t.Alternatives) > minAlt {
			for y := range t.Alternatives {
				cands = append(cands, WithoutAlternative(t, y))
			}
		}
		if len(t.Types) > minTypes {
			for u := range t.Types {
				keep := make([]int, 0, len(t.Types)-1)
				for k := range t.Types {
					if k != u {
						keep = append(keep, k)
					}
				}
				cands = append(cands, SubPopulation(t, keep))
			}
		}
		for _, t2 := range cands {
			c2, err := c.Fit(t2)
			if re := (*RefitError)(nil); errors.As(err, &re) {
				continue // no optimum on the smaller population: keep looking
			}
			if err != nil {
				return nil, Verdict{}, err
			}
			v2, err := a.Check(c2)
			if re := (*RefitError)(nil); errors.As(err, &re) {
				continue
			}
			if err != nil {
				return nil, Verdict{}, err
			}
			if v2.Applies && !v2.Holds {
				c, v, changed = c2, v2, true
				break
			}
		}
	}
	return c, v, nil
}

// Witness renders a violating population: its size "aN tM" first (so that
// the least witness in byte order has the fewest alternatives, then
// types), each type's rewards and weight, the method's policy, and what
// fails.
func Witness(c *Case, detail string) string {
	t := c.Truth
	var b strings.Builder
	fmt.Fprintf(&b, "a%d t%d | rewards", len(t.Alternatives), len(t.Types))
	for u, ty := range t.Types {
		if u > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s (w %.3g):", ty, t.Weights[u])
		for y, a := range t.Alternatives {
			fmt.Fprintf(&b, " %s %.3g", a, t.Rewards[u][y])
		}
	}
	b.WriteString(" | policy")
	for y, a := range t.Alternatives {
		fmt.Fprintf(&b, " %s %.3g", a, c.Policy[y])
	}
	if !uniform(t.Sampling) {
		b.WriteString(" | D")
		for y, a := range t.Alternatives {
			fmt.Fprintf(&b, " %s %.3g", a, t.Sampling[y])
		}
	}
	b.WriteString(" | ")
	b.WriteString(detail)
	return b.String()
}

func uniform(d []float64) bool {
	for _, x := range d {
		if math.Abs(x-1/float64(len(d))) > 1e-12 {
			return false
		}
	}
	return true
}

// cmpTheta is the method's order of a and b: +1 when θ(a) > θ(b) beyond
// orderTol, −1 below, 0 tied.
func cmpTheta(theta []float64, a, b int) int {
	d := theta[a] - theta[b]
	switch {
	case d > orderTol:
		return 1
	case d < -orderTol:
		return -1
	}
	return 0
}

// uniqueTop is the alternative strictly above every other in θ, or −1.
func uniqueTop(theta []float64) int {
	top := 0
	for y := range theta {
		if theta[y] > theta[top] {
			top = y
		}
	}
	for y := range theta {
		if y != top && cmpTheta(theta, top, y) != 1 {
			return -1
		}
	}
	return top
}

// rel renders a comparison.
func rel(s int) string {
	switch s {
	case 1:
		return ">"
	case -1:
		return "<"
	}
	return "="
}

// sameOrder reports the first pair of names both cases hold whose order
// differs ("" when none), skipping names in skip.
func sameOrder(a, b *Case, skip ...string) string {
	idx := map[string]int{}
	for y, n := range b.Truth.Alternatives {
		idx[n] = y
	}
	na := a.Truth.Alternatives
	for i := range na {
		for j := i + 1; j < len(na); j++ {
			if slices.Contains(skip, na[i]) || slices.Contains(skip, na[j]) {
				continue
			}
			bi, ok1 := idx[na[i]]
			bj, ok2 := idx[na[j]]
			if !ok1 || !ok2 || dropped(a, i, j) || dropped(b, bi, bj) {
				continue
			}
			if s, s2 := cmpTheta(a.Theta, i, j), cmpTheta(b.Theta, bi, bj); s != s2 {
				return fmt.Sprintf("%s %s %s becomes %s %s %s", na[i], rel(s), na[j], na[i], rel(s2), na[j])
			}
		}
	}
	return ""
}

// dropped reports whether the case's policy gives neither i nor j any
// mass: a lottery says nothing about the order of what it drops (their
// log-ratios tie at the floor).
func dropped(c *Case, i, j int) bool {
	return c.Policy[i] <= massTol && c.Policy[j] <= massTol
}

// The variations: truths derived from t with one thing changed. Each is a
// new population of the same env, with its exact quantities recomputed.

func derive(t *analytic.Truth, edit func(e *analytic.Env)) *analytic.Truth {
	e := t.Env()
	e.Alternatives = slices.Clone(e.Alternatives)
	e.Population.Names = slices.Clone(e.Population.Names)
	e.Population.Weights = slices.Clone(e.Population.Weights)
	e.Rewards = cloneRows(e.Rewards)
	e.Sampling = slices.Clone(e.Sampling)
	e.Reference = slices.Clone(e.Reference)
	edit(e)
	out, err := e.ComputeTruth()
	if err != nil {
		panic(fmt.Sprintf("derived population is invalid: %v", err)) // the edits keep every invariant
	}
	return out
}

func cloneRows(m [][]float64) [][]float64 {
	out := make([][]float64, len(m))
	for i, r := range m {
		out[i] = slices.Clone(r)
	}
	return out
}

func normalise(v []float64) []float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	for i := range v {
		v[i] /= s
	}
	return v
}

// WithoutAlternative removes alternative y; D and π_ref are renormalised
// on the rest.
func WithoutAlternative(t *analytic.Truth, y int) *analytic.Truth {
	return derive(t, func(e *analytic.Env) {
		e.Alternatives = slices.Delete(e.Alternatives, y, y+1)
		for u := range e.Rewards {
			e.Rewards[u] = slices.Delete(e.Rewards[u], y, y+1)
		}
		e.Sampling = normalise(slices.Delete(e.Sampling, y, y+1))
		e.Reference = normalise(slices.Delete(e.Reference, y, y+1))
	})
}

// CloneName is the name of y's exact copy.
func CloneName(y string) string { return y + "'" }

// WithClone appends an exact copy of alternative y, named CloneName(y):
// the same reward for every type, and y's sampling and reference weights
// (then D and π_ref are renormalised, so a uniform D stays uniform).
func WithClone(t *analytic.Truth, y int) *analytic.Truth {
	return derive(t, func(e *analytic.Env) {
		e.Alternatives = append(e.Alternatives, CloneName(e.Alternatives[y]))
		for u := range e.Rewards {
			e.Rewards[u] = append(e.Rewards[u], e.Rewards[u][y])
		}
		e.Sampling = normalise(append(e.Sampling, e.Sampling[y]))
		e.Reference = normalise(append(e.Reference, e.Reference[y]))
	})
}

// WithReward raises r*(y; u) by delta.
func WithReward(t *analytic.Truth, u, y int, delta float64) *analytic.Truth {
	return derive(t, func(e *analytic.Env) { e.Rewards[u][y] += delta })
}

// WithSampling replaces D.
func WithSampling(t *analytic.Truth, d []float64) *analytic.Truth {
	return derive(t, func(e *analytic.Env) { e.Sampling = normalise(slices.Clone(d)) })
}

// SubPopulation keeps the types in keep (indices), weights renormalised.
func SubPopulation(t *analytic.Truth, keep []int) *analytic.Truth {
	return derive(t, func(e *analytic.Env) {
		var names []string
		var w []float64
		var r [][]float64
		for _, u := range keep {
			names = append(names, e.Population.Names[u])
			w = append(w, e.Population.Weights[u])
			r = append(r, e.Rewards[u])
		}
		e.Population.Names, e.Population.Weights, e.Rewards = names, normalise(w), r
	})
}
