// Package methods is the registry of alignment methods: each kind lives in
// its own file of this package (dpo.go, ipo.go, …) with everything that
// defines it — its CUE definition (an embedded .cue file beside it,
// composed into the schema's #Method), its own parameter struct (whose
// canonical JSON is its part of a train step's key), the data regimes it
// accepts, a doc line with the paper's equation, and its fits: exact
// (methods/tabular, on population or sampled pair statistics), by SGD on
// GoMLX (methods/neural), and on sequences where it applies. The runner
// iterates the registry and never names a kind, the way database/sql
// drivers register themselves.
package methods

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"

	"hetalign/envs/analytic"
	"hetalign/envs/sequence"
	"hetalign/methods/reference"
	"hetalign/metrics"
)

// Problem is a mistake in a method's settings that the schema cannot
// express; Path is relative to the method ("model.kind").
type Problem struct {
	Path string
	Msg  string
}

func problemf(path, format string, args ...any) Problem {
	return Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Context is what a method's defaults and checks may depend on besides
// its own fields.
type Context struct {
	// Name is the method's name in the spec.
	Name string
	// EnvBeta is env.beta, the β of π* (Eq. 10); methods default to it.
	EnvBeta float64
	// Types is |U|, the number of user types (Eq. 20's temperature).
	Types int
	// World is the env's world codec: "" (finite alternatives) or
	// sequence.WorldTag.
	World string
	// Data and Regime are the name and regime of the method's dataset
	// ("" without data).
	Data, Regime string
}

// Params are a method kind's own settings, decoded from the spec's method
// value (kind and data are the spec's, not the kind's).
type Params interface {
	// Defaults fills the fields the spec left unset.
	Defaults(c Context)
	// Check reports what the schema cannot express.
	Check(c Context) []Problem
	// SGD reports whether the fit computes on GoMLX (its step key then
	// names the backend and it gets a seed).
	SGD() bool
}

// Seeded is implemented by Params whose fits draw random numbers with the
// cell's seed on some other rule than SGD(): the cell's seed enters the
// step (so each seed is its own fit) exactly when Seeded reports true.
type Seeded interface {
	Seeded() bool
}

// TabularFitter is a method that fits a policy on a World of finite
// alternatives (the analytic, survey and circular environments).
type TabularFitter interface {
	FitTabular(in *TabularInput) (*metrics.Trained, error)
}

// SequenceFitter is a method that trains a transformer on the sequence
// environment (Section 7.3).
type SequenceFitter interface {
	FitSequence(in *SequenceInput) (*metrics.SeqTrained, error)
}

// TabularInput is what a fit on finite alternatives reads.
type TabularInput struct {
	World *analytic.World
	// Data is nil for methods that need none.
	Data *analytic.Data
	// Seed seeds SGD (initial weights, minibatches).
	Seed uint64
	// Backend opens the GoMLX backend of SGD fits.
	Backend func() (backends.Backend, error)
}

// SequenceInput is what a fit on the sequence environment reads.
type SequenceInput struct {
	World *sequence.World
	Data  *sequence.Data
	// Reference is the pre-trained reference policy of a fit whose
	// parameters ask for one (ReferenceParams), and nil otherwise.
	Reference *reference.Reference
	Seed      uint64
	Backend   func() (backends.Backend, error)
}

// ReferenceParams are the parameters of the reference step (package
// reference) that method p, fit with seed, starts from; ok is false when
// it needs none.
func ReferenceParams(p Params, seed int) (rp *reference.Params, ok bool) {
	r, is := p.(interface {
		referenceParams(seed int) (*reference.Params, bool)
	})
	if !is {
		return nil, false
	}
	return r.referenceParams(seed)
}

// Kind is one registered method kind.
type Kind struct {
	// Name is the spec's kind value.
	Name string
	// Doc states the objective with the paper's equation number.
	Doc string
	// Regimes lists the data regimes the method can train on; empty means
	// it needs no data (a reference computed from the ground truth).
	Regimes []string
	// CUE is the kind's schema fragment (package schema, adding to #Method
	// under `if kind == Name`) and CUEFile the name its positions carry.
	CUE, CUEFile string
	// New returns zero parameters to decode the spec's method value into.
	New func() Params
}

// NeedsData reports whether the method trains on a dataset.
func (k Kind) NeedsData() bool { return len(k.Regimes) > 0 }

// Accepts reports whether the method can train on regime.
func (k Kind) Accepts(regime string) bool { return slices.Contains(k.Regimes, regime) }

// Worlds lists the world codecs the kind fits on ("" finite alternatives,
// sequence.WorldTag).
func (k Kind) Worlds() []string {
	p := k.New()
	var out []string
	if _, ok := p.(TabularFitter); ok {
		out = append(out, "")
	}
	if _, ok := p.(SequenceFitter); ok {
		out = append(out, sequence.WorldTag)
	}
	return out
}

// Runs reports whether the kind fits on the world codec.
func (k Kind) Runs(world string) bool { return slices.Contains(k.Worlds(), world) }

var reg = struct {
	sync.RWMutex
	kinds map[string]Kind
}{kinds: map[string]Kind{}}

// Register adds a method kind; it panics on a duplicate or incomplete kind
// (registration runs at init, where a mistake is a bug).
func Register(k Kind) {
	if k.Name == "" || k.New == nil || k.Doc == "" {
		panic(fmt.Sprintf("methods.Register: kind %q needs a name, a doc and New", k.Name))
	}
	reg.Lock()
	defer reg.Unlock()
	if _, dup := reg.kinds[k.Name]; dup {
		panic("methods.Register: duplicate kind " + k.Name)
	}
	reg.kinds[k.Name] = k
}

// Lookup finds a kind by name.
func Lookup(name string) (Kind, bool) {
	reg.RLock()
	defer reg.RUnlock()
	k, ok := reg.kinds[name]
	return k, ok
}

// Kinds returns every registered kind, sorted by name.
func Kinds() []Kind {
	reg.RLock()
	defer reg.RUnlock()
	out := make([]Kind, 0, len(reg.kinds))
	for _, k := range reg.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Decode reads a method's parameters of kind from JSON (a spec's method
// value, or a train step's parameters).
func Decode(kind string, raw []byte) (Params, error) {
	k, ok := Lookup(kind)
	if !ok {
		return nil, fmt.Errorf("method kind %q is not registered", kind)
	}
	p := k.New()
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, p); err != nil {
			return nil, fmt.Errorf("method kind %s: %w", kind, err)
		}
	}
	return p, nil
}

// StepParams are a train step's parameters: the kind, the kind's own
// resolved settings and, for SGD fits, the cell's seed, flattened into one
// JSON object (the layout train steps have always had, so that keys and
// seeds of existing experiments stay where they were).
func StepParams(kind string, p Params, seed int) (json.RawMessage, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding %s params: %w", kind, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["kind"] = kind
	seeded := p.SGD()
	if s, ok := p.(Seeded); ok {
		seeded = s.Seeded()
	}
	if seeded {
		m["seed"] = seed
	}
	return json.Marshal(m)
}

// Train runs a train step: it decodes the step's parameters and fits the
// method on the world (and dataset) the runner decoded.
func Train(params []byte, world, data any, ref []byte, seed uint64, backend func() (backends.Backend, error)) (any, error) {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(params, &head); err != nil {
		return nil, fmt.Errorf("train params: %w", err)
	}
	p, err := Decode(head.Kind, params)
	if err != nil {
		return nil, err
	}
	switch w := world.(type) {
	case *analytic.World:
		f, ok := p.(TabularFitter)
		if !ok {
			return nil, fmt.Errorf("method kind %s does not fit on finite alternatives", head.Kind)
		}
		in := &TabularInput{World: w, Seed: seed, Backend: backend}
		if data != nil {
			if in.Data, ok = data.(*analytic.Data); !ok {
				return nil, fmt.Errorf("%s: dataset of type %T on a World of finite alternatives", head.Kind, data)
			}
			if len(in.Data.Prompts) != len(w.Prompts) {
				return nil, fmt.Errorf("dataset has %d prompts, truth %d", len(in.Data.Prompts), len(w.Prompts))
			}
		} else if k, _ := Lookup(head.Kind); k.NeedsData() {
			return nil, fmt.Errorf("%s needs a dataset input", head.Kind)
		}
		return f.FitTabular(in)
	case *sequence.World:
		f, ok := p.(SequenceFitter)
		if !ok {
			return nil, fmt.Errorf("method kind %s does not train on the sequence environment", head.Kind)
		}
		d, ok := data.(*sequence.Data)
		if !ok {
			return nil, fmt.Errorf("%s needs a dataset input", head.Kind)
		}
		in := &SequenceInput{World: w, Data: d, Seed: seed, Backend: backend}
		if _, needs := ReferenceParams(p, 0); needs {
			if ref == nil {
				return nil, fmt.Errorf("%s needs a reference input (a pre-trained reference policy)", head.Kind)
			}
			if in.Reference, err = reference.Decode(ref); err != nil {
				return nil, err
			}
		}
		return f.FitSequence(in)
	}
	return nil, fmt.Errorf("method kind %s: no fit for a world of type %T", head.Kind, world)
}

// KindsOn lists the kinds that fit on a world codec, sorted.
func KindsOn(world string) []string {
	var out []string
	for _, k := range Kinds() {
		if k.Runs(world) {
			out = append(out, k.Name)
		}
	}
	return out
}

func joinOr(s []string) string { return strings.Join(s, " or ") }
