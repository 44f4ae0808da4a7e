package methods

import (
	"math"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// typedWorld is one prompt over alts with two types of weights w and
// rewards r, uniform D and π_ref, β = 1, and its typed population data.
func typedWorld(t *testing.T, alts []string, w []float64, r [][]float64) (*analytic.World, *analytic.Data) {
	t.Helper()
	n := len(alts)
	u := make([]float64, n)
	for i := range u {
		u[i] = 1 / float64(n)
	}
	e := &analytic.Env{Alternatives: alts, Population: envs.Population{Names: []string{"A", "B"}, Weights: w},
		Rewards: r, Sampling: u, Reference: u, Beta: 1, Preference: envs.Preference{Temperature: 1}}
	tr, err := e.ComputeTruth()
	if err != nil {
		t.Fatal(err)
	}
	wd := analytic.Single(tr)
	d, err := wd.PopulationData(analytic.Typed)
	if err != nil {
		t.Fatal(err)
	}
	return wd, d
}

// On two alternatives the saddle point min_θ max_g L_g(θ) has one free
// parameter, δ = θ(y1) − θ(y2): a fine grid over δ finds the same worst
// group loss (an independent computation). The solution also satisfies
// the saddle conditions: both groups' losses are equal there (each group
// opposes the other, so both are active), while DPO on the pooled data
// serves the majority and leaves the minority worse off.
func TestGroupDPOSaddle(t *testing.T) {
	w, d := typedWorld(t, []string{"y1", "y2"}, []float64{0.8, 0.2}, [][]float64{{2, 0}, {0, 3}})
	res, err := fitTab(t, "group-dpo", `{"gap": 1e-11, "steps": 100000}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	theta := [][]float64{res.LogRatio[0]}
	mass := []float64{0, 0}
	for g := range 2 {
		for _, row := range d.Prompts[0].ByType[g] {
			for _, v := range row {
				mass[g] += v
			}
		}
	}
	l0, l1 := groupLoss(d, 0, mass[0], 1, theta), groupLoss(d, 1, mass[1], 1, theta)
	if math.Abs(l0-l1) > 1e-6 {
		t.Errorf("group losses %v and %v differ at the saddle point", l0, l1)
	}
	best := math.Inf(1)
	for i := -200_000; i <= 200_000; i++ {
		delta := float64(i) * 1e-4
		th := [][]float64{{delta / 2, -delta / 2}}
		best = math.Min(best, math.Max(groupLoss(d, 0, mass[0], 1, th), groupLoss(d, 1, mass[1], 1, th)))
	}
	if got := math.Max(l0, l1); math.Abs(got-best) > 1e-6 {
		t.Errorf("worst group loss %v, the grid's minimum %v", got, best)
	}
	dpoRes, err := fitTab(t, "dpo", `{}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	dth := [][]float64{dpoRes.LogRatio[0]}
	if dl := groupLoss(d, 1, mass[1], 1, dth); dl <= l1+1e-9 {
		t.Errorf("DPO's minority loss %v is not above group-dpo's %v", dl, l1)
	}
}

// Three alternatives: the losses of the groups that carry weight at the
// solution are equal and no group's loss exceeds theirs.
func TestGroupDPOThree(t *testing.T) {
	w, d := typedWorld(t, []string{"y1", "y2", "y3"}, []float64{0.7, 0.3}, [][]float64{{3, 1, 0}, {0, 1, 4}})
	res, err := fitTab(t, "group-dpo", `{"gap": 1e-11, "steps": 100000}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	mass := []float64{0, 0}
	for g := range 2 {
		for _, row := range d.Prompts[0].ByType[g] {
			for _, v := range row {
				mass[g] += v
			}
		}
	}
	th := [][]float64{res.LogRatio[0]}
	l0, l1 := groupLoss(d, 0, mass[0], 1, th), groupLoss(d, 1, mass[1], 1, th)
	if math.Abs(l0-l1) > 1e-6 {
		t.Errorf("group losses %v, %v", l0, l1)
	}
}

// Group-robust DPO by SGD (Ramesh et al.'s Algorithm 1: per-minibatch
// group losses, multiplicative group weights, Adam on the weighted loss)
// on a tabular policy and on the paper's MLP approaches the exact saddle
// point: its policy is within TV 0.02 of the exact solution's and its
// worst group loss within 0.005 of the saddle value (the exact fit's).
func TestGroupDPOSGD(t *testing.T) {
	w, d := typedWorld(t, []string{"y1", "y2", "y3"}, []float64{0.8, 0.2}, [][]float64{{2, 0, 1}, {0, 3, 1}})
	exact, err := fitTab(t, "group-dpo", `{"gap": 1e-10}`, w, d)
	if err != nil {
		t.Fatal(err)
	}
	mass := []float64{0, 0}
	for g := range 2 {
		for _, row := range d.Prompts[0].ByType[g] {
			for _, v := range row {
				mass[g] += v
			}
		}
	}
	worst := func(lr []float64) float64 {
		th := [][]float64{lr}
		return math.Max(groupLoss(d, 0, mass[0], 1, th), groupLoss(d, 1, mass[1], 1, th))
	}
	for _, model := range []string{"tabular", "mlp"} {
		t.Run(model, func(t *testing.T) {
			res, err := fitTab(t, "group-dpo", `{"model": {"kind": "`+model+`"}, "optimizer": {"lr": 0.01, "batch": 512, "steps": 4000}, "eta": 0.01}`, w, d)
			if err != nil {
				t.Fatal(err)
			}
			var tv float64
			for y := range res.Policy[0] {
				tv += math.Abs(res.Policy[0][y]-exact.Policy[0][y]) / 2
			}
			gap := worst(res.LogRatio[0]) - worst(exact.LogRatio[0])
			if tv > 0.02 || gap > 0.005 {
				t.Errorf("SGD policy %v, exact %v: TV %v, worst group loss above the saddle value by %v", res.Policy[0], exact.Policy[0], tv, gap)
			}
		})
	}
}
