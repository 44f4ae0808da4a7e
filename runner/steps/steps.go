// Package steps holds the parameters of each step kind and the code that
// runs one: it connects a step to the registered environments (truth,
// dataset), methods (train) and metrics (eval), and to reports (report).
// Every step reads its inputs' bytes and returns its output's bytes; it
// never touches the cache, and it names no kind: the registries decide.
package steps

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs"
	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
	"hetalign/methods"
	"hetalign/methods/neural"
	"hetalign/methods/reference"
	"hetalign/metrics"
	"hetalign/reports"
	"hetalign/runner/spec"
)

// Step kinds, in data-flow order.
const (
	Truth     = "truth"
	Dataset   = "dataset"
	Reference = "reference"
	Train     = "train"
	// Variations derives a family of populations from a truth (the
	// axioms' removed, cloned, raised and split populations); Refit fits
	// one method on each of them. See metrics/variations.go.
	Variations = "variations"
	Refit      = "refit"
	Eval       = "eval"
	Report     = "report"
)

// NewTruthParams resolves a cell's environment through its kind: the truth
// step's parameters. Data files are read here, at planning time, so that
// their content enters the key.
func NewTruthParams(c *spec.Config) (any, error) {
	return c.Env.Params.Truth(c.Setting())
}

// DatasetParams describes a dataset step. Seed is the cell's seed and is
// present only for sampled datasets (Pairs > 0, or annotated): exact
// datasets are shared by every seed.
type DatasetParams struct {
	Regime     string `json:"regime"`
	Pairs      int    `json:"pairs"`
	Annotators int    `json:"annotators,omitempty"`
	Per        int    `json:"per,omitempty"`
	Judgments  int    `json:"judgments,omitempty"`
	Seed       *int   `json:"seed,omitempty"`
	// Env names the world codec for worlds other than finite alternatives
	// (envs.Kind.World).
	Env string `json:"env,omitempty"`
}

// NewTrainParams resolves method m of a cell with seed: the kind, the
// kind's own resolved settings (its name in the spec is not part of them,
// so equal methods share a step) and, for SGD fits, the seed. It also
// reports whether the fit computes on GoMLX (its key then names the
// backend).
func NewTrainParams(m spec.MethodConfig, seed int) (json.RawMessage, bool, error) {
	p, err := methods.StepParams(m.Kind, m.Params, seed)
	return p, m.Params.SGD(), err
}

// NewReferenceParams are the parameters of the reference step that method
// m of a cell with seed starts from (a pre-trained reference policy);
// ok is false when it needs none.
func NewReferenceParams(m spec.MethodConfig, seed int) (any, bool) {
	return methods.ReferenceParams(m.Params, seed)
}

// EvalParams lists the metrics an eval step computes.
type EvalParams struct {
	Metrics []string `json:"metrics"`
	// Env as in DatasetParams.
	Env string `json:"env,omitempty"`
	// Refit, set when a metric fits the method again on variations of the
	// world (the axiom metrics), is the evaluated method's train-step
	// parameters; each variation's data is the exact population dataset of
	// Regime ("" for methods without data).
	Refit  json.RawMessage `json:"refit,omitempty"`
	Regime string          `json:"regime,omitempty"`
}

// VariationParams describe a variations step: the family of populations
// derived from the step's truth (metrics.Variation).
type VariationParams struct {
	Variation string `json:"variation"`
	// Env as in DatasetParams.
	Env string `json:"env,omitempty"`
}

// RefitParams describe a refit step: the method (its train-step
// parameters) fitted exactly on each population of a variations step,
// with the exact population data of Regime ("" for methods without data).
type RefitParams struct {
	Train     json.RawMessage `json:"train"`
	Regime    string          `json:"regime,omitempty"`
	Variation string          `json:"variation"`
	Env       string          `json:"env,omitempty"`
}

// Options carry what a step needs besides its parameters.
type Options struct {
	// Backend is the GoMLX backend configuration for SGD steps ("go" or
	// empty: the pure-Go backend, one per step).
	Backend string
	// Open, when set, returns the backend to use for any other
	// configuration: the runner opens an XLA backend (a GPU client) once
	// per run and shares it.
	Open func() (backends.Backend, error)
}

// backend opens the backend GoMLX steps compute on.
func (o Options) backend() (backends.Backend, error) {
	if o.Open != nil { // set by the runner for XLA backends: one client per run
		return o.Open()
	}
	return neural.Backend(o.Backend)
}

// Run executes one step. inputs are the outputs of the step's inputs, in
// the order the planner lists them: dataset ← [truth]; reference ←
// [truth]; train ← [truth, dataset, reference] (methods without data:
// [truth]; without a pre-trained reference: no reference); variations ←
// [truth]; refit ← [variations]; eval ← [truth] or [truth, train, refit…];
// report ← the evaluations. seed seeds any random numbers the step
// draws. A report step consumes its inputs (reports.Consume sets each
// entry to nil once read): the caller must not use them afterwards.
func Run(ctx context.Context, kind string, params []byte, seed uint64, inputs [][]byte, opts Options) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch kind {
	case Truth:
		w, err := envs.BuildTruth(params)
		if err != nil {
			return nil, err
		}
		return json.Marshal(w)
	case Dataset:
		var p DatasetParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("dataset params: %w", err)
		}
		w, codec, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		d, err := codec.Sample(w, envs.DataSpec{Regime: p.Regime, Pairs: p.Pairs, Annotators: p.Annotators, Per: p.Per, Judgments: p.Judgments}, seed)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	case Reference:
		w, _, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		sw, ok := w.(*sequence.World)
		if !ok {
			return nil, fmt.Errorf("a reference policy is pre-trained on the sequence environment, not on a world of type %T", w)
		}
		be, err := opts.backend()
		if err != nil {
			return nil, err
		}
		r, err := reference.Build(params, sw, seed, be)
		if err != nil {
			return nil, err
		}
		return json.Marshal(r)
	case Train:
		w, codec, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		var data any
		if len(inputs) > 1 {
			if data, err = codec.DecodeData(inputs[1]); err != nil {
				return nil, fmt.Errorf("reading dataset: %w", err)
			}
		}
		var ref []byte
		if len(inputs) > 2 {
			ref = inputs[2]
		}
		out, err := methods.Train(params, w, data, ref, seed, opts.backend)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	case Variations:
		var p VariationParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("variations params: %w", err)
		}
		w, _, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		aw, ok := w.(*analytic.World)
		if !ok {
			return nil, fmt.Errorf("variations of a world of type %T: only finite alternatives vary", w)
		}
		d, err := metrics.DeriveVariation(p.Variation, aw)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	case Refit:
		var p RefitParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("refit params: %w", err)
		}
		if len(inputs) != 1 {
			return nil, fmt.Errorf("refit step has %d inputs, want its variations", len(inputs))
		}
		var d metrics.Derived
		if err := json.Unmarshal(inputs[0], &d); err != nil {
			return nil, fmt.Errorf("reading variations: %w", err)
		}
		codec, err := envs.World(p.Env)
		if err != nil {
			return nil, err
		}
		fit := refitter(EvalParams{Refit: p.Train, Regime: p.Regime}, codec, seed, opts)
		out := make([]metrics.Prefit, 0, len(d.Worlds))
		for _, w := range d.Worlds {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			pf := metrics.Prefit{Key: metrics.VariationKey(w.Prompts[0])}
			m, err := fit("", w)
			if err != nil {
				// The method has no optimum there: recorded, read by the
				// axiom as "does not apply", as an eval-time refit would.
				pf.Error = err.Error()
			} else {
				pf.Trained = m
			}
			out = append(out, pf)
		}
		return json.Marshal(out)
	case Eval:
		var p EvalParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("eval params: %w", err)
		}
		w, codec, err := truthInput(inputs)
		if err != nil {
			return nil, err
		}
		var trained []byte
		if len(inputs) > 1 {
			trained = inputs[1]
		}
		var refit metrics.Refit
		if len(p.Refit) > 0 {
			refit = refitter(p, codec, seed, opts)
		}
		if len(inputs) > 2 { // refit steps' fits of the planned variations
			if refit, err = metrics.WithPrefits(refit, inputs[2:]); err != nil {
				return nil, err
			}
		}
		vals, err := metrics.EvaluateRefit(w, trained, p.Metrics, refit)
		if err != nil {
			return nil, err
		}
		return json.Marshal(vals)
	case Report:
		var l reports.Layout
		if err := json.Unmarshal(params, &l); err != nil {
			return nil, fmt.Errorf("report params: %w", err)
		}
		r, err := reports.Consume(l, inputs)
		if err != nil {
			return nil, err
		}
		return r.Marshal()
	}
	return nil, fmt.Errorf("unknown step kind %q", kind)
}

// refitter fits the evaluated method again, exactly, on a world derived
// from the step's truth: the data is that world's exact population dataset
// of the method's regime, sampled by the world's codec as a dataset step
// with no pairs would.
func refitter(p EvalParams, codec envs.WorldCodec, seed uint64, opts Options) metrics.Refit {
	return func(_ string, w *analytic.World) (*metrics.Trained, error) {
		var data any
		if p.Regime != "" {
			d, err := codec.Sample(w, envs.DataSpec{Regime: p.Regime}, seed)
			if err != nil {
				return nil, fmt.Errorf("refit data: %w", err)
			}
			data = d
		}
		out, err := methods.Train(p.Refit, w, data, nil, seed, opts.backend)
		if err != nil {
			return nil, fmt.Errorf("refit: %w", err)
		}
		m, ok := out.(*metrics.Trained)
		if !ok {
			return nil, fmt.Errorf("refit returned %T, not a policy", out)
		}
		return m, nil
	}
}

// truthInput decodes the first input, a truth step's output, with its
// world codec.
func truthInput(inputs [][]byte) (any, envs.WorldCodec, error) {
	if len(inputs) == 0 {
		return nil, envs.WorldCodec{}, fmt.Errorf("step has no truth input")
	}
	return envs.DecodeWorld(inputs[0])
}
