package plan

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"hetalign/runner/spec"
	"hetalign/runner/steps"
	"hetalign/runner/store"
)

// CacheKey identifies the plan of files under opts: equal keys give equal
// graphs, so a stored graph can stand in for planning again (which
// evaluates CUE once per cell and dominates large sweeps).
func CacheKey(files []*spec.File, opts Options) string {
	h := sha256.New()
	fmt.Fprintf(h, "plan v2\ncode %s\nbackend %s\ngpu %v\n", opts.Code, opts.Backend, opts.GPU)
	for _, f := range files {
		fmt.Fprintf(h, "spec %q %q %s\n", f.Path, f.Name, f.Digest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type storedStep struct {
	Key        string          `json:"key"`
	Kind       string          `json:"kind"`
	Label      string          `json:"label"`
	Params     json.RawMessage `json:"params"`
	Inputs     []int           `json:"inputs,omitempty"`
	InputNames []string        `json:"input_names,omitempty"`
	Seed       uint64          `json:"seed"`
	GPU        bool            `json:"gpu,omitempty"`
	Partial    bool            `json:"partial,omitempty"`
	Roles      []string        `json:"roles"`
	// Code indexes storedGraph.Codes; Compute is whether the backend
	// entered the key.
	Code    int  `json:"code"`
	Compute bool `json:"compute,omitempty"`
}

// storedGraph is a plan in the plan cache. It carries the material of
// every key (the distinct code identities, the backend), so that a reader
// recomputes each step's key and seed from what it read (see Check).
type storedGraph struct {
	Codes   []string     `json:"codes"`
	Backend string       `json:"backend,omitempty"`
	Steps   []storedStep `json:"steps"`
	Reports []int        `json:"reports"`
}

// Marshal encodes the graph for the plan cache: the bytes WriteJSON
// writes, in a buffer of their exact size.
func (g *Graph) Marshal() ([]byte, error) {
	var n countingWriter
	if err := g.WriteJSON(&n); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(int(n))
	if err := g.WriteJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// countingWriter counts what is written to it.
type countingWriter int64

func (c *countingWriter) Write(b []byte) (int, error) {
	*c += countingWriter(len(b))
	return len(b), nil
}

// WriteJSON writes the graph for the plan cache, json.Marshal of its
// storedGraph byte for byte, one step at a time: json.Marshal of the
// whole would hold the plan (hundreds of MB for 10^5 steps) at up to
// twice its size, copy it once more and leave that buffer in
// encoding/json's pool, where every later Marshal of the run keeps it
// alive. With store.PutPlanFrom a plan goes to the cache without ever
// being held whole.
func (g *Graph) WriteJSON(w io.Writer) error {
	codes := map[string]int{}
	var codeList []string
	for _, s := range g.Steps {
		if _, ok := codes[s.Code]; !ok {
			codes[s.Code] = len(codeList)
			codeList = append(codeList, s.Code)
		}
	}
	var reports []int
	for _, r := range g.Reports {
		reports = append(reports, r.Step.Index)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	put := func(parts ...[]byte) {
		for _, p := range parts {
			bw.Write(p) // a bufio.Writer keeps its first error for Flush
		}
	}
	b, err := json.Marshal(codeList)
	if err != nil {
		return err
	}
	put([]byte(`{"codes":`), b)
	if g.Options.Backend != "" {
		b, _ = json.Marshal(g.Options.Backend)
		put([]byte(`,"backend":`), b)
	}
	put([]byte(`,"steps":[`))
	for i, s := range g.Steps {
		ss := storedStep{Key: s.Key, Kind: s.Kind, Label: s.Label, Params: s.Params, InputNames: s.InputNames,
			Seed: s.Seed, GPU: s.GPU, Partial: s.Partial, Roles: s.Roles, Code: codes[s.Code], Compute: s.Backend != ""}
		for _, in := range s.Inputs {
			ss.Inputs = append(ss.Inputs, in.Index)
		}
		if b, err = json.Marshal(&ss); err != nil {
			return err
		}
		if i > 0 {
			put([]byte{','})
		}
		put(b)
	}
	b, _ = json.Marshal(reports)
	put([]byte(`],"reports":`), b, []byte{'}'})
	return bw.Flush()
}

// Check decodes a plan stored by Marshal and verifies it on its own: every
// step's key is the hash of its kind, params, inputs' keys, code and
// backend (store.StepKey), every seed derives from its step's material,
// inputs come before their users and reports are steps. What `hetalign
// cache verify` runs on every cached plan.
func Check(b []byte) error {
	_, _, err := decode(b, nil)
	return err
}

// decode rebuilds and verifies the graph b (see Check) and returns it
// with the indices of its report steps. With opts, the plan must be of
// opts' backend and GPU setting.
func decode(b []byte, opts *Options) (*Graph, []int, error) {
	var sg storedGraph
	if err := json.Unmarshal(b, &sg); err != nil {
		return nil, nil, fmt.Errorf("it does not decode: %w", err)
	}
	g := &Graph{byKey: map[string]*Step{}, Steps: make([]*Step, len(sg.Steps))}
	if opts != nil {
		g.Options = *opts
		if sg.Backend != "" && sg.Backend != opts.Backend {
			return nil, nil, fmt.Errorf("it was planned for backend %q, not %q", sg.Backend, opts.Backend)
		}
	}
	for i, ss := range sg.Steps {
		if ss.Code < 0 || ss.Code >= len(sg.Codes) {
			return nil, nil, fmt.Errorf("step %d has code %d of %d", i, ss.Code, len(sg.Codes))
		}
		s := &Step{Index: i, Key: ss.Key, Kind: ss.Kind, Label: ss.Label, Params: ss.Params, InputNames: ss.InputNames,
			Seed: ss.Seed, GPU: ss.GPU, Partial: ss.Partial, Roles: ss.Roles, Code: sg.Codes[ss.Code]}
		if ss.Compute {
			s.Backend = sg.Backend
		}
		if len(ss.InputNames) != len(ss.Inputs) {
			return nil, nil, fmt.Errorf("step %d has %d inputs and %d input names", i, len(ss.Inputs), len(ss.InputNames))
		}
		var keys []string
		for _, in := range ss.Inputs {
			if in < 0 || in >= i {
				return nil, nil, fmt.Errorf("step %d has input %d", i, in)
			}
			s.Inputs = append(s.Inputs, g.Steps[in])
			keys = append(keys, g.Steps[in].Key)
		}
		key, err := store.StepKey(s.Kind, s.Params, keys, s.Code, s.Backend)
		if err != nil {
			return nil, nil, fmt.Errorf("step %d (%s): %w", i, s.Label, err)
		}
		if key != s.Key {
			return nil, nil, fmt.Errorf("step %d (%s): its kind, params, inputs and code hash to %.12s, not to its key %.12s", i, s.Label, key, s.Key)
		}
		s.material = seedMaterial(s.Kind, s.Params, s.Inputs)
		if seed := binary.BigEndian.Uint64(s.material[:8]); seed != s.Seed {
			return nil, nil, fmt.Errorf("step %d (%s): its seed %d is not the one its material derives (%d)", i, s.Label, s.Seed, seed)
		}
		if s.Partial != (s.Kind == steps.Report) {
			return nil, nil, fmt.Errorf("step %d (%s): a %s step marked partial=%v", i, s.Label, s.Kind, s.Partial)
		}
		if opts != nil && s.GPU != (ss.Compute && opts.GPU) {
			return nil, nil, fmt.Errorf("step %d (%s): gpu=%v does not match the run's", i, s.Label, s.GPU)
		}
		g.Steps[i] = s
		g.byKey[s.Key] = s
	}
	for i, idx := range sg.Reports {
		if idx < 0 || idx >= len(g.Steps) || g.Steps[idx].Kind != steps.Report {
			return nil, nil, fmt.Errorf("report %d is not a report step", i)
		}
	}
	return g, sg.Reports, nil
}

// Unmarshal rebuilds a graph stored by Marshal for the same files,
// verifying it as Check does (and that it is of opts' backend and GPU
// setting): a damaged or edited plan is an error, never a graph.
func Unmarshal(b []byte, files []*spec.File, opts Options) (*Graph, error) {
	g, reps, err := decode(b, &opts)
	if err != nil {
		return nil, fmt.Errorf("cached plan: %w", err)
	}
	if len(reps) != len(files) {
		return nil, fmt.Errorf("cached plan has %d reports for %d specs", len(reps), len(files))
	}
	for i, idx := range reps {
		g.Reports = append(g.Reports, Report{File: files[i], Step: g.Steps[idx]})
	}
	return g, nil
}
