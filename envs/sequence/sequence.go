// Package sequence is the length-based text environment of Section 7.3 and
// Appendix F: prompts and pairs of candidate responses cut from a real text
// corpus, user types whose rewards are functions of the number of tokens
// of prompt plus response, datasets labelled by those types, and test
// pairs ordered by the average reward r̄ (Eq. 9).
//
// Tokenizer: byte-level. Every byte of the UTF-8 text is one token (ids
// 0–255), plus four specials: BOS, SEP (between prompt and response), EOS
// and PAD. A sequence is BOS prompt SEP response EOS PAD…, padded to
// L + 3 tokens, where L bounds prompt + response. Byte-level tokens need
// no trained vocabulary, round-trip any text exactly, and make "number of
// tokens" a property of the text alone; the price is that L tokens are L
// characters, shorter texts than a subword vocabulary would give.
package sequence

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"hetalign/envs"
	"hetalign/methods/neural"
)

// Special tokens and the vocabulary size.
const (
	BOS   = 256
	SEP   = 257
	EOS   = 258
	PAD   = 259
	Vocab = 260
)

// Encode maps text to byte tokens.
func Encode(text []byte) []int32 {
	out := make([]int32, len(text))
	for i, b := range text {
		out[i] = int32(b)
	}
	return out
}

// Decode maps byte tokens back to text; special tokens are an error.
func Decode(ids []int32) ([]byte, error) {
	out := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("token %d at position %d is not a byte", id, i)
		}
		out[i] = byte(id)
	}
	return out, nil
}

// LengthReward is a user type's reward as a function of x, the number of
// tokens of prompt plus response, through u = x/L ∈ [0, 1]. Shapes (with
// their defaults, which are Appendix F's functions for L = 512):
//
//	rising:  min(Cap, e^{Rate·u}/Divisor)       Rate 6.4, Divisor 100, Cap 4  (r1 = min(4, e^{x/80}/100))
//	falling: min(Cap, e^{Rate·(1−u)}/Divisor)   as rising                    (r2 = min(4, e^{(512−x)/80}/100))
//	bump:    e^{1/(((u−Center)/Width)²+1)} − 1  Center 0.5, Width 0.125       (r3 = e^{1/(((x−256)/64)²+1)} − 1)
//	linear:  Slope·u + Intercept                 Slope 1, Intercept 0
type LengthReward struct {
	Shape              string
	Rate, Divisor, Cap float64
	Center, Width      float64
	Slope, Intercept   float64
}

// Defaults fills the zero parameters of the shape with Appendix F's values.
func (r LengthReward) Defaults() LengthReward {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	switch r.Shape {
	case "rising", "falling":
		def(&r.Rate, 512.0/80)
		def(&r.Divisor, 100)
		def(&r.Cap, 4)
	case "bump":
		def(&r.Center, 0.5)
		def(&r.Width, 64.0/512)
	case "linear":
		def(&r.Slope, 1)
	}
	return r
}

// At is the reward of a prompt-and-response of x tokens when L is the
// largest length.
func (r LengthReward) At(x, L int) (float64, error) {
	u := float64(x) / float64(L)
	switch r.Shape {
	case "rising":
		return math.Min(r.Cap, math.Exp(r.Rate*u)/r.Divisor), nil
	case "falling":
		return math.Min(r.Cap, math.Exp(r.Rate*(1-u))/r.Divisor), nil
	case "bump":
		z := (u - r.Center) / r.Width
		return math.Exp(1/(z*z+1)) - 1, nil
	case "linear":
		return r.Slope*u + r.Intercept, nil
	}
	return 0, fmt.Errorf("length reward shape %q is not rising, falling, bump or linear", r.Shape)
}

// Config describes the environment.
type Config struct {
	// Text is the corpus.
	Text []byte
	// L bounds prompt + response tokens.
	L int
	// Prompts is the number of prompts, each with one pair of responses;
	// a Test fraction of them (by prompt) is held out.
	Prompts int
	Test    float64
	// PromptMin and PromptMax bound prompt lengths; responses then take
	// 1 … L − prompt tokens, so prompt + response spans [PromptMin + 1, L].
	PromptMin, PromptMax int
	// Seed draws the cut.
	Seed uint64
	// Types, their weights and length rewards; Temperature τ of BT.
	Names       []string
	Weights     []float64
	Rewards     []LengthReward
	Temperature float64
	// Grid is the number of points of the length views (reports).
	Grid int
}

// Span is a stretch of the corpus.
type Span struct {
	Off int32 `json:"off"`
	Len int32 `json:"len"`
}

// Item is a prompt with a pair of candidate responses, as in HH-RLHF.
type Item struct {
	Prompt Span    `json:"prompt"`
	Resp   [2]Span `json:"resp"`
}

// World is the cut corpus with the exact rewards: R[u][x] is type u's
// reward of x tokens, Avg[x] = Σ_u w_u R[u][x] (Eq. 9), for x = 0 … L.
type World struct {
	// Tag is "sequence", the world codec of truth steps (envs.DecodeWorld).
	Tag         string      `json:"world"`
	Digest      string      `json:"digest"`
	Text        []byte      `json:"text"`
	L           int         `json:"l"`
	Items       []Item      `json:"items"`
	Train       []int32     `json:"train"`
	Test        []int32     `json:"test"`
	Types       []string    `json:"types"`
	Weights     []float64   `json:"weights"`
	R           [][]float64 `json:"r"`
	Avg         []float64   `json:"avg"`
	Temperature float64     `json:"temperature"`
	// GridX are the lengths of the report's length views.
	GridX []int `json:"grid_x"`
}

// Digest is the SHA-256 of a corpus, which identifies it in keys.
func Digest(text []byte) string {
	h := sha256.Sum256(text)
	return hex.EncodeToString(h[:])
}

// New cuts the corpus: for each prompt a length p uniform in
// [PromptMin, PromptMax] and an offset uniform in the corpus; two
// responses of lengths uniform in [1, L − p], each at its own uniform
// offset. Prompts are then split into train and test by a seeded shuffle.
func New(c Config) (*World, error) {
	if c.PromptMin < 1 || c.PromptMax < c.PromptMin || c.PromptMax > c.L-1 {
		return nil, fmt.Errorf("prompt lengths [%d, %d] must lie in [1, L − 1 = %d]", c.PromptMin, c.PromptMax, c.L-1)
	}
	if len(c.Text) < 2*c.L {
		return nil, fmt.Errorf("corpus has %d bytes, fewer than 2L = %d", len(c.Text), 2*c.L)
	}
	w, err := c.world()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	span := func(n int) Span {
		return Span{Off: int32(rng.IntN(len(c.Text) - n + 1)), Len: int32(n)}
	}
	for range c.Prompts {
		p := c.PromptMin + rng.IntN(c.PromptMax-c.PromptMin+1)
		it := Item{Prompt: span(p)}
		for k := range it.Resp {
			it.Resp[k] = span(1 + rng.IntN(c.L-p))
		}
		w.Items = append(w.Items, it)
	}
	w.split(c, rng)
	return w, nil
}

// world checks c and builds a World without items: the rewards per
// length and their average.
func (c Config) world() (*World, error) {
	if c.L < 4 {
		return nil, fmt.Errorf("sequence length %d is too short (need ≥ 4)", c.L)
	}
	nTest := int(math.Round(c.Test * float64(c.Prompts)))
	if c.Prompts < 2 || nTest < 1 || nTest >= c.Prompts {
		return nil, fmt.Errorf("need at least one train and one test prompt: %d prompts, test fraction %v", c.Prompts, c.Test)
	}
	pop, err := envs.NewPopulation(c.Names, c.Weights)
	if err != nil {
		return nil, err
	}
	w := &World{Tag: WorldTag, Digest: Digest(c.Text), Text: c.Text, L: c.L, Types: pop.Names, Weights: pop.Weights, Temperature: c.Temperature}
	if w.Temperature == 0 {
		w.Temperature = 1
	}
	for _, r := range c.Rewards {
		r = r.Defaults()
		row := make([]float64, c.L+1)
		for x := range row {
			if row[x], err = r.At(x, c.L); err != nil {
				return nil, err
			}
		}
		w.R = append(w.R, row)
	}
	if len(w.R) != len(w.Types) {
		return nil, fmt.Errorf("%d types but %d rewards", len(w.Types), len(w.R))
	}
	w.Avg = make([]float64, c.L+1)
	for u, row := range w.R {
		for x, v := range row {
			w.Avg[x] += w.Weights[u] * v
		}
	}
	return w, nil
}

// split holds out a Test fraction of the items, by a seeded shuffle, and
// sets the length views' grid.
func (w *World) split(c Config, rng *rand.Rand) {
	nTest := int(math.Round(c.Test * float64(len(w.Items))))
	perm := rng.Perm(len(w.Items))
	for i, k := range perm {
		if i < nTest {
			w.Test = append(w.Test, int32(k))
		} else {
			w.Train = append(w.Train, int32(k))
		}
	}
	sort.Slice(w.Test, func(a, b int) bool { return w.Test[a] < w.Test[b] })
	sort.Slice(w.Train, func(a, b int) bool { return w.Train[a] < w.Train[b] })
	w.GridX = GridX(c.PromptMin+1, c.L, c.Grid)
}

// DefaultCorpus is the corpus used when a spec names none: a Project
// Gutenberg book that ships with every Go toolchain; "$GOROOT" is
// replaced by the running toolchain's root.
const DefaultCorpus = "$GOROOT/src/testdata/Isaac.Newton-Opticks.txt"

// GridX returns g (at least 2) lengths evenly spread over [lo, L], the
// points of the report's length views.
func GridX(lo, L, g int) []int {
	g = max(g, 2)
	out := make([]int, g)
	for i := range out {
		out[i] = lo + int(math.Round(float64(i)*float64(L-lo)/float64(g-1)))
	}
	return out
}

// X is the token count of prompt plus response k of item i.
func (w *World) X(i int32, k int) int {
	it := w.Items[i]
	return int(it.Prompt.Len + it.Resp[k].Len)
}

// Delta returns Δr_u = r_u(y2) − r_u(y1) of item i for every type.
func (w *World) Delta(i int32) []float64 {
	x1, x2 := w.X(i, 0), w.X(i, 1)
	d := make([]float64, len(w.R))
	for u, row := range w.R {
		d[u] = row[x2] - row[x1]
	}
	return d
}

// Context is the padded length of every sequence: L + 3 (BOS, SEP, EOS).
func (w *World) Context() int { return w.L + 3 }

// Seqs lays out both responses of the given items as token sequences:
// rows 2k and 2k + 1 are item items[k]'s responses 0 and 1.
func (w *World) Seqs(items []int32) *neural.Seqs {
	T := w.Context()
	s := &neural.Seqs{Context: T, Tokens: make([]int32, 0, 2*len(items)*T)}
	for _, i := range items {
		it := w.Items[i]
		for _, r := range it.Resp {
			row := make([]int32, 0, T)
			row = append(row, BOS)
			row = append(row, Encode(w.Text[it.Prompt.Off:it.Prompt.Off+it.Prompt.Len])...)
			row = append(row, SEP)
			start := len(row)
			row = append(row, Encode(w.Text[r.Off:r.Off+r.Len])...)
			row = append(row, EOS)
			n := len(row)
			for len(row) < T {
				row = append(row, PAD)
			}
			s.Tokens = append(s.Tokens, row...)
			s.Len = append(s.Len, int32(n))
			s.Start = append(s.Start, int32(start))
		}
	}
	return s
}

// Regimes the environment samples.
const (
	Anonymous = "anonymous"
	Typed     = "typed"
	Consensus = "consensus"
)

// Data is a labelled dataset over training items: tuple k is item Item[k]
// with Label[k] the probability (0 or 1 when sampled) that response 1 is
// preferred; Type[k] is the labeller (typed data). Annotated data keep
// each label's annotator, Annotator[k] (0 … Annotators − 1), whose type is
// AnnotatorType[i] (known to the data, not to the methods that infer
// types).
type Data struct {
	Regime        string    `json:"regime"`
	Item          []int32   `json:"item"`
	Label         []float64 `json:"label"`
	Type          []int     `json:"type,omitempty"`
	Annotator     []int32   `json:"annotator,omitempty"`
	Annotators    int       `json:"annotators,omitempty"`
	AnnotatorType []int32   `json:"annotator_type,omitempty"`
	// Rounds is the mean number of labelling rounds per consensus label
	// (each round asks every type once); 1 for the other regimes.
	Rounds float64 `json:"rounds"`
	// Judgments is the annotation budget the data cost (SampleBudget; 0
	// for data sized by pairs).
	Judgments float64 `json:"judgments,omitempty"`
}

// ConsensusProb is Pr(y2 | all types agree) = Π_u σ_τ(Δr_u) /
// (Π_u σ_τ(Δr_u) + Π_u σ_τ(−Δr_u)); under BT (τ = 1) it equals
// σ(Σ_u Δr_u) because σ(a)/σ(−a) = e^a. It also returns Pr(agree).
func ConsensusProb(delta []float64, tau float64) (p, agree float64) {
	l2, l1 := 0.0, 0.0 // log Π σ(Δ/τ), log Π σ(−Δ/τ)
	for _, d := range delta {
		l2 += envs.LogSigmoid(d / tau)
		l1 += envs.LogSigmoid(-d / tau)
	}
	return 1 / (1 + math.Exp(l1-l2)), math.Exp(l1) + math.Exp(l2)
}

// Sample labels pairs tuples: tuple k is training item Train[k mod n], so
// pairs = n labels every training prompt once, as published. Labels:
// anonymous and typed draw one type by weight and a BT label from it;
// consensus draws from ConsensusProb (the closed form of resampling every
// type until all agree). pairs = 0 gives population data: every training
// item once with its exact label probability.
func (w *World) Sample(regime string, pairs int, seed uint64) (*Data, error) {
	switch regime {
	case Anonymous, Typed, Consensus:
	default:
		return nil, fmt.Errorf("the sequence environment has no regime %q (it has anonymous, typed and consensus)", regime)
	}
	d := &Data{Regime: regime, Rounds: 1}
	n := len(w.Train)
	count := pairs
	if pairs == 0 {
		count = n
	}
	rng := rand.New(rand.NewPCG(seed, seed^0xbf58476d1ce4e5b9))
	pick, err := envs.NewCategorical(w.Weights)
	if err != nil {
		return nil, fmt.Errorf("type weights: %w", err)
	}
	var rounds float64
	for k := range count {
		i := w.Train[k%n]
		delta := w.Delta(i)
		var p float64
		typ := -1
		switch regime {
		case Consensus:
			var agree float64
			p, agree = ConsensusProb(delta, w.Temperature)
			rounds += 1 / agree
		default:
			if pairs == 0 {
				for u, dl := range delta {
					p += w.Weights[u] * envs.Sigmoid(dl/w.Temperature)
				}
			} else {
				typ = pick.Draw(rng.Float64())
				p = envs.Sigmoid(delta[typ] / w.Temperature)
			}
		}
		if pairs > 0 {
			if rng.Float64() < p {
				p = 1
			} else {
				p = 0
			}
		}
		d.Item = append(d.Item, i)
		d.Label = append(d.Label, p)
		if regime == Typed {
			if typ < 0 {
				return nil, fmt.Errorf("typed data needs pairs > 0 (one labeller per tuple)")
			}
			d.Type = append(d.Type, typ)
		}
	}
	if regime == Consensus {
		d.Rounds = rounds / float64(count)
	}
	return d, nil
}

// ConsensusCost is the mean cost of a consensus label over the training
// prompts, in annotator judgments: |U|·mean_i 1/P_i(all agree), each round
// of resampling asking every type once (ConsensusProb's agree).
func (w *World) ConsensusCost() float64 {
	var s float64
	for _, i := range w.Train {
		_, agree := ConsensusProb(w.Delta(i), w.Temperature)
		s += 1 / agree
	}
	return float64(len(w.Weights)) * s / float64(len(w.Train))
}

// SampleBudget labels training prompts with a budget of annotator
// judgments instead of a number of pairs. A consensus label of prompt i
// costs |U|/P_i(all agree) judgments (the expected number of rounds of
// asking every type once): prompts Train[0], Train[1], … (cycling) are
// labelled while the budget lasts (at least one). An anonymous label
// costs one judgment: each training prompt gets ⌊budget/n⌋ labels, the
// first budget mod n one more, and a prompt's labels are averaged into
// one soft label (their mean: what DPO's expected loss sees); prompts with
// none are left out. Typed labels cost one each and keep one tuple per
// label (cycling over the prompts). Rounds is the mean number of rounds
// per label (consensus), Judgments the budget spent.
func (w *World) SampleBudget(regime string, budget int, seed uint64) (*Data, error) {
	if budget < 1 {
		return nil, fmt.Errorf("a budget of %d judgments", budget)
	}
	n := len(w.Train)
	switch regime {
	case Consensus:
		rng := rand.New(rand.NewPCG(seed, seed^0xbf58476d1ce4e5b9))
		d := &Data{Regime: regime}
		var spent, rounds float64
		k := 0
		for {
			i := w.Train[k%n]
			p, agree := ConsensusProb(w.Delta(i), w.Temperature)
			cost := float64(len(w.Weights)) / agree
			if k > 0 && spent+cost > float64(budget) {
				break
			}
			spent += cost
			rounds += 1 / agree
			label := 0.0
			if rng.Float64() < p {
				label = 1
			}
			d.Item = append(d.Item, i)
			d.Label = append(d.Label, label)
			k++
		}
		d.Rounds = rounds / float64(k)
		d.Judgments = spent
		return d, nil
	case Typed:
		d, err := w.Sample(regime, budget, seed)
		if err != nil {
			return nil, err
		}
		d.Judgments = float64(budget)
		return d, nil
	case Anonymous:
		rng := rand.New(rand.NewPCG(seed, seed^0xbf58476d1ce4e5b9))
		pick, err := envs.NewCategorical(w.Weights)
		if err != nil {
			return nil, fmt.Errorf("type weights: %w", err)
		}
		d := &Data{Regime: regime, Rounds: 1, Judgments: float64(budget)}
		per, extra := budget/n, budget%n
		for k, i := range w.Train {
			m := per
			if k < extra {
				m++
			}
			if m == 0 {
				break
			}
			delta := w.Delta(i)
			var wins float64
			for range m {
				u := pick.Draw(rng.Float64())
				if rng.Float64() < envs.Sigmoid(delta[u]/w.Temperature) {
					wins++
				}
			}
			d.Item = append(d.Item, i)
			d.Label = append(d.Label, wins/float64(m))
		}
		return d, nil
	}
	return nil, fmt.Errorf("the sequence environment sizes %q data by pairs, not judgments (judgments: anonymous, typed, consensus)", regime)
}

// Annotated is the regime whose labels keep their annotator.
const Annotated = envs.Annotated

// SampleAnnotated draws annotators annotators, each of type u with
// probability w_u, each labelling per tuples: annotator i labels training
// items Train[(i·per + j) mod n], j = 0 … per − 1 (so annotators × per =
// n labels every training prompt once, as Sample does), response 1
// preferred with probability σ_τ(Δr_u) (Eq. 8) for the annotator's type
// u. The result depends only on seed.
func (w *World) SampleAnnotated(annotators, per int, seed uint64) (*Data, error) {
	if annotators < 1 || per < 1 {
		return nil, fmt.Errorf("annotated data need annotators ≥ 1 and per ≥ 1, got %d and %d", annotators, per)
	}
	n := len(w.Train)
	if n == 0 {
		return nil, fmt.Errorf("no training prompts")
	}
	pick, err := envs.NewCategorical(w.Weights)
	if err != nil {
		return nil, fmt.Errorf("type weights: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x94d049bb133111eb))
	d := &Data{Regime: Annotated, Rounds: 1, Annotators: annotators}
	for i := range annotators {
		u := pick.Draw(rng.Float64())
		d.AnnotatorType = append(d.AnnotatorType, int32(u))
		for j := range per {
			item := w.Train[(i*per+j)%n]
			p := envs.Sigmoid(w.Delta(item)[u] / w.Temperature)
			label := 0.0
			if rng.Float64() < p {
				label = 1
			}
			d.Item = append(d.Item, item)
			d.Label = append(d.Label, label)
			d.Annotator = append(d.Annotator, int32(i))
		}
	}
	return d, nil
}

// Pairs turns tuples into training pairs over w.Seqs(d.Item): pair k
// compares rows 2k (A) and 2k + 1 (B) with label Label[k]; keep selects
// tuples (nil keeps all).
func (w *World) Pairs(d *Data, keep func(k int) bool) *neural.SeqPairs {
	var items []int32
	var labels []float64
	for k, i := range d.Item {
		if keep == nil || keep(k) {
			items = append(items, i)
			labels = append(labels, d.Label[k])
		}
	}
	sp := &neural.SeqPairs{Seqs: w.Seqs(items), Label: labels}
	for k := range items {
		sp.A = append(sp.A, int32(2*k))
		sp.B = append(sp.B, int32(2*k+1))
		sp.Weight = append(sp.Weight, 1)
	}
	return sp
}

// Agreement compares scores of the test sequences (rows 2k, 2k + 1 of
// w.Seqs(w.Test)) with r̄: agree counts test pairs with r̄(y1) ≠ r̄(y2)
// whose score difference has r̄'s sign, ties those the model scores
// equally (not counted as agreeing), decided the pairs r̄ orders.
func (w *World) Agreement(scores []float64) (agree, ties, decided int, err error) {
	if len(scores) != 2*len(w.Test) {
		return 0, 0, 0, fmt.Errorf("%d scores for %d test pairs", len(scores), len(w.Test))
	}
	for k, i := range w.Test {
		dr := w.Avg[w.X(i, 1)] - w.Avg[w.X(i, 0)]
		if dr == 0 {
			continue
		}
		decided++
		ds := scores[2*k+1] - scores[2*k]
		switch {
		case ds == 0:
			ties++
		case (ds > 0) == (dr > 0):
			agree++
		}
	}
	return agree, ties, decided, nil
}

// Profile is the mean score of test sequences by length, at the grid's
// lengths (each test sequence counts at the nearest grid point), centred
// to mean 0 over the grid points that have sequences; empty points repeat
// their left neighbour.
func (w *World) Profile(scores []float64) []float64 {
	sum := make([]float64, len(w.GridX))
	cnt := make([]float64, len(w.GridX))
	for k, i := range w.Test {
		for r := range 2 {
			x := w.X(i, r)
			j := sort.SearchInts(w.GridX, x)
			if j == len(w.GridX) || (j > 0 && x-w.GridX[j-1] < w.GridX[j]-x) {
				j--
			}
			sum[j] += scores[2*k+r]
			cnt[j]++
		}
	}
	var mean, n float64
	for j := range sum {
		if cnt[j] > 0 {
			sum[j] /= cnt[j]
			mean += sum[j]
			n++
		}
	}
	for j := range sum {
		switch {
		case cnt[j] > 0:
			sum[j] -= mean / n
		case j > 0:
			sum[j] = sum[j-1]
		}
	}
	return sum
}
