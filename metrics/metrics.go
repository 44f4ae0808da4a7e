// Package metrics compares what a method learned with the exact ground
// truth: policies against π* (Eq. 10), induced orders against the average
// reward r̄ (Eq. 9), and the truth's own quantities such as NBC (Eq. 13).
package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
)

// Scope says what a metric describes.
type Scope int

const (
	// Truth metrics describe the environment, the same for every method.
	Truth Scope = iota
	// Method metrics describe one trained method.
	Method
)

// Shape is the type of a metric's value.
type Shape int

const (
	// Number is one real number.
	Number Shape = iota
	// Text is a short string such as a ranking.
	Text
	// Vector has one number per alternative.
	Vector
	// Matrix has one number per type and alternative.
	Matrix
)

// Info describes one metric.
type Info struct {
	Name  string
	Scope Scope
	Shape Shape
	Doc   string
	// Needs says what the metric reads: "truth" (the environment alone),
	// "policy" (a policy per prompt on finite alternatives) or "scores" (a
	// sequence model's scores of the test sequences).
	Needs string
}

// registered holds the metrics in the order reports show them; Register
// appends at init.
var registered []Info

// Register adds a metric; it panics on a duplicate name (registration runs
// at init, where a mistake is a bug).
func Register(m Info) {
	for _, r := range registered {
		if r.Name == m.Name {
			panic("metrics.Register: duplicate metric " + m.Name)
		}
	}
	registered = append(registered, m)
}

// All lists every registered metric, in the order reports show them.
func All() []Info { return append([]Info(nil), registered...) }

func init() {
	for _, m := range []Info{
		{"avg_reward", Truth, Vector, "r̄(y) = Σ_u w_u r*(y;u) (Eq. 9)", "truth"},
		{"nbc", Truth, Vector, "NBC(y) = Σ_{y'} D(y') Pr(y ≻ y') (Eq. 13)", "truth"},
		{"pi_star", Truth, Vector, "π*(y) ∝ π_ref(y) exp(r̄(y)/β) (Eq. 10)", "truth"},
		{"policy", Method, Vector, "π(y) of the method", "policy"},
		{"log_ratio", Method, Vector, "log π(y)/π_ref(y), centred to mean 0", "policy"},
		{"top", Method, Text, "the alternative(s) with the largest π(y); ties joined by '='", "policy"},
		{"ranking", Method, Text, "alternatives ordered by π/π_ref, e.g. 'y2 > y1 = y3'", "policy"},
		{"tv", Method, Number, "total variation ½ Σ_y |π(y) − π*(y)|", "policy"},
		{"kl", Method, Number, "KL(π ‖ π*) = Σ_y π(y) log(π(y)/π*(y))", "policy"},
		{"agreement", Method, Number, "fraction of pairs with r̄(a) ≠ r̄(b) that π/π_ref orders as r̄ (ties in π count as disagreement)", "policy"},
		{"data_used", Method, Number, "fraction of the dataset's tuples the loss looks at", "policy"},
		{"borda_winner", Truth, Text, "the Borda winner(s) (ties joined by ' = '): largest normalised Borda count under the uniform D (NBC, Eq. 13); one-prompt worlds", "truth"},
		{"copeland_winner", Truth, Text, "the Copeland winner(s): most pairwise majority wins minus losses; one-prompt worlds", "truth"},
		{"condorcet_winner", Truth, Text, "the alternative a majority prefers to every other (Pr(a ≻ b) > ½ for all b), or 'none'; one-prompt worlds", "truth"},
		{"condorcet_exists", Truth, Number, "1 when the population has a Condorcet winner, else 0; one-prompt worlds", "truth"},
		{"maximal_lottery", Truth, Vector, "the maximal lottery: the optimal strategy of the symmetric zero-sum game of majority margins Pr(a ≻ b) − Pr(b ≻ a) (an LP); one-prompt worlds", "truth"},
		{"welfare", Method, Number, "utilitarian welfare E_π[r̄] (Eq. 9's average reward under the policy)", "policy"},
		{"top_is_avg_winner", Method, Number, "1 when the policy's most likely alternative maximises r̄ (ties: any maximiser), else 0; one-prompt worlds", "policy"},
		{"top_is_borda_winner", Method, Number, "1 when the policy's most likely alternative is a Borda winner (uniform D), else 0; one-prompt worlds", "policy"},
		{"top_is_condorcet", Method, Number, "1 when the policy's most likely alternative is the Condorcet winner, 0 when not, none without a Condorcet winner; one-prompt worlds", "policy"},
		{"tv_maximal_lottery", Method, Number, "total variation between the policy and the maximal lottery; one-prompt worlds", "policy"},
		{"distortion", Method, Number, "best achievable over achieved utilitarian welfare for rewards normalised per type to [0, 1] (1: optimal); one-prompt worlds", "policy"},
		{"min_type_reward", Method, Number, "the worst-off type's expected reward min_u E_π[r*(·; u)] (egalitarian welfare; MaxMin's objective without its KL term)", "policy"},
		{"reward_spread", Truth, Vector, "the spread of rewards across types, √(Σ_u w_u (r*(y;u) − r̄(y))²), the type-weighted standard deviation", "truth"},
		{"sigma", Method, Vector, "the spread σ(y) a distributional method learned (dpl: the mean–variance model's σ); none for the others", "policy"},
		{"sigma_pearson", Method, Number, "Pearson correlation, per prompt (prior-weighted mean over prompts), of the learned σ(y) with the reward spread across types (reward_spread); none without σ or when either is constant", "policy"},
		{"sigma_spearman", Method, Number, "Spearman rank correlation (ties: mid-ranks), per prompt (prior-weighted mean), of the learned σ(y) with the reward spread across types; none without σ or when either is constant", "policy"},
		{"type_recovery", Method, Number, "adjusted Rand index between the annotators' inferred types and their true (or covariate) types; none for methods that infer no types", "policy"},
		{"log_likelihood", Method, Number, "held-out log-likelihood per annotator of the inferred type mixture (each annotator's held-out labels under its posterior from the rest); none for methods that infer no types", "policy"},
		{"latent_types", Method, Text, "the inferred types: share and top alternative of each; none for methods that infer no types", "policy"},
		{"policy_se", Method, Vector, "standard error of π across prompts along the δ view (0 for one prompt)", "policy"},
		{"argmax", Method, Number, "the δ (a numeric label) where π's profile is largest; none for named alternatives", "policy"},
		{"reward", Truth, Matrix, "r*(y; u) per type u and alternative y", "truth"},
		{"type_weights", Truth, Text, "the types' weights w_u", "truth"},
		{"avg_ranking", Truth, Text, "alternatives ordered by r̄", "truth"},
		{"nbc_ranking", Truth, Text, "alternatives ordered by NBC", "truth"},
		{"nbc_agrees", Truth, Number, "1 when NBC orders every pair with r̄(a) ≠ r̄(b) as r̄ does, else 0", "truth"},
		{"flip_tv", Truth, Number, "smallest TV distance from uniform D that reverses an NBC-ordered pair (LP of App. E, ε = δ = 1e-5); none when no D can", "truth"},
		{"flip_pair", Truth, Text, "the pair flip_tv reverses, as 'a>b' under uniform D", "truth"},
		{"flip_q", Truth, Vector, "the sampling distribution that achieves flip_tv", "truth"},
		{"top_flip_tv", Truth, Number, "smallest TV distance from uniform D that changes NBC's top choice; none when no D can", "truth"},
		{"flip_pairs", Truth, Text, "every NBC-ordered pair 'a>b' with the smallest TV that reverses it (or 'never'), smallest first", "truth"},
		{"nbc_top_agrees", Truth, Number, "1 when NBC (uniform D) and r̄ have the same top alternative (ties: the same set of maximisers), else 0", "truth"},
		{"flip_within_da", Truth, Number, "1 when some D within TV 0.2 of uniform (the paper's D_a, Section 4.3) reverses an NBC-ordered pair (flip_tv ≤ 0.2), else 0", "truth"},
		{"top_flip_within_da", Truth, Number, "1 when some D within TV 0.2 of uniform (the paper's D_a) changes NBC's top choice (top_flip_tv ≤ 0.2), else 0", "truth"},
		{"can_flip", Truth, Number, "1 when some D with full support reverses an NBC-ordered pair, else 0", "truth"},
		{"top_can_flip", Truth, Number, "1 when some D with full support changes NBC's top choice, else 0", "truth"},
		{"test_pairs", Truth, Number, "sequence env: test pairs with r̄(y1) ≠ r̄(y2)", "truth"},
		{"majority_agreement", Truth, Number, "sequence env: fraction of test pairs where Σ_u w_u σ(Δr_u) − ½ has the sign of Δr̄", "truth"},
		{"consensus_cost", Truth, Number, "sequence env: mean cost of a consensus label over the training prompts in annotator judgments, |U|·mean 1/P(all agree) (an anonymous label costs 1)", "truth"},
		{"ties", Method, Number, "sequence env: fraction of test pairs the model scores equally", "scores"},
		{"score_profile", Method, Vector, "sequence env: mean model score of test sequences by length, centred", "scores"},
		{"final_loss", Method, Number, "sequence env: mean training loss over the last 10% of steps", "scores"},
		{"loss_curve", Method, Text, "sequence env: mean training loss over each tenth of the steps, first to last", "scores"},
		{"loss_last_drop", Method, Number, "sequence env: relative fall of the training loss from the ninth to the last tenth of the steps, (ℓ₉ − ℓ₁₀)/|ℓ₉| (near 0: flat)", "scores"},
		{"pretrain_loss", Method, Number, "sequence env: the pre-trained reference's loss (nats per response token) over the last 10% of its steps; none for a uniform reference", "scores"},
		{"pretrain_curve", Method, Text, "sequence env: the pre-trained reference's loss over each tenth of its steps; none for a uniform reference", "scores"},
		{"pretrain_last_drop", Method, Number, "sequence env: loss_last_drop of the reference's pre-training; none for a uniform reference", "scores"},
	} {
		Register(m)
	}
	baseRegistered = true
	for _, a := range axioms {
		registerAxiomInfos(a)
	}
}

// Lookup finds a metric by name.
func Lookup(name string) (Info, bool) {
	for _, m := range registered { // not All(): no copy per call
		if m.Name == name {
			return m, true
		}
	}
	return Info{}, false
}

// Value is a metric value: a number, a text, a vector, a matrix, or none
// (not applicable, e.g. data_used of a method that needs no data).
type Value struct {
	Shape  Shape
	None   bool
	Number float64
	Text   string
	Vector []float64
	Matrix [][]float64
}

// Num, Str, Vec and NA build Values.
func Num(x float64) Value   { return Value{Shape: Number, Number: x} }
func Str(s string) Value    { return Value{Shape: Text, Text: s} }
func Vec(v []float64) Value { return Value{Shape: Vector, Vector: v} }
func NA() Value             { return Value{Shape: Number, None: true} }

// Mat builds a matrix Value.
func Mat(m [][]float64) Value { return Value{Shape: Matrix, Matrix: m} }

// MarshalJSON writes a number, a string, an array or null.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case v.None:
		return []byte("null"), nil
	case v.Shape == Text:
		return json.Marshal(v.Text)
	case v.Shape == Vector:
		return json.Marshal(v.Vector)
	case v.Shape == Matrix:
		return json.Marshal(v.Matrix)
	}
	if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
		return nil, fmt.Errorf("metric value %v cannot be written", v.Number)
	}
	return json.Marshal(v.Number)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	switch x := raw.(type) {
	case nil:
		*v = NA()
	case float64:
		*v = Num(x)
	case string:
		*v = Str(x)
	case []any:
		if len(x) > 0 {
			if _, ok := x[0].([]any); ok {
				var m [][]float64
				if err := json.Unmarshal(b, &m); err != nil {
					return err
				}
				*v = Mat(m)
				return nil
			}
		}
		vec := make([]float64, len(x))
		for i, e := range x {
			f, ok := e.(float64)
			if !ok {
				return fmt.Errorf("vector entry %d is %T, not a number", i, e)
			}
			vec[i] = f
		}
		*v = Vec(vec)
	default:
		return fmt.Errorf("unexpected metric value %s", b)
	}
	return nil
}

// Trained is what a method produced, as the metrics need it: a policy per
// prompt of the World it was trained in.
type Trained struct {
	// Policy[x][y] is π(y | x), aligned with the prompt's alternatives.
	Policy [][]float64 `json:"policy"`
	// LogRatio[x][y] is θ(y | x) = log π(y|x)/π_ref(y|x), centred per prompt.
	LogRatio [][]float64 `json:"log_ratio"`
	// DataUsed is the fraction of the dataset the loss used; nil when the
	// method needs no data.
	DataUsed *float64 `json:"data_used,omitempty"`
	// Latent is what a method that infers annotator types found (em-dpo,
	// maxmin); nil for the others.
	Latent *Latent `json:"latent,omitempty"`
	// Sigma[x][y] is the spread σ(y | x) a distributional method learned
	// (dpl's mean–variance model); nil for the others.
	Sigma [][]float64 `json:"sigma,omitempty"`
	// NotUnique[x], when not empty, says that prompt x's loss has several
	// optima that order the alternatives differently, and what every
	// optimum shares ("med > long, med > short; long ? short"): the
	// metrics top and ranking then report "not unique: " and that, not
	// the order of the one optimum returned. nil: unique (or unchecked).
	NotUnique []string `json:"not_unique,omitempty"`
	// NotUniqueTop[x] is the alternative every optimum of prompt x ranks
	// first, "" when they differ (set with NotUnique).
	NotUniqueTop []string `json:"not_unique_top,omitempty"`
}

// notUnique is the top/ranking text of a fit with several optima: what
// they share (one prompt) or at how many prompts they differ; "" when
// the fit's order is unique.
func (m *Trained) notUnique() string {
	k, last := 0, ""
	for _, s := range m.NotUnique {
		if s != "" {
			k, last = k+1, s
		}
	}
	switch {
	case k == 0:
		return ""
	case len(m.Policy) == 1:
		return "not unique: " + last
	}
	return fmt.Sprintf("not unique at %d of %d prompts", k, len(m.Policy))
}

// Latent describes inferred annotator types: their shares Alpha, each
// annotator's most probable type Assign and true type True (from the
// data), the held-out log-likelihood per annotator, and each latent
// type's policy's top alternative. Mass weights the annotators when they
// are the record classes of an exact population (nil: each counts once).
type Latent struct {
	Alpha         []float64 `json:"alpha"`
	Assign        []int32   `json:"assign"`
	True          []int32   `json:"true"`
	Mass          []float64 `json:"mass,omitempty"`
	HeldOutLogLik *float64  `json:"held_out_loglik,omitempty"`
	Tops          []string  `json:"tops"`
}

// tieTol is the absolute tolerance under which two log-ratios or
// probabilities count as equal in rankings.
const tieTol = 1e-9

// view turns one vector per prompt into the vector a report shows: the
// prompt's own vector for a one-prompt World, the prior-weighted average
// over prompts along δ = y − x for the circle's 1-D view.
func view(w *analytic.World, per func(x int) []float64) []float64 {
	if w.View != analytic.ViewDelta {
		return per(0)
	}
	n := len(w.Labels)
	out := make([]float64, n)
	for x := range w.Prompts {
		v := per(x)
		for y, val := range v {
			out[analytic.DeltaIndex(x, y, n)] += w.Prior[x] * val
		}
	}
	return out
}

// spread is the standard error across prompts of the δ view of per: the
// sample standard deviation over prompts divided by √(number of prompts).
func spread(w *analytic.World, per func(x int) []float64) []float64 {
	n := len(w.Labels)
	np := len(w.Prompts)
	cols := make([][]float64, n)
	for x := range w.Prompts {
		for y, val := range per(x) {
			k := y
			if w.View == analytic.ViewDelta {
				k = analytic.DeltaIndex(x, y, n)
			}
			cols[k] = append(cols[k], val)
		}
	}
	out := make([]float64, n)
	for k, c := range cols {
		if np < 2 {
			continue
		}
		var mean, ss float64
		for _, v := range c {
			mean += v / float64(len(c))
		}
		for _, v := range c {
			ss += (v - mean) * (v - mean)
		}
		out[k] = math.Sqrt(ss/float64(len(c)-1)) / math.Sqrt(float64(len(c)))
	}
	return out
}

// argmax is the label of the largest entry when labels are numbers (δ).
// Entries within 1e-9 of the largest tie; among them it takes the label
// of smallest magnitude, the positive one first (π* on the symmetric
// circle peaks at both ±10, reported as 10).
func argmax(labels []string, v []float64) Value {
	hi := math.Inf(-1)
	for _, x := range v {
		hi = math.Max(hi, x)
	}
	best, found := 0.0, false
	for i, x := range v {
		if hi-x > tieTol {
			continue
		}
		l, err := strconv.ParseFloat(labels[i], 64)
		if err != nil {
			return NA()
		}
		if !found || math.Abs(l) < math.Abs(best) || math.Abs(l) == math.Abs(best) && l > best {
			best, found = l, true
		}
	}
	return Num(best)
}

// ComputeTruth evaluates the truth metrics among names. The flip metrics
// (one-prompt worlds only) solve the linear programme of Appendix E for
// every NBC-ordered pair under the uniform distribution, and check each
// answer independently.
func ComputeTruth(w *analytic.World, names []string) (map[string]Value, error) {
	out := map[string]Value{}
	t := w.Prompts[0]
	single := len(w.Prompts) == 1
	avg := view(w, func(x int) []float64 { return w.Prompts[x].AvgReward })
	nbcv := view(w, func(x int) []float64 { return w.Prompts[x].NBC })
	var sens *analytic.Sensitivity
	flip := func() (*analytic.Sensitivity, error) {
		if sens != nil {
			return sens, nil
		}
		s, err := analytic.NBCSensitivity(t.Pref, analytic.DefaultFlipParams)
		sens = s
		return s, err
	}
	for _, n := range names {
		switch n {
		case "avg_reward":
			out[n] = Vec(avg)
		case "nbc":
			out[n] = Vec(nbcv)
		case "pi_star":
			out[n] = Vec(view(w, func(x int) []float64 { return w.Prompts[x].PiStar }))
		case "reward":
			m := make([][]float64, len(t.Types))
			for u := range m {
				m[u] = view(w, func(x int) []float64 { return w.Prompts[x].Rewards[u] })
			}
			out[n] = Mat(m)
		case "type_weights":
			parts := make([]string, len(t.Types))
			for i, ty := range t.Types {
				parts[i] = fmt.Sprintf("%s %.3g", ty, t.Weights[i])
			}
			out[n] = Str(strings.Join(parts, ", "))
		case "reward_spread":
			out[n] = Vec(view(w, func(x int) []float64 { return RewardSpread(w.Prompts[x]) }))
		case "avg_ranking":
			out[n] = Str(RankingString(w.Labels, avg))
		case "nbc_ranking":
			out[n] = Str(RankingString(w.Labels, nbcv))
		case "borda_winner", "copeland_winner", "condorcet_winner", "condorcet_exists", "maximal_lottery":
			if !single {
				out[n] = NA() // social choice over one prompt's alternatives
				continue
			}
			switch n {
			case "borda_winner":
				out[n] = Str(Top(t.Alternatives, BordaScores(t.Pref)))
			case "copeland_winner":
				out[n] = Str(Top(t.Alternatives, CopelandScores(t.Pref)))
			case "condorcet_exists":
				out[n] = indicator(CondorcetWinner(t.Pref) >= 0)
			case "condorcet_winner":
				out[n] = Str("none")
				if c := CondorcetWinner(t.Pref); c >= 0 {
					out[n] = Str(t.Alternatives[c])
				}
			case "maximal_lottery":
				p, err := MaximalLottery(t.Pref)
				if err != nil {
					return nil, err
				}
				out[n] = Vec(p)
			}
		case "nbc_agrees":
			var agree, total int
			for _, p := range w.Prompts {
				a, tot := agreementCounts(p.NBC, p.AvgReward)
				agree, total = agree+a, total+tot
			}
			out[n] = indicator(agree == total)
		case "nbc_top_agrees":
			if !single {
				out[n] = NA()
				continue
			}
			out[n] = indicator(Top(t.Alternatives, avg) == Top(t.Alternatives, nbcv))
		case "flip_tv", "flip_pair", "flip_pairs", "flip_q", "top_flip_tv", "can_flip", "top_can_flip", "flip_within_da", "top_flip_within_da":
			if !single {
				out[n] = NA() // the LP of App. E is per question (one prompt)
				continue
			}
			s, err := flip()
			if err != nil {
				return nil, err
			}
			switch n {
			case "flip_tv":
				out[n] = flipTV(s.Min)
			case "top_flip_tv":
				out[n] = flipTV(s.Top)
			case "flip_pair":
				if s.Min.Feasible {
					out[n] = Str(t.Alternatives[s.Min.Above] + ">" + t.Alternatives[s.Min.Below])
				} else {
					out[n] = NA()
				}
			case "flip_pairs":
				pairs := append([]analytic.Flip(nil), s.Pairs...)
				sort.SliceStable(pairs, func(a, b int) bool {
					pa, pb := pairs[a], pairs[b]
					if pa.Feasible != pb.Feasible {
						return pa.Feasible
					}
					return pa.TV < pb.TV
				})
				parts := make([]string, len(pairs))
				for k, f := range pairs {
					tv := "never"
					if f.Feasible {
						tv = strconv.FormatFloat(f.TV, 'g', 4, 64)
					}
					parts[k] = t.Alternatives[f.Above] + ">" + t.Alternatives[f.Below] + " " + tv
				}
				out[n] = Str(strings.Join(parts, "; "))
			case "flip_q":
				if s.Min.Feasible {
					out[n] = Vec(s.Min.Q)
				} else {
					out[n] = NA()
				}
			case "can_flip":
				out[n] = indicator(s.Min.Feasible)
			case "top_can_flip":
				out[n] = indicator(s.Top.Feasible)
			case "flip_within_da":
				out[n] = indicator(s.Min.Feasible && s.Min.TV <= DaTV)
			case "top_flip_within_da":
				out[n] = indicator(s.Top.Feasible && s.Top.TV <= DaTV)
			}
		}
	}
	return out, nil
}

// DaTV is the TV distance from uniform of the paper's altered sampling
// distribution D_a (Section 4.3: "a slightly altered distribution D_a
// with 0.2 total variation distance").
const DaTV = 0.2

func flipTV(f analytic.Flip) Value {
	if !f.Feasible {
		return NA()
	}
	return Num(f.TV)
}

func indicator(b bool) Value {
	if b {
		return Num(1)
	}
	return Num(0)
}

// ComputeMethod evaluates the method metrics among names for m. Distances
// to π* are prior-weighted means over prompts; agreement pools the pairs of
// every prompt; vectors follow the World's view.
func ComputeMethod(w *analytic.World, m *Trained, names []string) (map[string]Value, error) {
	return ComputeMethodRefit(w, m, names, nil)
}

// ComputeMethodRefit is ComputeMethod with the method's exact fit on
// variations of the world, for the axiom metrics (axioms.go); refit nil
// leaves the axioms that vary the population none.
func ComputeMethodRefit(w *analytic.World, m *Trained, names []string, refit Refit) (map[string]Value, error) {
	if len(m.Policy) != len(w.Prompts) || len(m.LogRatio) != len(w.Prompts) {
		return nil, fmt.Errorf("policy for %d prompts, world has %d", len(m.Policy), len(w.Prompts))
	}
	for x, t := range w.Prompts {
		if len(m.Policy[x]) != len(t.Alternatives) || len(m.LogRatio[x]) != len(t.Alternatives) {
			return nil, fmt.Errorf("prompt %d: policy has %d entries for %d alternatives", x, len(m.Policy[x]), len(t.Alternatives))
		}
	}
	pol := view(w, func(x int) []float64 { return m.Policy[x] })
	lr := view(w, func(x int) []float64 { return m.LogRatio[x] })
	mean := func(f func(x int) float64) float64 {
		var s float64
		for x := range w.Prompts {
			s += w.Prior[x] * f(x)
		}
		return s
	}
	out := map[string]Value{}
	for _, n := range names {
		switch n {
		case "policy":
			out[n] = Vec(pol)
		case "policy_se":
			out[n] = Vec(spread(w, func(x int) []float64 { return m.Policy[x] }))
		case "log_ratio":
			out[n] = Vec(lr)
		case "top":
			out[n] = Str(Top(w.Labels, pol))
			if nu := m.notUnique(); nu != "" {
				if len(m.Policy) == 1 && len(m.NotUniqueTop) == 1 && m.NotUniqueTop[0] != "" {
					// every optimum has the same top: a finding
					out[n] = Str(m.NotUniqueTop[0])
				} else {
					out[n] = Str(nu)
				}
			}
		case "argmax":
			out[n] = argmax(w.Labels, pol)
		case "ranking":
			out[n] = Str(RankingString(w.Labels, lr))
			if nu := m.notUnique(); nu != "" {
				out[n] = Str(nu)
			}
		case "tv":
			out[n] = Num(mean(func(x int) float64 { return TV(m.Policy[x], w.Prompts[x].PiStar) }))
		case "kl":
			out[n] = Num(mean(func(x int) float64 { return KL(m.Policy[x], w.Prompts[x].PiStar) }))
		case "agreement":
			var agree, total int
			for x, p := range w.Prompts {
				a, tot := agreementCounts(m.LogRatio[x], p.AvgReward)
				agree, total = agree+a, total+tot
			}
			if total == 0 {
				out[n] = Num(1)
			} else {
				out[n] = Num(float64(agree) / float64(total))
			}
		case "data_used":
			out[n] = optional(m.DataUsed)
		case "min_type_reward":
			out[n] = Num(minTypeReward(w, m.Policy))
		case "welfare":
			out[n] = Num(mean(func(x int) float64 {
				var v float64
				for y, p := range m.Policy[x] {
					v += p * w.Prompts[x].AvgReward[y]
				}
				return v
			}))
		case "top_is_condorcet", "top_is_avg_winner", "top_is_borda_winner", "tv_maximal_lottery", "distortion":
			if len(w.Prompts) != 1 {
				out[n] = NA()
				continue
			}
			t := w.Prompts[0]
			top := 0
			for y, p := range m.Policy[0] {
				if p > m.Policy[0][top] {
					top = y
				}
			}
			switch n {
			case "top_is_condorcet":
				out[n] = NA()
				if c := CondorcetWinner(t.Pref); c >= 0 {
					out[n] = indicator(top == c)
				}
			case "top_is_avg_winner":
				out[n] = indicator(isMax(t.AvgReward, top))
			case "top_is_borda_winner":
				out[n] = indicator(isMax(BordaScores(t.Pref), top))
			case "tv_maximal_lottery":
				p, err := MaximalLottery(t.Pref)
				if err != nil {
					return nil, err
				}
				out[n] = Num(TV(m.Policy[0], p))
			case "distortion":
				out[n] = Num(Distortion(t, m.Policy[0]))
			}
		case "sigma", "sigma_pearson", "sigma_spearman":
			out[n] = NA()
			if len(m.Sigma) != len(w.Prompts) {
				continue
			}
			if n == "sigma" {
				out[n] = Vec(view(w, func(x int) []float64 { return m.Sigma[x] }))
				continue
			}
			corr := Pearson
			if n == "sigma_spearman" {
				corr = Spearman
			}
			var s float64
			ok := true
			for x, t := range w.Prompts {
				c, def := corr(m.Sigma[x], RewardSpread(t))
				if !def {
					ok = false
					break
				}
				s += w.Prior[x] * c
			}
			if ok {
				out[n] = Num(s)
			}
		case "type_recovery", "log_likelihood", "latent_types":
			out[n] = LatentMetric(n, m.Latent)
		}
	}
	if err := computeAxioms(w, m, names, refit, out); err != nil {
		return nil, err
	}
	return out, nil
}

// LatentMetric is metric name ("type_recovery", "log_likelihood" or
// "latent_types") of what a method that infers annotator types found
// (none for other methods): the adjusted Rand index between the inferred
// and the true types (WeightedARI on an exact population), the held-out
// log-likelihood per annotator, and each latent type's share and top
// alternative.
func LatentMetric(name string, l *Latent) Value {
	if l == nil {
		return NA()
	}
	switch name {
	case "type_recovery":
		if len(l.Assign) != len(l.True) || len(l.Assign) < 2 {
			return NA()
		}
		a, b := make([]int, len(l.Assign)), make([]int, len(l.True))
		for i := range a {
			a[i], b[i] = int(l.Assign[i]), int(l.True[i])
		}
		if l.Mass != nil {
			return Num(WeightedARI(a, b, l.Mass))
		}
		return Num(ARI(a, b))
	case "log_likelihood":
		return optional(l.HeldOutLogLik)
	case "latent_types":
		parts := make([]string, len(l.Alpha))
		for k, a := range l.Alpha {
			parts[k] = fmt.Sprintf("%.3g %s", a, l.Tops[k])
		}
		return Str(strings.Join(parts, ", "))
	}
	return NA()
}

// minTypeReward is the worst-off type's expected reward under π:
// min_u Σ_x prior(x) Σ_y π(y|x) r*(y; u) (the egalitarian welfare).
func minTypeReward(w *analytic.World, pol [][]float64) float64 {
	worst := math.Inf(1)
	for u := range w.Prompts[0].Types {
		var v float64
		for x, t := range w.Prompts {
			for y, p := range pol[x] {
				v += w.Prior[x] * p * t.Rewards[u][y]
			}
		}
		worst = math.Min(worst, v)
	}
	return worst
}

// ARI is the adjusted Rand index of two labelings of the same items
// (Hubert and Arabie 1985): 1 for the same partition up to renaming, 0
// in expectation for independent random ones.
func ARI(a, b []int) float64 {
	type pair struct{ x, y int }
	nij := map[pair]float64{}
	ai, bj := map[int]float64{}, map[int]float64{}
	for i := range a {
		nij[pair{a[i], b[i]}]++
		ai[a[i]]++
		bj[b[i]]++
	}
	c2 := func(n float64) float64 { return n * (n - 1) / 2 }
	var sij, sa, sb float64
	for _, v := range nij {
		sij += c2(v)
	}
	for _, v := range ai {
		sa += c2(v)
	}
	for _, v := range bj {
		sb += c2(v)
	}
	exp := sa * sb / c2(float64(len(a)))
	mx := (sa + sb) / 2
	if mx == exp {
		return 1
	}
	return (sij - exp) / (mx - exp)
}

// WeightedARI is the adjusted Rand index of two labelings of a population
// whose items have masses m (an exact population of annotator records):
// the limit of ARI as every item is replicated in proportion to its mass
// and the count grows without bound. With p_ij, a_i and b_j the masses
// (normalised to 1) of the contingency cells and margins, C(n·p, 2)/C(n, 2)
// → p², so
//
//	ARI = (Σ p_ij² − Σ a_i² Σ b_j²) / (½(Σ a_i² + Σ b_j²) − Σ a_i² Σ b_j²),
//
// 1 for the same partition, 0 when the labelings are independent (p_ij =
// a_i b_j).
func WeightedARI(a, b []int, m []float64) float64 {
	type pair struct{ x, y int }
	pij := map[pair]float64{}
	ai, bj := map[int]float64{}, map[int]float64{}
	var tot float64
	for i := range a {
		tot += m[i]
	}
	for i := range a {
		pij[pair{a[i], b[i]}] += m[i] / tot
		ai[a[i]] += m[i] / tot
		bj[b[i]] += m[i] / tot
	}
	var sij, sa, sb float64
	for _, v := range pij {
		sij += v * v
	}
	for _, v := range ai {
		sa += v * v
	}
	for _, v := range bj {
		sb += v * v
	}
	exp := sa * sb
	mx := (sa + sb) / 2
	if math.Abs(mx-exp) < 1e-15 {
		return 1
	}
	return (sij - exp) / (mx - exp)
}

// TV is the total variation distance ½ Σ |p − q|.
func TV(p, q []float64) float64 {
	var s float64
	for i := range p {
		s += math.Abs(p[i] - q[i])
	}
	return s / 2
}

// KL is Σ p log(p/q), with 0·log 0 = 0.
func KL(p, q []float64) float64 {
	var s float64
	for i := range p {
		if p[i] > 0 {
			s += p[i] * math.Log(p[i]/q[i])
		}
	}
	return s
}

// Agreement is the fraction of pairs (a, b) with r̄(a) ≠ r̄(b) on which
// sign(θ(a) − θ(b)) = sign(r̄(a) − r̄(b)), the ordinal agreement of an
// induced reward with the average reward (Appendix F). A tie in θ counts as
// disagreement. With no such pair it is 1.
func Agreement(theta, avg []float64) float64 {
	agree, total := agreementCounts(theta, avg)
	if total == 0 {
		return 1
	}
	return float64(agree) / float64(total)
}

// agreementCounts counts the pairs Agreement compares and those that agree.
func agreementCounts(theta, avg []float64) (agree, total int) {
	for a := range avg {
		for b := a + 1; b < len(avg); b++ {
			dr := avg[a] - avg[b]
			if math.Abs(dr) <= tieTol {
				continue
			}
			total++
			dt := theta[a] - theta[b]
			if math.Abs(dt) > tieTol && (dt > 0) == (dr > 0) {
				agree++
			}
		}
	}
	return agree, total
}

// Top names the alternative(s) with the largest value; ties within 1e-9 are
// joined with " = ".
func Top(names []string, v []float64) string {
	best := math.Inf(-1)
	for _, x := range v {
		best = math.Max(best, x)
	}
	var tops []string
	for i, x := range v {
		if best-x <= tieTol {
			tops = append(tops, names[i])
		}
	}
	return strings.Join(tops, " = ")
}

// RankingString orders names by v, largest first, e.g. "y2 > y1 = y3".
func RankingString(names []string, v []float64) string {
	idx := analytic.Ranking(v)
	var b strings.Builder
	for k, i := range idx {
		if k > 0 {
			if v[idx[k-1]]-v[i] <= tieTol {
				b.WriteString(" = ")
			} else {
				b.WriteString(" > ")
			}
		}
		b.WriteString(names[i])
	}
	return b.String()
}

// Evaluate computes the named metrics of a world (a truth step's output,
// decoded), and of a trained model when trained is not nil (a train step's
// output bytes): truth metrics alone, or a method's against the truth.
// Names that do not apply to the world are left out.
func Evaluate(world any, trained []byte, names []string) (map[string]Value, error) {
	return EvaluateRefit(world, trained, names, nil)
}

// EvaluateRefit is Evaluate with the method's exact fit on variations of
// a World of finite alternatives (nil: none), which the axiom metrics use.
func EvaluateRefit(world any, trained []byte, names []string, refit Refit) (map[string]Value, error) {
	switch w := world.(type) {
	case *analytic.World:
		if trained == nil {
			return ComputeTruth(w, names)
		}
		var m Trained
		if err := json.Unmarshal(trained, &m); err != nil {
			return nil, fmt.Errorf("reading trained policy: %w", err)
		}
		return ComputeMethodRefit(w, &m, names, refit)
	case *sequence.World:
		if trained == nil {
			return ComputeSequenceTruth(w, names)
		}
		var m SeqTrained
		if err := json.Unmarshal(trained, &m); err != nil {
			return nil, fmt.Errorf("reading trained model: %w", err)
		}
		return ComputeSequenceMethod(w, &m, names)
	}
	return nil, fmt.Errorf("no metrics for a world of type %T", world)
}

// RewardSpread is the type-weighted standard deviation of each
// alternative's reward across types, √(Σ_u w_u (r*(y;u) − r̄(y))²) with
// r̄ = Σ_u w_u r*(·;u) (Eq. 9): what a distributional reward's σ should
// track.
func RewardSpread(t *analytic.Truth) []float64 {
	out := make([]float64, len(t.Alternatives))
	for y := range out {
		var m, v float64
		for u, w := range t.Weights {
			m += w * t.Rewards[u][y]
		}
		for u, w := range t.Weights {
			v += w * (t.Rewards[u][y] - m) * (t.Rewards[u][y] - m)
		}
		out[y] = math.Sqrt(v)
	}
	return out
}

// spreadTol is the relative spread below which a vector counts as
// constant in a correlation (its standard deviation under 1e-9 of its
// largest magnitude, or 1e-12 absolutely).
const spreadTol = 1e-9

// Pearson is the correlation Σ(a−ā)(b−b̄)/√(Σ(a−ā)² Σ(b−b̄)²); ok is false
// when either vector is constant (the correlation is undefined).
func Pearson(a, b []float64) (r float64, ok bool) {
	n := float64(len(a))
	var ma, mb, sa, sb float64
	for i := range a {
		ma += a[i] / n
		mb += b[i] / n
	}
	constant := func(v []float64, m float64) (float64, bool) {
		var ss, big float64
		for _, x := range v {
			ss += (x - m) * (x - m)
			big = math.Max(big, math.Abs(x))
		}
		return ss, math.Sqrt(ss/n) <= math.Max(spreadTol*big, 1e-12)
	}
	var ca, cb bool
	if sa, ca = constant(a, ma); ca {
		return 0, false
	}
	if sb, cb = constant(b, mb); cb {
		return 0, false
	}
	var sab float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
	}
	return sab / math.Sqrt(sa*sb), true
}

// Spearman is Pearson's correlation of the mid-ranks (values within
// tieTol share the mean of their ranks); ok is false when either vector
// is constant.
func Spearman(a, b []float64) (float64, bool) {
	return Pearson(midRanks(a), midRanks(b))
}

// midRanks are 1-based ranks with tied values (within tieTol) given the
// mean of the ranks they span.
func midRanks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return v[idx[i]] < v[idx[j]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]]-v[idx[i]] <= tieTol {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}
