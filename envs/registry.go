package envs

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Problem is one thing wrong in an environment's settings that the schema
// cannot express. Path is relative to the experiment ("env.prompt",
// "population.types.A.reward"); the spec loader turns it into
// file:line:col.
type Problem struct {
	Path string
	Msg  string
}

// Problemf builds a Problem.
func Problemf(path, format string, args ...any) Problem {
	return Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Type is one user type as a spec writes it: its name, its weight w_u
// (before normalisation) and the JSON of its environment-specific fields
// (a reward table, survey codes, a circle position, a length reward), which
// the environment kind decodes itself.
type Type struct {
	Name   string
	Weight float64
	Raw    json.RawMessage
}

// Setting is what an environment's truth depends on besides its own
// fields: the population (types in sorted order), the preference model's
// temperature τ (Eq. 7) and the spec file's folder (relative data paths
// start there).
type Setting struct {
	Types       []Type
	Model       string
	Temperature float64
	Dir         string
}

// Config is an environment kind's own settings, decoded from the spec's
// env value (kind and beta included) and completed by Defaults.
type Config interface {
	// Defaults fills the fields the spec left unset.
	Defaults(s Setting)
	// Check reports what the schema cannot express, e.g. a reward for an
	// alternative that does not exist.
	Check(s Setting) []Problem
	// Alternatives are the labels of the report's "alternative" axis.
	Alternatives() []string
	// Truth resolves the parameters of the cell's truth step: everything
	// the exact truth depends on, as a JSON-encodable value whose
	// canonical JSON is the step's key material. Data files are read
	// here, at planning time, so that their content enters the key.
	Truth(s Setting) (any, error)
	// DataFiles lists the files Truth reads (their bytes enter the spec's
	// digest), relative to dir when not absolute.
	DataFiles(dir string) []string
}

// Kind is one registered environment kind: everything that defines it.
type Kind struct {
	// Name is the spec's env.kind value.
	Name string
	// Doc says what the environment is, with the paper's section.
	Doc string
	// CUE is the kind's schema fragment (a file of package schema that adds
	// to #Env under `if kind == Name` and to #Type), and CUEFile the name
	// errors give for positions in it.
	CUE, CUEFile string
	// World names the codec of the truth it builds (see RegisterWorld):
	// "" for worlds of finite alternatives (analytic.World).
	World string
	// Regimes are the data regimes its datasets can be sampled in.
	Regimes []string
	// Judgments: its datasets can be sized by an annotation budget
	// (DataSpec.Judgments, in annotator judgments) instead of pairs.
	Judgments bool
	// Metrics are the metrics that make sense on it.
	Metrics []string
	// New returns a zero Config to decode env into.
	New func() Config
	// Build runs the truth step: parameters (as Truth returned them,
	// re-read from JSON) to the exact truth, which the World codec encodes.
	Build func(params []byte) (any, error)
}

// WorldCodec decodes and samples one type of truth (a "world"): the exact
// truth per prompt that datasets, fits and metrics read.
type WorldCodec struct {
	// Name is the world's tag in its JSON ("world"), "" for analytic.World.
	Name string
	// Decode reads a truth step's output.
	Decode func([]byte) (any, error)
	// Sample draws a dataset (d.Pairs > 0 tuples, or d.Annotators
	// annotators labelling d.Per tuples each, with seed), or its exact
	// population statistics (d.Pairs = 0).
	Sample func(world any, d DataSpec, seed uint64) (any, error)
	// DecodeData reads a dataset step's output.
	DecodeData func([]byte) (any, error)
}

// registry holds the registered kinds; Register is called from init
// functions, the way database/sql drivers register.
type registry struct {
	mu     sync.RWMutex
	kinds  map[string]Kind
	worlds map[string]WorldCodec
}

var reg = registry{kinds: map[string]Kind{}, worlds: map[string]WorldCodec{}}

// Register adds an environment kind. It panics on a duplicate or
// incomplete kind: registration happens at init, where a mistake is a bug.
func Register(k Kind) {
	if k.Name == "" || k.New == nil || k.Build == nil {
		panic(fmt.Sprintf("envs.Register: kind %q needs a name, New and Build", k.Name))
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.kinds[k.Name]; dup {
		panic("envs.Register: duplicate kind " + k.Name)
	}
	reg.kinds[k.Name] = k
}

// RegisterWorld adds a world codec.
func RegisterWorld(c WorldCodec) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.worlds[c.Name]; dup {
		panic(fmt.Sprintf("envs.RegisterWorld: duplicate world %q", c.Name))
	}
	reg.worlds[c.Name] = c
}

// Lookup finds an environment kind by name.
func Lookup(name string) (Kind, bool) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	k, ok := reg.kinds[name]
	return k, ok
}

// Kinds returns every registered environment kind, sorted by name.
func Kinds() []Kind {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]Kind, 0, len(reg.kinds))
	for _, k := range reg.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// World finds a world codec by name.
func World(name string) (WorldCodec, error) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	c, ok := reg.worlds[name]
	if !ok {
		return WorldCodec{}, fmt.Errorf("no world codec %q is registered", name)
	}
	return c, nil
}

// DecodeWorld reads a truth step's output, whatever its world: the JSON's
// "world" field names the codec ("" or absent: analytic.World).
func DecodeWorld(b []byte) (any, WorldCodec, error) {
	var tag struct {
		World string `json:"world"`
	}
	if err := json.Unmarshal(b, &tag); err != nil {
		return nil, WorldCodec{}, fmt.Errorf("reading truth: %w", err)
	}
	c, err := World(tag.World)
	if err != nil {
		return nil, WorldCodec{}, err
	}
	w, err := c.Decode(b)
	if err != nil {
		return nil, WorldCodec{}, fmt.Errorf("reading truth: %w", err)
	}
	return w, c, nil
}

// BuildTruth runs the truth step of the kind its parameters name ("env").
func BuildTruth(params []byte) (any, error) {
	var p struct {
		Env string `json:"env"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("truth params: %w", err)
	}
	k, ok := Lookup(p.Env)
	if !ok {
		return nil, fmt.Errorf("env kind %q is not registered", p.Env)
	}
	return k.Build(params)
}

// NormalisedWeights returns the population of types with their weights
// normalised to sum to one.
func NormalisedWeights(types []Type) (Population, error) {
	names := make([]string, len(types))
	raw := make([]float64, len(types))
	for i, t := range types {
		names[i], raw[i] = t.Name, t.Weight
	}
	return NewPopulation(names, raw)
}

// TruthBase is the part of a truth step's parameters every environment
// shares: the kind, the population (types in sorted order, normalised
// weights), the preference model and, for environments of finite
// alternatives, the alternatives with the per-type rewards, D, π_ref and
// β. Environments without some of these leave them empty; the layout is
// the one every truth step has had since the first release, so that keys
// and seeds of existing experiments stay where they were.
type TruthBase struct {
	Env          string      `json:"env"`
	Alternatives []string    `json:"alternatives"`
	Types        []string    `json:"types"`
	Weights      []float64   `json:"weights"`
	Rewards      [][]float64 `json:"rewards"`
	Sampling     []float64   `json:"sampling"`
	Reference    []float64   `json:"reference"`
	Beta         float64     `json:"beta"`
	Model        string      `json:"model"`
	Temperature  float64     `json:"temperature"`
}

// Distribution normalises weights keyed by alternative into a vector
// aligned with alts (uniform when m is nil); field names the spec field in
// errors.
func Distribution(field string, alts []string, m map[string]float64) ([]float64, error) {
	v := make([]float64, len(alts))
	for j, a := range alts {
		v[j] = 1
		if m != nil {
			v[j] = m[a]
		}
	}
	out, err := Normalise(v)
	if err != nil {
		return nil, fmt.Errorf("env.%s: %w", field, err)
	}
	return out, nil
}

// DecodeStrict decodes JSON into v; what the schema let through is known,
// so unknown fields are ignored, but a type mismatch is an error.
func DecodeStrict(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// SortedKeys returns a map's keys in sorted order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// QuoteLabel writes a map key as a CUE path label: bare when it is an
// identifier, quoted otherwise.
func QuoteLabel(k string) string {
	ident := k != ""
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			ident = false
		}
	}
	if ident {
		return k
	}
	return fmt.Sprintf("%q", k)
}

// CheckWeights checks that a map of weights (env.sampling, env.reference)
// names exactly the alternatives.
func CheckWeights(field string, m map[string]float64, alts []string) []Problem {
	if m == nil {
		return nil
	}
	var ps []Problem
	isAlt := map[string]bool{}
	for _, a := range alts {
		isAlt[a] = true
	}
	for _, k := range SortedKeys(m) {
		if !isAlt[k] {
			ps = append(ps, Problemf(field+"."+QuoteLabel(k), "%q is not an alternative (alternatives: %s)", k, strings.Join(alts, ", ")))
		}
	}
	for _, a := range alts {
		if _, ok := m[a]; !ok {
			ps = append(ps, Problemf(field, "%s gives no weight to alternative %q", field, a))
		}
	}
	return ps
}

// DataSpec is a dataset of a spec (#Data): its regime and size. Pairs is
// the number of sampled tuples (0: the exact population statistics);
// the annotated regime draws Annotators annotators, each labelling Per
// tuples (Annotators 0: the exact population of annotator records).
type DataSpec struct {
	Regime     string `json:"regime"`
	Pairs      int    `json:"pairs"`
	Annotators int    `json:"annotators,omitempty"`
	Per        int    `json:"per,omitempty"`
	// Judgments, when > 0, sizes a sampled dataset by its cost in
	// annotator judgments instead of Pairs (sequence env only).
	Judgments int `json:"judgments,omitempty"`
}

// Annotated is the regime whose labels keep their annotator's id.
const Annotated = "annotated"

// DataChecker is implemented by environment Configs with rules for their
// datasets beyond the regimes they sample (Path relative to the dataset).
type DataChecker interface {
	CheckData(d DataSpec) []Problem
}

// CheckAnnotated is the default rule for the annotated regime on a
// synthetic environment: per is required; annotators: N draws N
// annotators, annotators left out (0) is the infinite-annotator limit
// (the exact population of annotator records, per labels each); pairs is
// not used; other regimes take neither.
func CheckAnnotated(d DataSpec) []Problem {
	if d.Regime != Annotated {
		var ps []Problem
		if d.Annotators != 0 {
			ps = append(ps, Problemf("annotators", "annotators is for the %q regime", Annotated))
		}
		if d.Per != 0 {
			ps = append(ps, Problemf("per", "per is for the %q regime", Annotated))
		}
		return ps
	}
	var ps []Problem
	if d.Per < 1 || d.Annotators < 0 {
		ps = append(ps, Problemf("", "annotated data need per: m (each annotator labels m pairs) and either annotators: N (N annotators drawn from the types by their weights) or no annotators (the exact population: infinitely many annotators)"))
	}
	if d.Pairs != 0 {
		ps = append(ps, Problemf("pairs", "annotated data are annotators × per labels: leave pairs out"))
	}
	return ps
}

// DataPath is a spec's data file: file itself when absolute, else file
// relative to dir (the spec's folder).
func DataPath(dir, file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}
