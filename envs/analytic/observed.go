package analytic

import (
	"fmt"
	"math"
	"math/rand/v2"

	"hetalign/envs"
)

// Observed holds real labelled comparisons of a World with one prompt
// (paired-comparison surveys): each row is one annotator's judgement of
// one pair. Datasets are then built from the rows instead of being drawn
// from the preference model.
type Observed struct {
	// Annotators is the number of annotators (ids 0 … Annotators − 1).
	Annotators int           `json:"annotators"`
	Rows       []ObservedRow `json:"rows"`
}

// ObservedRow is one judgement: annotator Annotator (of type Type)
// compared alternatives A and B; Win is 1 when A was preferred, 0 when B
// was, ½ for no preference (a tie counts half each way).
type ObservedRow struct {
	Annotator int32   `json:"annotator"`
	Type      int32   `json:"type"`
	A         int32   `json:"a"`
	B         int32   `json:"b"`
	Win       float64 `json:"win"`
}

// Data builds a dataset of regime from the rows over n alternatives:
// every annotator's rows once when pairs is 0; otherwise a bootstrap
// resample of annotators drawn uniformly with replacement by seed until
// their rows number at least pairs. Won[a][b] is the share of judgements
// preferring a over b (ties half each way); the typed regime also splits
// it by the annotator's type (ByType, whose sum is Won); the annotated
// regime keeps each judgement's annotator (a bootstrap's repeated draws
// of one annotator are distinct annotators). Real comparisons carry one
// label per row, so the full, consensus and paired regimes do not exist.
func (o *Observed) Data(regime string, pairs int, seed uint64, n, types int) (*Data, error) {
	if regime != Anonymous && regime != Typed && regime != envs.Annotated {
		return nil, fmt.Errorf("regime %q needs labels from every type on each pair; observed comparisons have one annotator's label per row: use %q, %q or %q", regime, Anonymous, Typed, envs.Annotated)
	}
	if len(o.Rows) == 0 || o.Annotators < 1 {
		return nil, fmt.Errorf("no observed comparisons")
	}
	if pairs < 0 {
		return nil, fmt.Errorf("pairs must be 0 (every row) or positive (a bootstrap of annotators), got %d", pairs)
	}
	byAnn := make([][]int, o.Annotators)
	for i, r := range o.Rows {
		if r.Annotator < 0 || int(r.Annotator) >= o.Annotators {
			return nil, fmt.Errorf("observed row %d names annotator %d of %d", i, r.Annotator, o.Annotators)
		}
		byAnn[r.Annotator] = append(byAnn[r.Annotator], i)
	}
	// draws lists the annotators the dataset holds, in order.
	var draws []int
	if pairs == 0 {
		for k := range o.Annotators {
			draws = append(draws, k)
		}
	} else {
		rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
		for rows := 0; rows < pairs; {
			k := rng.IntN(o.Annotators)
			draws = append(draws, k)
			rows += len(byAnn[k])
		}
	}
	total := 0
	for _, k := range draws {
		total += len(byAnn[k])
	}
	ds := &Dataset{Regime: regime, Tuples: total, Won: square(n)}
	if regime == Typed {
		ds.ByType = make([][][]float64, types)
		for u := range ds.ByType {
			ds.ByType[u] = square(n)
		}
		// each drawn annotator counts once, whatever its number of rows
		ds.TypeShares = make([]float64, types)
		for _, k := range draws {
			if len(byAnn[k]) > 0 {
				if u := int(o.Rows[byAnn[k][0]].Type); u >= 0 && u < types {
					ds.TypeShares[u] += 1 / float64(len(draws))
				}
			}
		}
	}
	var ad *AnnotatedData
	if regime == envs.Annotated {
		ad = &AnnotatedData{Annotators: len(draws)}
	}
	inv := 1 / float64(total)
	for d, k := range draws {
		for _, i := range byAnn[k] {
			r := o.Rows[i]
			if int(r.A) >= n || int(r.B) >= n || r.A == r.B || r.Type < 0 || int(r.Type) >= types {
				return nil, fmt.Errorf("observed row %d is out of range: %+v", i, r)
			}
			ds.Won[r.A][r.B] += r.Win * inv
			ds.Won[r.B][r.A] += (1 - r.Win) * inv
			if ds.ByType != nil {
				ds.ByType[r.Type][r.A][r.B] += r.Win * inv
				ds.ByType[r.Type][r.B][r.A] += (1 - r.Win) * inv
			}
			if ad == nil {
				continue
			}
			if r.Win > 0 {
				ad.Labels = append(ad.Labels, AnnotatedLabel{Annotator: int32(d), W: r.A, L: r.B, Weight: r.Win})
			}
			if r.Win < 1 {
				ad.Labels = append(ad.Labels, AnnotatedLabel{Annotator: int32(d), W: r.B, L: r.A, Weight: 1 - r.Win})
			}
		}
		if ad != nil {
			t := int32(0)
			if len(byAnn[k]) > 0 {
				t = o.Rows[byAnn[k][0]].Type
			}
			ad.Types = append(ad.Types, t)
		}
	}
	return &Data{Regime: regime, Tuples: total, Seed: seed, Mass: []float64{1}, Prompts: []*Dataset{ds}, Annotated: ad}, nil
}

// AnnotatedData are labels that keep their annotator (the annotated
// regime): Types[i] is annotator i's type (known to the data, not to the
// methods that infer types; metrics compare with it), Labels the
// judgements, each with the prompt and the preferred (W) and other (L)
// alternative.
type AnnotatedData struct {
	Annotators int              `json:"annotators"`
	Types      []int32          `json:"types"`
	Labels     []AnnotatedLabel `json:"labels"`
	// Mass[i] is annotator i's probability in the exact population
	// (PopulationAnnotated: each annotator is a record class); nil when
	// every annotator counts once (sampled or observed data).
	Mass []float64 `json:"mass,omitempty"`
}

// AnnotatedLabel is one judgement of an annotator: W preferred to L at
// prompt X, with weight Weight (½ and ½ for a tie).
type AnnotatedLabel struct {
	Annotator int32   `json:"i"`
	X         int32   `json:"x"`
	W         int32   `json:"w"`
	L         int32   `json:"l"`
	Weight    float64 `json:"v"`
}

// SampleAnnotated draws annotators annotators, each of type u with
// probability w_u, each labelling per tuples: prompt x ~ the prior, y1, y2
// ~ D_x i.i.d., y2 ≻ y1 with probability σ_τ(r(y2;u) − r(y1;u)) (Eq. 8).
// Won per prompt is the share of the prompt's labels (the diagonal holds
// y1 = y2, which says nothing about the annotator); Mass the prompts'
// shares of the labels.
func (w *World) SampleAnnotated(annotators, per int, seed uint64) (*Data, error) {
	if annotators < 1 || per < 1 {
		return nil, fmt.Errorf("annotated data need annotators ≥ 1 and per ≥ 1, got %d and %d", annotators, per)
	}
	rng := rand.New(rand.NewPCG(seed, 0x4cf5ad432745937f))
	cdfX := cumulative(w.Prior)
	type prompt struct {
		cdfD []float64
		tp   [][][]float64
	}
	ps := make([]prompt, len(w.Prompts))
	for x, t := range w.Prompts {
		e := t.Env()
		ps[x] = prompt{cdfD: cumulative(e.Sampling), tp: e.TypePrefs()}
	}
	cdfW := cumulative(w.Prompts[0].Weights)
	ad := &AnnotatedData{Annotators: annotators, Types: make([]int32, annotators)}
	won := make([][][]float64, len(w.Prompts))
	count := make([]int, len(w.Prompts))
	for i := range annotators {
		u := draw(cdfW, rng)
		ad.Types[i] = int32(u)
		for range per {
			x := 0
			if len(w.Prompts) > 1 {
				x = draw(cdfX, rng)
			}
			p := ps[x]
			y1, y2 := draw(p.cdfD, rng), draw(p.cdfD, rng)
			win, lose := y1, y2
			if rng.Float64() < p.tp[u][y2][y1] {
				win, lose = y2, y1
			}
			if won[x] == nil {
				won[x] = square(len(w.Prompts[x].Alternatives))
			}
			won[x][win][lose]++
			count[x]++
			if y1 != y2 {
				ad.Labels = append(ad.Labels, AnnotatedLabel{Annotator: int32(i), X: int32(x), W: int32(win), L: int32(lose), Weight: 1})
			}
		}
	}
	total := annotators * per
	d := &Data{Regime: envs.Annotated, Tuples: total, Seed: seed, Annotated: ad}
	for x := range w.Prompts {
		d.Mass = append(d.Mass, float64(count[x])/float64(total))
		if count[x] == 0 {
			d.Prompts = append(d.Prompts, nil)
			continue
		}
		for a := range won[x] {
			for b := range won[x][a] {
				won[x][a][b] /= float64(count[x])
			}
		}
		d.Prompts = append(d.Prompts, &Dataset{Regime: envs.Annotated, Tuples: count[x], Won: won[x]})
	}
	return d, nil
}

// MaxAnnotatedRecords bounds the annotator records PopulationAnnotated
// enumerates (per true type).
const MaxAnnotatedRecords = 100_000

// PopulationAnnotated is the annotated regime's infinite-annotator limit
// (pairs: 0): the exact population distribution of one annotator's
// record when each annotator, of type u with probability w_u, labels per
// tuples drawn as SampleAnnotated draws them. A tuple gives the label
// "w ≻ l at prompt x" with probability
//
//	q_u(x, w, l) = prior(x) · 2 D_x(w) D_x(l) · σ_τ(r(w;u) − r(l;u))   (w ≠ l, Eq. 8),
//
// and no label (y1 = y2) with probability q_∅ = Σ_x prior(x) Σ_y D_x(y)²;
// a record is the multiset of per such outcomes, of probability
// multinomial(per; c) Π_s q_u(s)^{c_s}. Every multiset is enumerated for
// every type: annotator i of the result is one (type, multiset) with Mass
// w_u · that probability (the masses sum to 1), Types[i] = u, and one label
// per distinct outcome weighted by its count. There are C(S + per − 1,
// per) multisets of S = 1 + Σ_x n_x(n_x − 1) outcomes; beyond
// MaxAnnotatedRecords it is an error (draw annotators instead). Prompts
// hold the anonymous population statistics (every label of the population).
func (w *World) PopulationAnnotated(per int) (*Data, error) {
	if per < 1 {
		return nil, fmt.Errorf("annotated data need per ≥ 1, got %d", per)
	}
	if w.Observed != nil {
		return nil, fmt.Errorf("observed comparisons have the file's annotators: no infinite-annotator limit")
	}
	type outcome struct{ x, w, l int32 }
	var outs []outcome
	none := 0.0
	for x, t := range w.Prompts {
		e := t.Env()
		for a := range e.Alternatives {
			none += w.Prior[x] * e.Sampling[a] * e.Sampling[a]
			for b := range e.Alternatives {
				if a != b {
					outs = append(outs, outcome{int32(x), int32(a), int32(b)})
				}
			}
		}
	}
	S := len(outs) + 1
	// C(S + per − 1, per), stopping once past the limit.
	count := 1.0
	for k := 1; k <= per; k++ {
		count = count * float64(S-1+k) / float64(k)
		if count > MaxAnnotatedRecords {
			return nil, fmt.Errorf("the exact annotated population (pairs: 0) enumerates every annotator record: with %d outcomes per label (%d labelled pairs and 'no label') and per = %d there are more than %d records per type; lower per or draw annotators (annotators: N)",
				S, S-1, per, MaxAnnotatedRecords)
		}
	}
	types := len(w.Prompts[0].Weights)
	// q[u][s]: outcome s's probability for type u; s = S − 1 is no label.
	q := make([][]float64, types)
	prefs := make([][][][]float64, len(w.Prompts))
	for x, t := range w.Prompts {
		prefs[x] = t.Env().TypePrefs()
	}
	for u := range q {
		q[u] = make([]float64, S)
		for s, o := range outs {
			samp := w.Prompts[o.x].Env().Sampling
			q[u][s] = w.Prior[o.x] * 2 * samp[o.w] * samp[o.l] * prefs[o.x][u][o.w][o.l]
		}
		q[u][S-1] = none
	}
	lgamma := func(n int) float64 { v, _ := math.Lgamma(float64(n) + 1); return v }
	ad := &AnnotatedData{}
	c := make([]int, S)
	// Enumerate the compositions c of per into S parts.
	var rec func(s, left int)
	rec = func(s, left int) {
		if s == S-1 {
			c[s] = left
			logMulti := lgamma(per)
			for _, k := range c {
				logMulti -= lgamma(k)
			}
			for u := range types {
				lp := math.Log(w.Prompts[0].Weights[u]) + logMulti
				for t, k := range c {
					if k > 0 {
						lp += float64(k) * math.Log(q[u][t])
					}
				}
				m := math.Exp(lp)
				if m == 0 || math.IsNaN(m) {
					continue
				}
				i := int32(ad.Annotators)
				ad.Annotators++
				ad.Types = append(ad.Types, int32(u))
				ad.Mass = append(ad.Mass, m)
				for t, k := range c[:S-1] {
					if k > 0 {
						o := outs[t]
						ad.Labels = append(ad.Labels, AnnotatedLabel{Annotator: i, X: o.x, W: o.w, L: o.l, Weight: float64(k)})
					}
				}
			}
			return
		}
		for k := 0; k <= left; k++ {
			c[s] = k
			rec(s+1, left-k)
		}
	}
	rec(0, per)
	pop, err := w.PopulationData(Anonymous)
	if err != nil {
		return nil, err
	}
	for _, ds := range pop.Prompts {
		ds.Regime = envs.Annotated
	}
	return &Data{Regime: envs.Annotated, Mass: pop.Mass, Prompts: pop.Prompts, Annotated: ad}, nil
}
