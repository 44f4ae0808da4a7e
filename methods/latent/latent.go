// Package latent fits a mixture of K Bradley–Terry annotator types to
// labelled comparisons whose annotators are known but whose types are not
// (EM-DPO, Chidambaram et al. 2024; the reward mixture of MaxMin-RLHF,
// Chakraborty et al. 2024). Each annotator i has a latent type z_i ~ α;
// given z_i = k, a label "w preferred to l at prompt x" has probability
// σ(θ_k[x][w] − θ_k[x][l]) (Eq. 8 with τ = 1). EM alternates the
// annotators' posteriors over types, from all their labels at once, with
// weighted Bradley–Terry fits per type.
package latent

import (
	"fmt"
	"math"
	"math/rand/v2"

	"hetalign/bradleyterry"
)

// Label is one judgement: annotator Annotator preferred W to L at prompt
// X, with weight Weight (½ each way for a tie).
type Label struct {
	Annotator int32
	X, W, L   int32
	Weight    float64
}

// Problem is a set of labels over Annotators annotators, Prompts prompts
// of N alternatives each. Mass, when set, weights annotator i by Mass[i]
// (an exact population of annotator records, whose masses are their
// probabilities): every sum over annotators below is then Σ_i Mass[i]·…
// over Σ_i Mass[i].
type Problem struct {
	Annotators, Prompts, N int
	Labels                 []Label
	Mass                   []float64
}

// mass is annotator i's weight, 1 without Mass.
func (p *Problem) mass(i int) float64 {
	if p.Mass == nil {
		return 1
	}
	return p.Mass[i]
}

// Fit is a fitted mixture.
type Fit struct {
	// Alpha[k] is type k's share; Theta[k][x][y] its centred BT rewards.
	Alpha []float64
	Theta [][][]float64
	// Post[i][k] is annotator i's posterior probability of type k.
	Post [][]float64
	// LogLik is the labels' log-likelihood under the mixture.
	LogLik float64
	// Iterations of the best start.
	Iterations int
}

// Assign is each annotator's most probable type.
func (f *Fit) Assign() []int {
	out := make([]int, len(f.Post))
	for i, p := range f.Post {
		for k := range p {
			if p[k] > p[out[i]] {
				out[i] = k
			}
		}
	}
	return out
}

// Options of EM.
type Options struct {
	// K types; Starts random starts (the best likelihood is kept); at most
	// MaxIter iterations each, stopping when the log-likelihood rises by
	// less than Tol.
	K, Starts, MaxIter int
	Tol                float64
	// Prior adds Prior pseudo-labels each way to every pair of every
	// prompt and type in the M step (a Bradley–Terry MAP fit that exists
	// even when a type's labels never connect two alternatives).
	Prior float64
	Seed  uint64
	// FitTheta, when set, replaces the M step's Bradley–Terry fit of type
	// k (Hunter's MM) on start `start`: given the type's posterior-weighted
	// win counts wins[x][w][l] (prior included), it returns the type's
	// centred rewards θ_k[x][y]. EM by SGD sets it to a few epochs of DPO
	// training of type k's network, warm-started across iterations.
	FitTheta func(start, k int, wins [][][]float64) ([][]float64, error)
}

// EM fits a K-type mixture: from Starts random soft assignments of the
// annotators (seeded by Seed), alternate
//
//	E: Post[i][k] ∝ α_k Π_{labels of i} σ(θ_k[x][w] − θ_k[x][l])^weight,
//	M: α_k = mean_i Post[i][k]; θ_k[x] = BT fit of the labels weighted by Post[·][k],
//
// (means and fits weighted by Mass when set; the log-likelihood is then
// Σ_i Mass[i] log Σ_k α_k Π …, the expected log-likelihood of one
// annotator's record, whose maximum over the mixtures is attained at the
// population's own mixture when it is identified),
//
// until the log-likelihood gains less than Tol, and keep the start with
// the largest log-likelihood (EM only finds local maxima).
func EM(p Problem, o Options) (*Fit, error) {
	if o.K < 1 || o.Starts < 1 || o.MaxIter < 1 {
		return nil, fmt.Errorf("EM needs K, starts and iterations ≥ 1, got %d, %d, %d", o.K, o.Starts, o.MaxIter)
	}
	if p.Annotators < 1 || len(p.Labels) == 0 || p.N < 2 || p.Prompts < 1 {
		return nil, fmt.Errorf("EM needs annotators, labels and at least two alternatives")
	}
	if p.Mass != nil && len(p.Mass) != p.Annotators {
		return nil, fmt.Errorf("EM: %d annotator masses for %d annotators", len(p.Mass), p.Annotators)
	}
	for i, l := range p.Labels {
		if int(l.Annotator) >= p.Annotators || int(l.X) >= p.Prompts || int(l.W) >= p.N || int(l.L) >= p.N || l.W == l.L || !(l.Weight >= 0) {
			return nil, fmt.Errorf("label %d is out of range: %+v", i, l)
		}
	}
	var best *Fit
	for s := range o.Starts {
		rng := rand.New(rand.NewPCG(o.Seed, uint64(s)*0x9e3779b97f4a7c15+1))
		f := start(p, o.K, rng)
		if err := run(p, o, f, s); err != nil {
			return nil, err
		}
		if best == nil || f.LogLik > best.LogLik {
			best = f
		}
	}
	return best, nil
}

// start draws random soft assignments.
func start(p Problem, k int, rng *rand.Rand) *Fit {
	f := &Fit{Post: make([][]float64, p.Annotators)}
	for i := range f.Post {
		row := make([]float64, k)
		var s float64
		for j := range row {
			row[j] = 0.5 + rng.Float64()
			s += row[j]
		}
		for j := range row {
			row[j] /= s
		}
		f.Post[i] = row
	}
	return f
}

func run(p Problem, o Options, f *Fit, start int) error {
	prev := math.Inf(-1)
	for it := 1; it <= o.MaxIter; it++ {
		if err := mStep(p, o, f, start); err != nil {
			return err
		}
		ll := eStep(p, f)
		f.LogLik, f.Iterations = ll, it
		if math.IsNaN(ll) {
			return fmt.Errorf("EM diverged: the log-likelihood is NaN")
		}
		if ll-prev < o.Tol {
			return nil
		}
		prev = ll
	}
	return nil
}

// mStep sets α and θ from the posteriors.
func mStep(p Problem, o Options, f *Fit, start int) error {
	k := len(f.Post[0])
	f.Alpha = make([]float64, k)
	var total float64
	for i := range f.Post {
		total += p.mass(i)
	}
	for i, row := range f.Post {
		for j, v := range row {
			f.Alpha[j] += p.mass(i) * v / total
		}
	}
	f.Theta = make([][][]float64, k)
	for j := range k {
		wins := make([][][]float64, p.Prompts)
		for x := range wins {
			wins[x] = square(p.N, o.Prior)
		}
		for _, l := range p.Labels {
			wins[l.X][l.W][l.L] += l.Weight * p.mass(int(l.Annotator)) * f.Post[l.Annotator][j]
		}
		if o.FitTheta != nil {
			th, err := o.FitTheta(start, j, wins)
			if err != nil {
				return fmt.Errorf("M step, type %d: %w", j, err)
			}
			f.Theta[j] = th
			continue
		}
		f.Theta[j] = make([][]float64, p.Prompts)
		for x := range wins {
			f.Theta[j][x], _ = bradleyterry.MM(wins[x], 1e-10, 10_000)
		}
	}
	return nil
}

// eStep sets the posteriors from α and θ and returns the log-likelihood.
func eStep(p Problem, f *Fit) float64 {
	k := len(f.Alpha)
	logp := make([][]float64, p.Annotators)
	for i := range logp {
		logp[i] = make([]float64, k)
		for j := range k {
			logp[i][j] = math.Log(f.Alpha[j])
		}
	}
	for _, l := range p.Labels {
		for j := range k {
			th := f.Theta[j][l.X]
			logp[l.Annotator][j] += l.Weight * logSigmoid(th[l.W]-th[l.L])
		}
	}
	var ll float64
	for i, row := range logp {
		lse := logSumExp(row)
		ll += p.mass(i) * lse
		for j, v := range row {
			f.Post[i][j] = math.Exp(v - lse)
		}
	}
	return ll
}

func square(n int, fill float64) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
		for j := range m[i] {
			if j != i {
				m[i][j] = fill
			}
		}
	}
	return m
}

// logSumExp is log Σ_j e^{v_j}, computed from the largest term.
func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// HeldOut is the mean over annotators with labels in test (weighted by
// test.Mass when set) of the log predictive likelihood of those labels
// under the fit: log Σ_k Post[i][k]·Π_{labels of i} σ(θ_k[x][w] −
// θ_k[x][l])^weight, each annotator's posterior coming from the labels
// the fit saw.
func HeldOut(f *Fit, test Problem) float64 {
	k := len(f.Alpha)
	logp := make([][]float64, len(f.Post)) // nil: no held-out label
	for _, l := range test.Labels {
		row := logp[l.Annotator]
		if row == nil {
			row = make([]float64, k)
			for j := range row {
				row[j] = math.Log(f.Post[l.Annotator][j])
			}
			logp[l.Annotator] = row
		}
		for j := range k {
			th := f.Theta[j][l.X]
			row[j] += l.Weight * logSigmoid(th[l.W]-th[l.L])
		}
	}
	var sum, n float64
	for i, row := range logp {
		if row == nil {
			continue
		}
		sum += test.mass(i) * logSumExp(row)
		n += test.mass(i)
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / n
}
