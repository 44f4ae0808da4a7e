package circular

import (
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/methods/tabular"
)

// paper is the published environment of Section 7.2.
func paper() *Env {
	u := make([]float64, 40)
	for i := range u {
		u[i] = 1.0 / 40
	}
	return &Env{
		N: 40,
		Types: []Type{
			{Name: "left", Shift: -10, Scale: 4, Decay: 0.075, Shape: Linear},
			{Name: "center", Shift: 0, Scale: 1.5, Decay: 0.1, Shape: Linear},
			{Name: "right", Shift: 10, Scale: 4, Decay: 0.075, Shape: Linear},
		},
		Weights: []float64{1. / 3, 1. / 3, 1. / 3},
		Prior:   u, Reference: u, Sampling: u,
		Beta: 1, Preference: envs.Preference{Temperature: 1},
	}
}

func TestRewardShapes(t *testing.T) {
	tests := []struct {
		shape string
		d     int
		want  float64
	}{
		{Linear, 0, 4}, {Linear, 5, 4 * (1 - 0.5)}, {Linear, 20, 0},
		{Quadratic, 5, 4 * (1 - 0.25)}, {Exponential, 5, 4 * math.Exp(-0.5)}, {Gaussian, 5, 4 * math.Exp(-0.125)},
	}
	for _, tc := range tests {
		ty := Type{Scale: 4, Decay: 0.1, Shape: tc.shape}
		if got := ty.R(tc.d); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s R(%d) = %v, want %v", tc.shape, tc.d, got, tc.want)
		}
	}
	if Distance(1, 39, 40) != 2 || Distance(39, 1, 40) != 2 || Distance(0, 20, 40) != 20 {
		t.Error("circular distance")
	}
	// Ideal point of the left type for prompt 3 is 3 − 10 = 33 (mod 40).
	if got := paper().Types[0].Reward(3, 33, 40); got != 4 {
		t.Errorf("reward at the ideal point %v", got)
	}
}

// profile averages v(x)[y] over prompts along δ = y − x.
func profile(n int, v func(x int) []float64) map[int]float64 {
	out := map[int]float64{}
	for x := range n {
		for y, val := range v(x) {
			d := ((y-x+n/2)%n+n)%n - n/2
			out[d] += val / float64(n)
		}
	}
	return out
}

func TestShapesOfTheTruth(t *testing.T) {
	w, err := paper().World()
	if err != nil {
		t.Fatal(err)
	}
	pi := profile(40, func(x int) []float64 { return w.Prompts[x].PiStar })
	nbc := profile(40, func(x int) []float64 { return w.Prompts[x].NBC })
	// π* is bimodal at ±10 with a weaker local maximum at 0.
	for d := -20; d < 20; d++ {
		if d != 10 && d != -10 && pi[d] >= pi[10] {
			t.Errorf("π*(δ=%d) = %v ≥ π*(10) = %v", d, pi[d], pi[10])
		}
	}
	if math.Abs(pi[10]-pi[-10]) > 1e-12 || !(pi[0] > pi[1] && pi[0] > pi[-1] && pi[0] < pi[10]) {
		t.Errorf("π* around 0: %v %v %v; at ±10: %v", pi[-1], pi[0], pi[1], pi[10])
	}
	// NBC peaks at 0.
	for d := -20; d < 20; d++ {
		if d != 0 && nbc[d] >= nbc[0] {
			t.Errorf("NBC(δ=%d) = %v ≥ NBC(0) = %v", d, nbc[d], nbc[0])
		}
	}
}

// About 15.6% of uniformly drawn pairs are unanimous (REFERENCE.md); the
// consistent loss uses exactly that share of full-information data.
func TestUnanimousShare(t *testing.T) {
	e := paper()
	// Independent count: every (x, y1, y2), the probability that all
	// three types agree, Π σ + Π (1 − σ).
	var share float64
	for x := range 40 {
		for y1 := range 40 {
			for y2 := range 40 {
				p2, p1 := 1.0, 1.0
				for _, ty := range e.Types {
					s := 1 / (1 + math.Exp(-(ty.Reward(x, y2, 40) - ty.Reward(x, y1, 40))))
					p2 *= s
					p1 *= 1 - s
				}
				share += (p1 + p2) / (40 * 40 * 40)
			}
		}
	}
	if math.Round(share*1000) != 156 {
		t.Errorf("unanimous share %v, the paper reports about 15.6%%", share)
	}
	w, _ := e.World()
	d, err := w.PopulationData(analytic.Full)
	if err != nil {
		t.Fatal(err)
	}
	var used float64
	for x, ds := range d.Prompts {
		r, err := tabular.Fit(ds, w.Prompts[x].Reference, tabular.Config{Kind: "consistent", Beta: 1, Types: 3})
		if err != nil {
			t.Fatal(err)
		}
		used += d.Mass[x] * r.DataUsed
		// Eq. 20 in the infinite-data limit is π* (equal weights, BT).
		for y, p := range r.Policy {
			if math.Abs(p-w.Prompts[x].PiStar[y]) > 1e-9 {
				t.Fatalf("prompt %d: consistent policy off π* by %g", x, p-w.Prompts[x].PiStar[y])
			}
		}
	}
	if math.Abs(used-share) > 1e-12 {
		t.Errorf("consistent loss uses %v of the data, want the unanimous share %v", used, share)
	}
}

// DPO (infinite data) peaks at δ = 0 like NBC; relabelled DPO recovers π*.
func TestPopulationMethods(t *testing.T) {
	w, _ := paper().World()
	anon, _ := w.PopulationData(analytic.Anonymous)
	typed, _ := w.PopulationData(analytic.Typed)
	dpo := make([][]float64, 40)
	for x := range 40 {
		r, err := tabular.Fit(anon.Prompts[x], w.Prompts[x].Reference, tabular.Config{Kind: "dpo", Beta: 1})
		if err != nil {
			t.Fatal(err)
		}
		dpo[x] = r.Policy
		rl, err := tabular.Fit(typed.Prompts[x], w.Prompts[x].Reference, tabular.Config{Kind: "relabel-dpo", Beta: 1})
		if err != nil {
			t.Fatal(err)
		}
		for y, p := range rl.Policy {
			if math.Abs(p-w.Prompts[x].PiStar[y]) > 1e-9 {
				t.Fatalf("prompt %d: relabelled DPO off π* by %g", x, p-w.Prompts[x].PiStar[y])
			}
		}
	}
	prof := profile(40, func(x int) []float64 { return dpo[x] })
	for d := -20; d < 20; d++ {
		if d != 0 && prof[d] >= prof[0] {
			t.Errorf("π_DPO(δ=%d) = %v ≥ π_DPO(0) = %v", d, prof[d], prof[0])
		}
	}
}

// Consensus sampled by its closed form agrees in distribution with
// resampling every type until all agree.
func TestConsensusMatchesResampling(t *testing.T) {
	e := paper().Prompt(0)
	pop, _ := e.PopulationDataset(analytic.Consensus)
	// Resampling until agreement, pair (a, b) = (30, 10) (near left's and
	// right's ideal points): estimate Pr(consensus prefers 30).
	a, b := 30, 10
	tp := e.TypePrefs()
	rngState := uint64(1)
	next := func() float64 { // a small LCG: independent of the sampler under test
		rngState = rngState*6364136223846793005 + 1442695040888963407
		return float64(rngState>>11) / (1 << 53)
	}
	const trials = 200_000
	wins := 0
	for range trials {
		for {
			all, none := true, true
			for u := range tp {
				if next() < tp[u][a][b] {
					none = false
				} else {
					all = false
				}
			}
			if all || none {
				if all {
					wins++
				}
				break
			}
		}
	}
	got := float64(wins) / trials
	want := pop.Won[a][b] / (pop.Won[a][b] + pop.Won[b][a])
	se := math.Sqrt(want * (1 - want) / trials)
	if math.Abs(got-want) > 5*se {
		t.Errorf("resampling gives %v, closed form %v ± %v", got, want, se)
	}
}

func BenchmarkSample500k(b *testing.B) {
	w, _ := paper().World()
	for _, regime := range analytic.Regimes {
		b.Run(regime, func(b *testing.B) {
			for b.Loop() {
				if _, err := w.Sample(regime, 500_000, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Corrected DPO (Section 5.1, Fig. 4b) in the infinite-data limit with the
// exact variance term: α = 0 is DPO; raising α moves mass from δ = 0
// towards ±10, and at α = 2, π(±10) > π(0).
func TestCorrectedDPO(t *testing.T) {
	w, _ := paper().World()
	anon, _ := w.PopulationData(analytic.Anonymous)
	prof := map[float64]map[int]float64{}
	for _, alpha := range []float64{0, 1, 2, 4} {
		pol := make([][]float64, 40)
		for x := range 40 {
			v := tabular.PreferenceVariance(w.Prompts[x].Env())
			r, err := tabular.FitCorrected(anon.Prompts[x], w.Prompts[x].Reference, tabular.CorrectedConfig{Beta: 1, Alpha: alpha, V: v})
			if err != nil {
				t.Fatalf("α = %v, prompt %d: %v", alpha, x, err)
			}
			pol[x] = r.Policy
		}
		prof[alpha] = profile(40, func(x int) []float64 { return pol[x] })
	}
	dpo := make([][]float64, 40)
	for x := range 40 {
		r, _ := tabular.Fit(anon.Prompts[x], w.Prompts[x].Reference, tabular.Config{Kind: "dpo", Beta: 1})
		dpo[x] = r.Policy
	}
	d0 := profile(40, func(x int) []float64 { return dpo[x] })
	if math.Abs(prof[0][0]-d0[0]) > 1e-8 || math.Abs(prof[0][10]-d0[10]) > 1e-8 {
		t.Errorf("α = 0 differs from DPO: %v vs %v", prof[0][0], d0[0])
	}
	for _, pair := range [][2]float64{{0, 1}, {1, 2}, {2, 4}} {
		lo, hi := prof[pair[0]], prof[pair[1]]
		if !(hi[10]-hi[0] > lo[10]-lo[0]) {
			t.Errorf("α %v → %v did not move mass towards ±10: π(10) − π(0) %v → %v", pair[0], pair[1], lo[10]-lo[0], hi[10]-hi[0])
		}
	}
	if !(prof[2][10] > prof[2][0] && prof[2][-10] > prof[2][0]) {
		t.Errorf("α = 2: π(±10) = %v, %v, π(0) = %v; want π(±10) > π(0)", prof[2][-10], prof[2][10], prof[2][0])
	}
	t.Logf("π(10) − π(0): α=0 %.4f, α=1 %.4f, α=2 %.4f, α=4 %.4f", prof[0][10]-prof[0][0], prof[1][10]-prof[1][0], prof[2][10]-prof[2][0], prof[4][10]-prof[4][0])
}
