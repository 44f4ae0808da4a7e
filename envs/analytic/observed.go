package analytic

import (
	"fmt"
	"math/rand/v2"
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
// every row once when pairs is 0; otherwise a bootstrap resample of
// annotators drawn uniformly with replacement by seed until their rows
// number at least pairs. Won[a][b] is the share of judgements preferring a
// over b (ties half each way); the typed regime also splits it by the
// annotator's type (ByType, whose sum is Won). Real comparisons carry one
// label per row, so only the anonymous and typed regimes exist.
func (o *Observed) Data(regime string, pairs int, seed uint64, n, types int) (*Data, error) {
	if regime != Anonymous && regime != Typed {
		return nil, fmt.Errorf("regime %q needs labels from every type on each pair; observed comparisons have one annotator's label per row: use %q or %q", regime, Anonymous, Typed)
	}
	if len(o.Rows) == 0 || o.Annotators < 1 {
		return nil, fmt.Errorf("no observed comparisons")
	}
	var rows []int // indices into o.Rows, with repeats for a bootstrap
	if pairs == 0 {
		rows = make([]int, len(o.Rows))
		for i := range rows {
			rows[i] = i
		}
	} else {
		if pairs < 0 {
			return nil, fmt.Errorf("pairs must be 0 (every row) or positive (a bootstrap of annotators), got %d", pairs)
		}
		byAnn := make([][]int, o.Annotators)
		for i, r := range o.Rows {
			byAnn[r.Annotator] = append(byAnn[r.Annotator], i)
		}
		rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
		for len(rows) < pairs {
			rows = append(rows, byAnn[rng.IntN(o.Annotators)]...)
		}
	}
	ds := &Dataset{Regime: regime, Tuples: len(rows), Won: square(n)}
	if regime == Typed {
		ds.ByType = make([][][]float64, types)
		for u := range ds.ByType {
			ds.ByType[u] = square(n)
		}
	}
	inv := 1 / float64(len(rows))
	for _, i := range rows {
		r := o.Rows[i]
		if int(r.A) >= n || int(r.B) >= n || r.A == r.B || int(r.Type) >= types {
			return nil, fmt.Errorf("observed row %d is out of range: %+v", i, r)
		}
		ds.Won[r.A][r.B] += r.Win * inv
		ds.Won[r.B][r.A] += (1 - r.Win) * inv
		if ds.ByType != nil {
			ds.ByType[r.Type][r.A][r.B] += r.Win * inv
			ds.ByType[r.Type][r.B][r.A] += (1 - r.Win) * inv
		}
	}
	return &Data{Regime: regime, Tuples: len(rows), Seed: seed, Mass: []float64{1}, Prompts: []*Dataset{ds}}, nil
}
