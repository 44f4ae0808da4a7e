package sequence

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"hetalign/envs"
)

func opticks(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return b
}

func appendixF() ([]string, []float64, []LengthReward) {
	return []string{"long", "short", "mid"}, []float64{1, 1, 1},
		[]LengthReward{{Shape: "rising"}, {Shape: "falling"}, {Shape: "bump"}}
}

func TestTokenizerRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, text := range [][]byte{nil, []byte("Opticks: or, a treatise"), []byte("naïve ∂ ü"), all} {
		ids := Encode(text)
		if len(ids) != len(text) {
			t.Errorf("%q: %d tokens for %d bytes", text, len(ids), len(text))
		}
		back, err := Decode(ids)
		if err != nil || !slices.Equal(back, text) {
			t.Errorf("round trip of %q gave %q, %v", text, back, err)
		}
	}
	for _, special := range []int32{BOS, SEP, EOS, PAD, -1} {
		if _, err := Decode([]int32{'a', special}); err == nil {
			t.Errorf("decoding token %d: no error", special)
		}
	}
}

// The defaults are Appendix F's functions, written there for L = 512.
func TestLengthRewardsAreAppendixF(t *testing.T) {
	_, _, rs := appendixF()
	closed := []func(x float64) float64{
		func(x float64) float64 { return math.Min(4, math.Exp(x/80)/100) },
		func(x float64) float64 { return math.Min(4, math.Exp((512-x)/80)/100) },
		func(x float64) float64 { return math.Exp(1/(math.Pow((x-256)/64, 2)+1)) - 1 },
	}
	for u, r := range rs {
		for x := 0; x <= 512; x += 7 {
			got, err := r.Defaults().At(x, 512)
			if err != nil {
				t.Fatal(err)
			}
			if want := closed[u](float64(x)); math.Abs(got-want) > 1e-12*math.Max(1, want) {
				t.Errorf("type %d, x = %d: %v, want %v", u, x, got, want)
			}
		}
	}
	// Rescaled to L = 64, x = 32 is the middle: the bump peaks at e − 1.
	if v, _ := rs[2].Defaults().At(32, 64); math.Abs(v-(math.E-1)) > 1e-12 {
		t.Errorf("bump at the middle: %v, want e − 1", v)
	}
	if _, err := (LengthReward{Shape: "cubic"}).At(1, 2); err == nil {
		t.Error("unknown shape: no error")
	}
}

// Resampling every type until all agree labels y2 with probability
// σ(Σ_u Δr_u) under BT: check the closed form and a simulation.
func TestConsensusEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sigma := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	for trial := range 6 {
		delta := []float64{rng.NormFloat64() * 1.5, rng.NormFloat64(), rng.NormFloat64() * 0.5}
		var sum float64
		for _, d := range delta {
			sum += d
		}
		p, agree := ConsensusProb(delta, 1)
		if math.Abs(p-sigma(sum)) > 1e-12 {
			t.Errorf("trial %d: Pr(y2 | agree) = %v, σ(ΣΔ) = %v", trial, p, sigma(sum))
		}
		// Simulate the published procedure.
		const n = 100_000
		wins, rounds := 0, 0
		for range n {
			for {
				rounds++
				votes := 0
				for _, d := range delta {
					if rng.Float64() < sigma(d) {
						votes++
					}
				}
				if votes == 0 || votes == len(delta) {
					if votes > 0 {
						wins++
					}
					break
				}
			}
		}
		freq := float64(wins) / n
		if se := math.Sqrt(p * (1 - p) / n); math.Abs(freq-p) > 5*se+1e-9 {
			t.Errorf("trial %d: resampling gives y2 in %.4f, closed form %.4f (5 SE = %.4f)", trial, freq, p, 5*se)
		}
		if r := float64(rounds) / n; math.Abs(r-1/agree) > 0.05/agree {
			t.Errorf("trial %d: %.3f rounds per label, 1/Pr(agree) = %.3f", trial, r, 1/agree)
		}
	}
}

func newWorld(t testing.TB, L, prompts int) *World {
	names, weights, rs := appendixF()
	w, err := New(Config{Text: opticks(t), L: L, Prompts: prompts, Test: 0.25, PromptMin: 2, PromptMax: L / 4,
		Seed: 3, Names: names, Weights: weights, Rewards: rs, Grid: 9})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCutAndLayout(t *testing.T) {
	w := newWorld(t, 48, 400)
	if len(w.Train)+len(w.Test) != 400 || len(w.Test) != 100 {
		t.Fatalf("split %d + %d", len(w.Train), len(w.Test))
	}
	seen := map[int32]bool{}
	for _, i := range append(slices.Clone(w.Train), w.Test...) {
		if seen[i] {
			t.Fatalf("item %d in both train and test", i)
		}
		seen[i] = true
	}
	s := w.Seqs(w.Test[:5])
	T := w.Context()
	for r := range 10 {
		row := s.Tokens[r*T : (r+1)*T]
		it := w.Items[w.Test[r/2]]
		p, resp := it.Prompt, it.Resp[r%2]
		if row[0] != BOS || row[1+p.Len] != SEP || int(s.Start[r]) != int(p.Len)+2 || row[s.Len[r]-1] != EOS {
			t.Fatalf("row %d: bad layout %v", r, row)
		}
		got, err := Decode(row[s.Start[r] : s.Len[r]-1])
		if err != nil || string(got) != string(w.Text[resp.Off:resp.Off+resp.Len]) {
			t.Fatalf("row %d: response %q, %v", r, got, err)
		}
		for _, tok := range row[s.Len[r]:] {
			if tok != PAD {
				t.Fatalf("row %d: padding %v", r, row)
			}
		}
		if x := w.X(w.Test[r/2], r%2); x < 3 || x > 48 {
			t.Fatalf("x = %d outside [PromptMin + 1, L]", x)
		}
	}
}

func TestSampleRegimes(t *testing.T) {
	w := newWorld(t, 32, 2000)
	pop, err := w.Sample(Anonymous, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := w.Sample(Anonymous, 200*len(w.Train), 7)
	if err != nil {
		t.Fatal(err)
	}
	// Sampled labels average to the population probabilities, item by item.
	n := len(w.Train)
	var worst float64
	for k := range n {
		var mean float64
		for r := range 200 {
			mean += anon.Label[r*n+k] / 200
		}
		worst = math.Max(worst, math.Abs(mean-pop.Label[k])/math.Sqrt(pop.Label[k]*(1-pop.Label[k])/200+1e-12))
	}
	if worst > 5.5 {
		t.Errorf("anonymous labels stray %.1f SE from their probabilities", worst)
	}
	typed, err := w.Sample(Typed, n, 7)
	if err != nil || len(typed.Type) != n {
		t.Fatalf("typed: %v, %d types", err, len(typed.Type))
	}
	cons, err := w.Sample(Consensus, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range cons.Item {
		var sum float64
		for _, d := range w.Delta(i) {
			sum += d
		}
		if want := 1 / (1 + math.Exp(-sum)); math.Abs(cons.Label[k]-want) > 1e-12 {
			t.Fatalf("consensus label %v, σ(ΣΔ) = %v", cons.Label[k], want)
		}
	}
	if cons.Rounds < 1 {
		t.Errorf("rounds per consensus label %v < 1", cons.Rounds)
	}
	if _, err := w.Sample("full", 10, 1); err == nil {
		t.Error("regime full: no error")
	}
	if _, err := w.Sample(Typed, 0, 1); err == nil {
		t.Error("typed population data: no error")
	}
}

func TestAgreementCountsTies(t *testing.T) {
	w := newWorld(t, 32, 400)
	oracle := make([]float64, 2*len(w.Test))
	flat := make([]float64, 2*len(w.Test))
	for k, i := range w.Test {
		oracle[2*k], oracle[2*k+1] = w.Avg[w.X(i, 0)], w.Avg[w.X(i, 1)]
	}
	a, ties, dec, err := w.Agreement(oracle)
	if err != nil || a != dec || ties != 0 || dec == 0 {
		t.Errorf("r̄ itself: %d of %d agree, %d ties, %v", a, dec, ties, err)
	}
	neg := make([]float64, len(oracle))
	for i, v := range oracle {
		neg[i] = -v
	}
	if a, _, _, _ := w.Agreement(neg); a != 0 {
		t.Errorf("−r̄ agrees on %d pairs", a)
	}
	if a, ties, dec2, _ := w.Agreement(flat); a != 0 || ties != dec2 || dec2 != dec {
		t.Errorf("a constant score: %d agree, %d ties of %d", a, ties, dec2)
	}
	if _, _, _, err := w.Agreement(oracle[1:]); err == nil {
		t.Error("wrong number of scores: no error")
	}
	// The profile of r̄ itself rises at both ends of the grid (U shape).
	p := w.Profile(oracle)
	if !(p[0] > p[len(p)/2] && p[len(p)-1] > p[len(p)/2]) {
		t.Errorf("profile of r̄ is not U-shaped: %v", p)
	}
}

func BenchmarkCut(b *testing.B) {
	text := opticks(b)
	names, weights, rs := appendixF()
	for b.Loop() {
		if _, err := New(Config{Text: text, L: 512, Prompts: 40_000, Test: 0.1, PromptMin: 1, PromptMax: 128,
			Names: names, Weights: weights, Rewards: rs, Grid: 17}); err != nil {
			b.Fatal(err)
		}
	}
}

// Annotated data through the world codec: the registered Sample draws
// annotators × per labels, annotator i labels training items
// Train[(i·per + j) mod n], its type is one of the types, and the
// annotator ids and types survive the dataset codec (JSON) unchanged.
func TestSampleAnnotatedCodec(t *testing.T) {
	w := newWorld(t, 32, 80)
	codec, err := envs.World(WorldTag)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := codec.Sample(w, envs.DataSpec{Regime: Annotated, Annotators: 7, Per: 5}, 4)
	if err != nil {
		t.Fatal(err)
	}
	d := raw.(*Data)
	n := len(w.Train)
	if d.Annotators != 7 || len(d.Item) != 35 || len(d.AnnotatorType) != 7 {
		t.Fatalf("%d annotators, %d labels, %d types", d.Annotators, len(d.Item), len(d.AnnotatorType))
	}
	for k := range d.Item {
		i, j := int(d.Annotator[k]), k%5
		if d.Annotator[k] != int32(k/5) || d.Item[k] != w.Train[(i*5+j)%n] || (d.Label[k] != 0 && d.Label[k] != 1) {
			t.Errorf("label %d: annotator %d, item %d, label %v", k, d.Annotator[k], d.Item[k], d.Label[k])
		}
	}
	for _, u := range d.AnnotatorType {
		if u < 0 || int(u) >= len(w.Types) {
			t.Errorf("annotator type %d", u)
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := codec.DecodeData(b)
	if err != nil {
		t.Fatal(err)
	}
	got := back.(*Data)
	if !slices.Equal(got.Annotator, d.Annotator) || !slices.Equal(got.AnnotatorType, d.AnnotatorType) || got.Annotators != 7 || got.Regime != Annotated {
		t.Errorf("after the codec: %+v", got)
	}
	if _, err := codec.Sample(w, envs.DataSpec{Regime: Annotated, Per: 5}, 4); err == nil {
		t.Error("no annotators: no error")
	}
}

// SampleBudget spends a budget of annotator judgments: a consensus label
// of a prompt costs |U|/P(all agree), P = Π_u σ(Δr_u/τ) + Π_u σ(−Δr_u/τ)
// computed here directly, and prompts are labelled in turn while the
// budget lasts; anonymous data spread the budget over the prompts, labels
// averaged per prompt; ConsensusCost is the mean cost over the prompts.
func TestSampleBudget(t *testing.T) {
	w := newWorld(t, 32, 2000)
	n, k := len(w.Train), float64(len(w.Weights))
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cost := func(i int32) float64 {
		a, b := 1.0, 1.0
		for _, d := range w.Delta(i) {
			a *= sig(d / w.Temperature)
			b *= sig(-d / w.Temperature)
		}
		return k / (a + b)
	}
	var mean float64
	for _, i := range w.Train {
		mean += cost(i) / float64(n)
	}
	if got := w.ConsensusCost(); math.Abs(got-mean) > 1e-9*mean {
		t.Errorf("ConsensusCost %v, want %v", got, mean)
	}
	budget := n
	cons, err := w.SampleBudget(Consensus, budget, 3)
	if err != nil {
		t.Fatal(err)
	}
	var spent float64
	for j, i := range cons.Item {
		if i != w.Train[j%n] {
			t.Fatalf("consensus tuple %d labels item %d, want %d", j, i, w.Train[j%n])
		}
		spent += cost(i)
	}
	next := cost(w.Train[len(cons.Item)%n])
	if spent > float64(budget)+1e-9 || spent+next <= float64(budget) || math.Abs(spent-cons.Judgments) > 1e-9*spent {
		t.Errorf("consensus: %d labels cost %v (recorded %v) of %d, the next %v", len(cons.Item), spent, cons.Judgments, budget, next)
	}
	anon, err := w.SampleBudget(Anonymous, 3*n+5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(anon.Item) != n || anon.Judgments != float64(3*n+5) {
		t.Fatalf("anonymous: %d tuples for %d prompts, %v judgments", len(anon.Item), n, anon.Judgments)
	}
	for j, l := range anon.Label {
		m := 3.0
		if j < 5 {
			m = 4
		}
		if r := l * m; math.Abs(r-math.Round(r)) > 1e-9 {
			t.Fatalf("anonymous tuple %d: label %v is not a mean of %v binary labels", j, l, m)
		}
	}
	if few, _ := w.SampleBudget(Anonymous, 10, 3); len(few.Item) != 10 {
		t.Errorf("10 judgments give %d anonymous tuples", len(few.Item))
	}
	if _, err := w.SampleBudget(Annotated, 10, 3); err == nil {
		t.Error("annotated data sized by judgments")
	}
}
