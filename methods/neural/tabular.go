package neural

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"hetalign/envs"
)

// hostTabular reports whether Train fits arch on the host with
// trainTabular: a tabular policy on GoMLX's pure-Go backend. Every loss's
// gradient in a logit table is a scalar dℓ/dz per tuple added to two
// entries, which a graph can only express as a generic gather and
// scatter-add; those cost SimpleGo about 70 µs a step of batch 1,024
// against 37 µs for the whole step written out (BenchmarkTabularFloor). On
// other backends (XLA), and for group-robust DPO (whose weights move with
// each minibatch's group losses), the GoMLX graph runs.
func hostTabular(backend backends.Backend, arch Arch) bool {
	return arch.Kind == "tabular" && backend != nil && backend.String() == simplego.BackendName
}

// trainTabular is Train for the tabular policy, on the host: the same
// minibatches (the same sampler and stream), the same per-tuple dℓ/dz as
// PairLoss's gradient (pairGrad), the same Adam (adamTrainer's update,
// GoMLX's defaults) and the same reported loss, so its policy equals the
// GoMLX trainer's to float64 rounding (TestHostTabularMatchesGraph).
func trainTabular(data *Tuples, nX, nY int, loss Loss, opt Optim, seed uint64) (*Result, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0xda942042e4dd58b5))
	pick, err := envs.NewCategorical(data.Weight)
	if err != nil {
		return nil, fmt.Errorf("tuples: %w", err)
	}
	n := nX * nY
	theta := make([]float64, n)
	m := make([]float64, n)
	v := make([]float64, n)
	g := make([]float64, n)
	i1 := make([]int32, data.Len())
	i2 := make([]int32, data.Len())
	for k, x := range data.X {
		if x < 0 || int(x) >= nX || data.Y1[k] < 0 || int(data.Y1[k]) >= nY || data.Y2[k] < 0 || int(data.Y2[k]) >= nY {
			return nil, fmt.Errorf("tuple %d (%d, %d, %d) is outside the %d × %d table", k, x, data.Y1[k], data.Y2[k], nX, nY)
		}
		i1[k], i2[k] = x*int32(nY)+data.Y1[k], x*int32(nY)+data.Y2[k]
	}
	b1, b2 := float64(adamBeta1), float64(adamBeta2)
	omb1, omb2 := 1-b1, 1-b2
	B := opt.Batch
	inv := 1 / float64(B)
	S := opt.Steps
	tailStart := S - min(lossTail, S)
	var tail []float64
	// DPO (the consistent loss is DPO with Scale |U|), the common case,
	// skips pairGrad's switch; as in PairLoss, every kind not listed is it.
	bce := loss.Kind != "ipo" && loss.Kind != "integral" && loss.Kind != "consistent-published" && loss.Kind != "corrected"
	sc := loss.Beta * loss.Scale
	for step := 0; step < S; step++ {
		alpha := 0.0
		if loss.Kind == "corrected" && step >= loss.WarmSteps {
			alpha = loss.Alpha
		}
		withLoss := step >= tailStart
		var sum float64
		clear(g)
		for range B {
			k := pick.Draw(rng.Float64())
			a, b := i1[k], i2[k]
			var d, l float64
			if bce && !withLoss {
				d = sc * (sigmoid(sc*(theta[b]-theta[a])) - data.Label[k])
			} else {
				var vk float64
				if data.V != nil {
					vk = data.V[k]
				}
				d, l = pairGrad(loss, theta[b]-theta[a], data.Label[k], vk, alpha, withLoss)
			}
			g[b] += d * inv
			g[a] -= d * inv
			sum += l
		}
		if withLoss {
			tail = append(tail, sum*inv)
		}
		nn := float64(step + 1)
		lrc1 := opt.LR * (1 / (1 - math.Pow(b1, nn)))
		c2 := 1 / (1 - math.Pow(b2, nn))
		for i := range theta {
			gi := g[i]
			mi := m[i]*b1 + gi*omb1
			vi := v[i]*b2 + gi*gi*omb2
			m[i], v[i] = mi, vi
			theta[i] -= mi * lrc1 / (math.Sqrt(vi*c2) + adamEpsilon)
		}
	}
	var mean float64
	for _, l := range tail {
		mean += l / float64(len(tail))
	}
	pol := make([][]float64, nX)
	for x := range pol {
		row := theta[x*nY : (x+1)*nY]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, l)
		}
		p := make([]float64, nY)
		var z float64
		for y, l := range row {
			p[y] = math.Exp(l - mx)
			z += p[y]
		}
		for y := range p {
			p[y] /= z
			if math.IsNaN(p[y]) {
				return nil, fmt.Errorf("training diverged: the policy has NaNs")
			}
		}
		pol[x] = p
	}
	return &Result{Policy: pol, FinalLoss: mean}, nil
}

// sigmoid is σ(x) = 1/(1 + e^{−x}), exact at both tails, written as the
// graph computes it (pairLossGrad) rather than as envs.Sigmoid's two
// branches, so that both trainers round alike.
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softplusF is log(1 + eˣ), stable for any x.
func softplusF(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// pairGrad is one tuple's dℓ/dz and (when withLoss) its loss ℓ, for the
// losses of PairLoss with z = score(y2) − score(y1), label p = Pr(y2
// preferred), corrected DPO's V and α:
//
//	dpo, consistent: ℓ = −[p log σ(h) + (1 − p) log σ(−h)], h = sβz, s = Scale; dℓ/dz = sβ(σ(h) − p)
//	ipo: ℓ = p(z − c)² + (1 − p)(−z − c)², c = 1/(2τ); dℓ/dz = 2p(z − c) + 2(1 − p)(z + c)
//	integral (App. C): dℓ/dh = −σ(h)(1 − σ(h))·[p(1 + e^{−Uh}) − (1 − p)(1 + e^{Uh})], h = βz; ℓ reported as h
//	consistent-published: ℓ = p·softplus(−Uh) − (1 − p)·softplus(U(h − 1)), h = βz (orientation-averaged when Symmetric)
//	corrected (Eqs. 17–19): ℓ = −[p log max(q, ε) + (1 − p) log max(1 − q, ε)], q = σ(βz) + α·clamp(½(1 − 2σ)V/(σ(1 − σ)))
func pairGrad(loss Loss, z, p, V, alpha float64, withLoss bool) (d, l float64) {
	switch loss.Kind {
	case "ipo":
		c := 1 / (2 * loss.Tau)
		a, b := z-c, -z-c
		if withLoss {
			l = p*a*a + (1-p)*b*b
		}
		return 2*p*a - 2*(1-p)*b, l
	case "integral":
		u := loss.Scale
		h := z * loss.Beta
		s := sigmoid(h)
		win := p * (1 + math.Exp(-h*u))
		lose := (1 - p) * (1 + math.Exp(h*u))
		return -s * (1 - s) * (win - lose) * loss.Beta, h
	case "consistent-published":
		u := loss.Scale
		h := z * loss.Beta
		// d/dh softplus(x) = σ(x).
		oriented := func(h, p float64) (dh, l float64) {
			dh = -p*u*sigmoid(-u*h) - (1-p)*u*sigmoid(u*(h-1))
			if withLoss {
				l = p*softplusF(-u*h) - (1-p)*softplusF(u*(h-1))
			}
			return dh, l
		}
		dh, l := oriented(h, p)
		if loss.Symmetric {
			dh2, l2 := oriented(-h, 1-p)
			dh, l = 0.5*(dh-dh2), 0.5*(l+l2)
		}
		return dh * loss.Beta, l
	case "corrected":
		s := sigmoid(z * loss.Beta)
		ss := s * (1 - s)
		raw := (1 - 2*s) * 0.5 * V / ss
		c, dc := raw, 0.5*V*(-2*s*s+2*s-1)/(ss*ss) // dc/dσ inside the clamp
		if raw > loss.Clamp {
			c, dc = loss.Clamp, 0
		} else if raw < -loss.Clamp {
			c, dc = -loss.Clamp, 0
		}
		q := s + alpha*c
		var dq float64 // dℓ/dq
		if q > loss.Epsilon {
			dq -= p / q
		}
		if 1-q > loss.Epsilon {
			dq += (1 - p) / (1 - q)
		}
		if withLoss {
			l = -(p*math.Log(math.Max(q, loss.Epsilon)) + (1-p)*math.Log(math.Max(1-q, loss.Epsilon)))
		}
		return dq * (1 + alpha*dc) * ss * loss.Beta, l
	default: // dpo, consistent
		sc := loss.Beta * loss.Scale
		h := z * sc
		if withLoss {
			l = math.Max(h, 0) - h*p + math.Log1p(math.Exp(-math.Abs(h)))
		}
		return sc * (sigmoid(h) - p), l
	}
}
