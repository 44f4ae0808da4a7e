package metrics

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// handPop builds a one-prompt truth over alternatives a, b, c, …
// with the given rewards (one row per type), weights, BT temperature,
// and uniform D and π_ref, β = 1.
func handPop(t *testing.T, rewards [][]float64, weights []float64, temp float64) *analytic.Truth {
	t.Helper()
	n := len(rewards[0])
	alts := make([]string, n)
	uni := make([]float64, n)
	for y := range alts {
		alts[y] = string(rune('a' + y))
		uni[y] = 1 / float64(n)
	}
	names := make([]string, len(rewards))
	for u := range names {
		names[u] = string(rune('A' + u))
	}
	e := &analytic.Env{Alternatives: alts, Population: envs.Population{Names: names, Weights: weights}, Rewards: rewards,
		Sampling: uni, Reference: append([]float64(nil), uni...), Beta: 1, Preference: envs.Preference{Temperature: temp}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// A rule maps a population to a policy: the test's stand-ins for a
// method's exact fit, each with a closed form.
type rule func(t *analytic.Truth) []float64

// oracle is π* ∝ π_ref exp(r̄/β) (Eq. 10).
func oracle(t *analytic.Truth) []float64 { return t.PiStar }

// borda is π ∝ exp(20·NBC_D) (Eq. 13 under the population's D): its order
// is the Borda count's, as DPO's population optimum's is.
func borda(t *analytic.Truth) []float64 { return analytic.Tilt(t.Reference, t.NBC, 20) }

// anti is π ∝ exp(−r̄): it punishes what the population likes.
func anti(t *analytic.Truth) []float64 { return analytic.Tilt(t.Reference, t.AvgReward, -1) }

// extreme is π ∝ exp(20·|r̄|): the alternative with the most extreme mean.
func extreme(t *analytic.Truth) []float64 {
	v := make([]float64, len(t.AvgReward))
	for y, r := range t.AvgReward {
		v[y] = math.Abs(r)
	}
	return analytic.Tilt(t.Reference, v, 20)
}

// fixed is a given policy on the evaluated population (no refit).
func fixed(p ...float64) rule { return func(*analytic.Truth) []float64 { return p } }

func trainedOf(p []float64, ref []float64) *Trained {
	th := make([]float64, len(p))
	var m float64
	for y := range p {
		th[y] = math.Log(math.Max(p[y], math.SmallestNonzeroFloat64) / ref[y])
		m += th[y] / float64(len(p))
	}
	for y := range th {
		th[y] -= m
	}
	return &Trained{Policy: [][]float64{p}, LogRatio: [][]float64{th}}
}

// check evaluates axiom name for rule r on population tr, refitting r on
// every variation.
func check(t *testing.T, name string, r rule, tr *analytic.Truth, refit bool) (Value, Value) {
	t.Helper()
	a, ok := axiomOf("axiom_" + name)
	if !ok {
		t.Fatalf("axiom %s is not registered", name)
	}
	var f Refit
	if refit {
		f = func(_ string, w *analytic.World) (*Trained, error) {
			return trainedOf(r(w.Prompts[0]), w.Prompts[0].Reference), nil
		}
	}
	out, err := EvaluateAxiom(a, analytic.Single(tr), trainedOf(r(tr), tr.Reference), f)
	if err != nil {
		t.Fatal(err)
	}
	return out["axiom_"+name], out["axiom_"+name+"_witness"]
}

// Hand-built populations. τ = 0.01 makes each type's preference a near
// step, σ(Δr/τ) ∈ {≈0, ½, ≈1}, so Pr(x ≻ y) is the weight of the types
// that prefer x: majorities and Borda counts can be read off the rankings.
var (
	// condorcetPop: A (0.6): a 1, b 0.9, c 0; B (0.4): a 0, b 1, c 0.9.
	// Pr(a ≻ b) = 0.6·σ(10) ≈ 0.6 > ½ and Pr(a ≻ c) ≈ 0.6: a is the
	// Condorcet winner; c loses to a (0.4) and to b (0.6·1 + 0.4·1 ≈ 1, so
	// Pr(c ≻ b) ≈ 0): c is the Condorcet loser. r̄ = (0.6, 0.94, 0.36):
	// π* tops b, not the Condorcet winner, and puts c last.
	condorcetPop = [][]float64{{1, 0.9, 0}, {0, 1, 0.9}}
	// iiaPop: A (0.6): a 2, b 1, c 0; B (0.4): b 2, c 1, a 0. Uniform D:
	// 3·NBC = a: ½ + 0.6 + 0.6 = 1.7, b: 0.4 + ½ + 1 = 1.9, c: 0.9, so
	// Borda has b > a; without c, 2·NBC = a: ½ + 0.6 = 1.1, b: 0.9: a > b.
	// r̄ = (1.2, 1.4, 0.4) orders b > a with or without c.
	// D-dependence: NBC_D(a) − NBC_D(b) = 0.1 D(a) + 0.1 D(b) − 0.4 D(c),
	// negative under uniform D and positive for D = (0.45, 0.45, 0.1).
	iiaPop = [][]float64{{2, 1, 0}, {0, 2, 1}}
	// clonePop: A (0.7): a 2, c 1, b 0; B (0.3): c 2, b 1, a 0.
	// 3·NBC: a = ½ + 0.7 + 0.7 = 1.9, c = 0.3 + ½ + 1 = 1.8, b = 0.8: a > c.
	// Cloning b adds Pr(· ≻ b'): a + 0.7 = 2.6, c + 1 = 2.8: c > a.
	// r̄ = (1.4, 0.3, 1.3): a > c > b, and a clone of b changes no r̄.
	clonePop = [][]float64{{2, 0, 1}, {0, 1, 2}}
)

func TestAxiomsHandBuilt(t *testing.T) {
	w64 := []float64{0.6, 0.4}
	cases := []struct {
		name    string
		axiom   string
		rule    rule
		rewards [][]float64
		weights []float64
		want    float64 // 1 holds, 0 violated, -1 none
		// given: the policy is given on the evaluated population only (no refit)
		given bool
	}{
		// Condorcet: a is the winner (see condorcetPop); π* tops b.
		{"condorcet/lottery on a", "condorcet", fixed(1, 0, 0), condorcetPop, w64, 1, true},
		{"condorcet/pi* tops b", "condorcet", oracle, condorcetPop, w64, 0, false},
		// A: a > b > c, B: b > c > a, C: c > a > b, equal weights: every
		// pair has a ⅔ majority, in a cycle (a ≻ b ≻ c ≻ a): no winner.
		{"condorcet/none without a winner", "condorcet", oracle, [][]float64{{2, 1, 0}, {0, 2, 1}, {1, 0, 2}}, []float64{1. / 3, 1. / 3, 1. / 3}, -1, false},
		// Condorcet loser c: π* puts it last; a policy topping c violates.
		{"loser/pi*", "condorcet_loser", oracle, condorcetPop, w64, 1, false},
		{"loser/c top", "condorcet_loser", fixed(0.2, 0.2, 0.6), condorcetPop, w64, 0, true},
		// Pareto: both types rate a above b (A: 1 > 0, B: 2 > 1).
		{"pareto/pi*", "pareto", oracle, [][]float64{{1, 0, 5}, {2, 1, 0}}, w64, 1, false},
		{"pareto/b above a", "pareto", fixed(0.3, 0.5, 0.2), [][]float64{{1, 0, 5}, {2, 1, 0}}, w64, 0, true},
		{"pareto/b dropped", "pareto", fixed(0, 0, 1), [][]float64{{1, 0, 5}, {2, 1, 0}}, w64, 1, true},
		// Monotonicity: raising r(y;u) raises r̄(y), so π*(y) ∝ exp r̄(y)
		// rises and anti's π(y) ∝ exp(−r̄(y)) falls.
		{"monotonicity/pi*", "monotonicity", oracle, iiaPop, w64, 1, false},
		{"monotonicity/anti", "monotonicity", anti, iiaPop, w64, 0, false},
		// IIA: π*'s ratios exp(r̄(x) − r̄(y)) ignore the rest; Borda flips
		// a and b when c goes (see iiaPop).
		{"iia/pi*", "iia", oracle, iiaPop, w64, 1, false},
		{"iia/borda", "iia", borda, iiaPop, w64, 0, false},
		// Clones: see clonePop.
		{"clones/pi*", "clones", oracle, clonePop, []float64{0.7, 0.3}, 1, false},
		{"clones/borda", "clones", borda, clonePop, []float64{0.7, 0.3}, 0, false},
		// Clone mass: π*'s normaliser gains exp r̄(clone), so every other
		// alternative loses mass; a point mass on the r̄ winner a (a
		// clone of a ties it, and the test's rule keeps the first) keeps
		// every other alternative at 0.
		{"clone_mass/pi*", "clone_mass", oracle, clonePop, []float64{0.7, 0.3}, 0, false},
		{"clone_mass/first winner", "clone_mass", firstWinner, clonePop, []float64{0.7, 0.3}, 1, false},
		// D: π* does not read D; Borda's a−b gap changes sign at
		// D = (0.45, 0.45, 0.1) (see iiaPop), within the candidates' reach.
		{"d/pi*", "d_independence", oracle, iiaPop, w64, 1, false},
		{"d/borda", "d_independence", borda, iiaPop, w64, 0, false},
		// Reinforcement: A: a 2, b 1, c 0 and B: a 3, b 0, c 1 both put a
		// top and r̄ of the merge is a positive mix, so π* tops a. With
		// A: a −3, b 1 and B: a 3, b 1 (equal weights) both types alone
		// have |r| largest at a, merged r̄ = (0, 1, 0): extreme tops b.
		{"reinforcement/pi*", "reinforcement", oracle, [][]float64{{2, 1, 0}, {3, 0, 1}}, w64, 1, false},
		{"reinforcement/extreme", "reinforcement", extreme, [][]float64{{-3, 1, 0}, {3, 1, 0}}, []float64{0.5, 0.5}, 0, false},
		// Proportionality: A (0.6) favours a, B (0.4) favours b: random
		// dictatorship (0.6, 0.4, 0) meets the bounds; π* at these
		// rewards gives b less than 0.4.
		{"proportionality/random dictatorship", "proportionality", fixed(0.6, 0.4, 0), [][]float64{{1, 0, 0.5}, {0, 1, 0.5}}, w64, 1, true},
		{"proportionality/pi*", "proportionality", oracle, [][]float64{{1, 0, 0.5}, {0, 1, 0.5}}, w64, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := handPop(t, c.rewards, c.weights, 0.01)
			// A fixed policy is given on the evaluated population only.
			v, wit := check(t, c.axiom, c.rule, tr, !c.given)
			got := -1.0
			if !v.None {
				got = v.Number
			}
			if got != c.want {
				t.Fatalf("axiom_%s = %v, want %v (witness %q)", c.axiom, got, c.want, wit.Text)
			}
			if c.want == 0 && (wit.None || !strings.HasPrefix(wit.Text, "a")) {
				t.Fatalf("violation without a witness: %+v", wit)
			}
			if c.want != 0 && !wit.None {
				t.Fatalf("witness %q where the axiom holds", wit.Text)
			}
		})
	}
}

// firstWinner puts all mass on the first maximiser of r̄.
func firstWinner(t *analytic.Truth) []float64 {
	p := make([]float64, len(t.AvgReward))
	best := 0
	for y, r := range t.AvgReward {
		if r > t.AvgReward[best]+1e-12 {
			best = y
		}
	}
	p[best] = 1
	return p
}

// The witness is shrunk: Borda's IIA violation on iiaPop needs all three
// alternatives and both types (with one type Borda is that type's order,
// which no removal changes), so it stays at a3 t2; padding the population
// with a fourth alternative every type rates lowest and a third type
// identical to A, the witness drops back to a3 and at most two types.
func TestAxiomWitnessShrinks(t *testing.T) {
	tr := handPop(t, [][]float64{{2, 1, 0, -5}, {0, 2, 1, -5}, {2, 1, 0, -5}}, []float64{0.3, 0.4, 0.3}, 0.01)
	v, wit := check(t, "iia", borda, tr, true)
	if v.None || v.Number != 0 {
		t.Fatalf("Borda should violate IIA here, got %+v", v)
	}
	if !strings.HasPrefix(wit.Text, "a3 t2") {
		t.Fatalf("witness not shrunk to 3 alternatives and 2 types: %q", wit.Text)
	}
}

// Variations keep what they must: a clone has the original's rewards and
// a removed alternative's D mass is spread proportionally.
func TestVariations(t *testing.T) {
	tr := handPop(t, iiaPop, []float64{0.6, 0.4}, 1)
	c := WithClone(tr, 1)
	if len(c.Alternatives) != 4 || c.Alternatives[3] != "b'" || c.Rewards[1][3] != c.Rewards[1][1] || math.Abs(c.Sampling[3]-0.25) > 1e-15 {
		t.Fatalf("clone: %+v", c)
	}
	if math.Abs(c.Pref[1][3]-0.5) > 1e-15 {
		t.Fatalf("a clone ties its original: Pr(b ≻ b') = %v", c.Pref[1][3])
	}
	r := WithoutAlternative(tr, 2)
	if len(r.Alternatives) != 2 || math.Abs(r.Sampling[0]-0.5) > 1e-15 {
		t.Fatalf("removal: %+v", r)
	}
	s := SubPopulation(tr, []int{1})
	if len(s.Types) != 1 || s.Weights[0] != 1 || s.Types[0] != "B" {
		t.Fatalf("sub-population: %+v", s)
	}
	if tr.Alternatives[2] != "c" || len(tr.Rewards[0]) != 3 {
		t.Fatal("a variation changed the original")
	}
}

// A method with no optimum on a variation leaves the axiom none on that
// population instead of failing the evaluation.
func TestAxiomRefitFailureIsNone(t *testing.T) {
	tr := handPop(t, iiaPop, []float64{0.6, 0.4}, 0.01)
	a, _ := axiomOf("axiom_iia")
	fail := func(_ string, w *analytic.World) (*Trained, error) {
		return nil, fmt.Errorf("no finite minimiser")
	}
	out, err := EvaluateAxiom(a, analytic.Single(tr), trainedOf(borda(tr), tr.Reference), fail)
	if err != nil {
		t.Fatal(err)
	}
	if v := out["axiom_iia"]; !v.None {
		t.Fatalf("axiom_iia = %+v, want none", v)
	}
}

// Population-proportional alignment at α = 2/m. At τ = 0.01 a reward gap
// of 1 gives a type's first choice probability 1/(1 + e^{−100} + …) ≈ 1,
// so w(y) is the weight of the types ranking y first.
//   - Two alternatives, A (0.51) a > b, B (0.49) b > a: w = (0.51, 0.49)
//     and 2/m = 1, so π must be w: the policy w holds (ppa_alpha 1), the
//     majority's point mass (1, 0) violates it (π(b) = 0 < 0.49; α 0).
//   - Three, A (0.6) a > b > c, B (0.4) b > c > a: w = (0.6, 0.4, 0); the
//     uniform policy gives 1/3 < (2/3)·0.6 = 0.4 to a: violated, α =
//     (1/3)/0.6 = 5/9; with weights 0.5, 0.5, w = (½, ½, 0) and 1/3 ≥
//     (2/3)·½: holds, α = 2/3.
func TestAxiomPPA(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rule      rule
		rewards   [][]float64
		weights   []float64
		want      float64
		wantAlpha float64
	}{
		{"two/proportional", fixed(0.51, 0.49), [][]float64{{1, 0}, {0, 1}}, []float64{0.51, 0.49}, 1, 1},
		{"two/majority point mass", fixed(1, 0), [][]float64{{1, 0}, {0, 1}}, []float64{0.51, 0.49}, 0, 0},
		{"three/uniform, 60:40", fixed(1./3, 1./3, 1./3), [][]float64{{2, 1, 0}, {0, 2, 1}}, []float64{0.6, 0.4}, 0, 5. / 9},
		{"three/uniform, 50:50", fixed(1./3, 1./3, 1./3), [][]float64{{2, 1, 0}, {0, 2, 1}}, []float64{0.5, 0.5}, 1, 2. / 3},
	} {
		tr := handPop(t, tc.rewards, tc.weights, 0.01)
		a, _ := axiomOf("axiom_ppa")
		out, err := EvaluateAxiom(a, analytic.Single(tr), trainedOf(tc.rule(tr), tr.Reference), nil)
		if err != nil {
			t.Fatal(err)
		}
		if v := out["axiom_ppa"]; v.None || v.Number != tc.want {
			t.Errorf("%s: axiom_ppa = %+v, want %v (witness %q)", tc.name, v, tc.want, out["axiom_ppa_witness"].Text)
		}
		if v := out["ppa_alpha"]; v.None || math.Abs(v.Number-tc.wantAlpha) > 1e-9 {
			t.Errorf("%s: ppa_alpha = %+v, want %v", tc.name, v, tc.wantAlpha)
		}
	}
}
