package neural

import (
	"math"
	"math/rand/v2"
	"testing"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

// floorDPO is the arithmetic of Train with Arch tabular and DPO's loss in
// plain Go: steps Adam steps (β1 0.9, β2 0.999, ε 1e-7, GoMLX's defaults)
// on an nX × nY logit table θ starting at 0, each on a minibatch of batch
// tuples drawn in proportion to Weight with the same sampler and stream as
// adamTrainer.fit; z = θ[x, y2] − θ[x, y1], the mean over the batch of
// −[p log σ(βz) + (1 − p) log σ(−βz)], whose gradient (β(σ(βz) − p)/batch
// on θ[x, y2], its negative on θ[x, y1]) is scattered into the table. It
// is the floor a GoMLX step is measured against (BenchmarkTabularFloor).
func floorDPO(data *Tuples, nX, nY int, beta, lr float64, batch, steps int, seed uint64) ([]float64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	pick, err := envs.NewCategorical(data.Weight)
	if err != nil {
		return nil, err
	}
	n := nX * nY
	theta := make([]float64, n)
	m := make([]float64, n)
	v := make([]float64, n)
	g := make([]float64, n)
	const b1, b2, eps = 0.9, 0.999, 1e-7
	inv := 1 / float64(batch)
	for step := 1; step <= steps; step++ {
		clear(g)
		for range batch {
			k := pick.Draw(rng.Float64())
			row := int(data.X[k]) * nY
			i1, i2 := row+int(data.Y1[k]), row+int(data.Y2[k])
			h := beta * (theta[i2] - theta[i1])
			d := beta * (1/(1+math.Exp(-h)) - data.Label[k]) * inv
			g[i2] += d
			g[i1] -= d
		}
		c1 := 1 / (1 - math.Pow(b1, float64(step)))
		c2 := 1 / (1 - math.Pow(b2, float64(step)))
		for i := range theta {
			m[i] = b1*m[i] + (1-b1)*g[i]
			v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
			theta[i] -= lr * m[i] * c1 / (math.Sqrt(v[i]*c2) + eps)
		}
	}
	return theta, nil
}

// The floor does the arithmetic Train does: from the same tuples, seed
// and settings, its softmax of the table is Train's tabular policy to
// float64 rounding.
func TestFloorMatchesTrain(t *testing.T) {
	e := circle(8)
	w, _ := e.World()
	d, _ := w.Sample(analytic.Anonymous, 20_000, 1)
	tu := tuplesOf(d, wonOf)
	be, err := Backend("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	const steps, batch, lr, beta = 200, 64, 1e-2, 1.0
	res, err := Train(be, tu, 8, 8, Loss{Kind: "dpo", Beta: beta, Scale: 1}, Arch{Kind: "tabular"}, Optim{LR: lr, Batch: batch, Steps: steps}, 3)
	if err != nil {
		t.Fatal(err)
	}
	theta, err := floorDPO(tu, 8, 8, beta, lr, batch, steps, 3)
	if err != nil {
		t.Fatal(err)
	}
	for x := range 8 {
		row := theta[x*8 : (x+1)*8]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, l)
		}
		var z float64
		for _, l := range row {
			z += math.Exp(l - mx)
		}
		for y, l := range row {
			if p := math.Exp(l-mx) / z; math.Abs(p-res.Policy[x][y]) > 1e-9 {
				t.Errorf("π(%d|%d): floor %v, Train %v", y, x, p, res.Policy[x][y])
			}
		}
	}
}

// BenchmarkTabularFloor1000Steps is the plain-Go floor of one tabular DPO
// run of BenchmarkPaperDPO1000Steps/tabular: the same 1,000 steps of
// batch 1,024 on the circle of 40.
func BenchmarkTabularFloor1000Steps(b *testing.B) {
	e := circle(40)
	w, _ := e.World()
	d, _ := w.Sample(analytic.Anonymous, 500_000, 1)
	tu := tuplesOf(d, wonOf)
	for b.Loop() {
		if _, err := floorDPO(tu, 40, 40, 1, 1e-3, 1024, 1000, 1); err != nil {
			b.Fatal(err)
		}
	}
}
