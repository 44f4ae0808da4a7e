// Package methods names the alignment methods hetalign knows, what each one
// optimises (with the paper's equation) and which data regime it needs.
// Training code lives in sub-packages: methods/tabular fits tabular policies
// exactly, on population or sampled pair statistics.
package methods

import "slices"

// Kind describes one method kind as a spec names it.
type Kind struct {
	// Name is the spec's `kind` value.
	Name string
	// Regimes lists the data regimes the method can train on; empty means
	// it needs no data (a reference computed from the ground truth).
	Regimes []string
	// Doc states the objective with the paper's equation number.
	Doc string
}

// NeedsData reports whether the method trains on a dataset.
func (k Kind) NeedsData() bool { return len(k.Regimes) > 0 }

// Accepts reports whether the method can train on regime.
func (k Kind) Accepts(regime string) bool { return slices.Contains(k.Regimes, regime) }

// Kinds returns every method kind, sorted by name.
func Kinds() []Kind {
	return []Kind{
		{Name: "consistent", Regimes: []string{"full", "consensus"},
			Doc: "temperature-adjusted DPO, −log σ(|U|·h) (Eq. 20): on the unanimous tuples of full data, or on every tuple of consensus data; consistent for π* under BT with equal weights"},
		{Name: "consistent-integral", Regimes: []string{"full"},
			Doc: "Appendix C's consistent loss on unanimous tuples, −(s + I(s)) with I(θ) = ∫₁^θ (1/t − 1)^|U| dt; its minimiser is π* for any |U|"},
		{Name: "consistent-reward", Regimes: []string{"consensus"},
			Doc: "the consistent loss for reward learning (Appendix F): Eq. 20 with h replaced by r(y2) − r(y1), −log σ(|U|·Δr), on consensus data; sequence env"},
		{Name: "corrected-dpo", Regimes: []string{"anonymous", "full", "paired"},
			Doc: "first-order corrected DPO (Eqs. 17–19): likelihood s + α·½(1 − 2s)V/(s(1 − s)), clamped; V = Var_u[σ_u] exact from the environment or estimated by the joint-likelihood model J on paired data (Section 5.3); warm-started from DPO"},
		{Name: "dpo", Regimes: []string{"anonymous", "full", "paired", "typed"},
			Doc: "DPO: −log σ(β·(log π(y_w)/π_ref(y_w) − log π(y_l)/π_ref(y_l))) (Eq. 6); its infinite-data policy solves Eq. 14"},
		{Name: "ipo", Regimes: []string{"anonymous", "full", "paired", "typed"},
			Doc: "IPO: (log-ratio difference − 1/(2τ))²; its infinite-data log-ratio is affine in NBC (Section 4.2)"},
		{Name: "nbc", Doc: "the win-rate policy π(y) ∝ NBC(y) (Eq. 13), a reference for what DPO follows"},
		{Name: "oracle", Doc: "π* itself (Eq. 10), the reference every method is measured against"},
		{Name: "relabel-dpo", Regimes: []string{"typed"},
			Doc: "one Bradley–Terry reward model per type, averaged with the types' shares, relabels the pairs; DPO on the result (end of Section 6)"},
		{Name: "reward", Regimes: []string{"anonymous", "typed", "consensus"},
			Doc: "Bradley–Terry reward learning, −log σ(r(y_w) − r(y_l)), ignoring heterogeneity on anonymous data (Section 7.3); sequence env"},
	}
}

// Lookup finds a kind by name.
func Lookup(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}
