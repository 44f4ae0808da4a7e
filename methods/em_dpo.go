package methods

import (
	_ "embed"

	"hetalign/envs"
	"hetalign/methods/latent"
	"hetalign/metrics"
)

//go:embed em_dpo.cue
var emDPOCUE string

func init() {
	Register(Kind{
		Name:    "em-dpo",
		Doc:     "EM-DPO (Chidambaram et al. 2024): EM over K latent annotator types on annotated data (each annotator's posterior from all their labels; a Bradley–Terry reward per type), one policy per type π_k ∝ π_ref·exp(r_k/β), then the mixture of them that minimises the worst type's regret max_k (E_{π_k}[r_k] − E_π[r_k]) (a linear programme); with model/optimizer the M steps train each type's tabular or MLP policy by DPO (SGD, warm-started); on the sequence env the types' rewards are tables over the token count",
		Regimes: []string{envs.Annotated},
		CUE:     emDPOCUE, CUEFile: "hetalign/methods/em_dpo.cue",
		New: func() Params { return new(EMDPO) },
	})
}

// EMDPO is the em-dpo kind's settings.
type EMDPO struct {
	LatentTypes
}

// Defaults: K = 2, 5 starts, 1,000 iterations, prior 0.01, 20% held out,
// β = env.beta.
func (p *EMDPO) Defaults(c Context) { p.LatentTypes.defaults(c) }

// Check: finite alternatives, a held-out share in [0, 1).
func (p *EMDPO) Check(c Context) []Problem { return p.LatentTypes.check(c) }

// FitTabular fits the mixture and the min-max-regret mixture of the
// per-type policies (minMaxRegret).
func (p *EMDPO) FitTabular(in *TabularInput) (*metrics.Trained, error) {
	lf, err := p.fitTypes(in, "em-dpo")
	if err != nil {
		return nil, err
	}
	pol, err := minMaxRegret(lf)
	if err != nil {
		return nil, err
	}
	return lf.trained(in.World, in.Data.Annotated, pol), nil
}

// FitSequence fits the latent types over the token count
// (fitLengthTypes) and scores test sequences by the min-max-regret
// mixture of the per-type policies over counts.
func (p *EMDPO) FitSequence(in *SequenceInput) (*metrics.SeqTrained, error) {
	return p.fitLengthTypes(in, "em-dpo", func(lf *latentFit) ([]float64, error) {
		pol, err := minMaxRegret(lf)
		if err != nil {
			return nil, err
		}
		return pol[0], nil
	})
}

// minMaxRegret is the mixture Σ_j α_j π_j of the per-type policies whose
// α solves latent.MinMaxRegret for M[k][j] = Σ_x prior(x) E_{π_j}[r_k(x)].
func minMaxRegret(lf *latentFit) ([][]float64, error) {
	k := len(lf.policies)
	M := make([][]float64, k)
	for a := range M {
		M[a] = make([]float64, k)
		for j := range M[a] {
			for x, pol := range lf.policies[j] {
				for y, v := range pol {
					M[a][j] += lf.prior[x] * v * lf.rewards[a][x][y]
				}
			}
		}
	}
	alpha, _, err := latent.MinMaxRegret(M)
	if err != nil {
		return nil, err
	}
	pol := make([][]float64, len(lf.ref))
	for x := range pol {
		pol[x] = make([]float64, len(lf.ref[x]))
		for j, a := range alpha {
			for y, v := range lf.policies[j][x] {
				pol[x][y] += a * v
			}
		}
	}
	return pol, nil
}
