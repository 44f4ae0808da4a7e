package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"hetalign/runner/spec"
)

// CacheKey identifies the plan of files under opts: equal keys give equal
// graphs, so a stored graph can stand in for planning again (which
// evaluates CUE once per cell and dominates large sweeps).
func CacheKey(files []*spec.File, opts Options) string {
	h := sha256.New()
	fmt.Fprintf(h, "plan v1\ncode %s\nbackend %s\ngpu %v\n", opts.Code, opts.Backend, opts.GPU)
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
}

type storedGraph struct {
	Steps   []storedStep `json:"steps"`
	Reports []int        `json:"reports"`
}

// Marshal encodes the graph for the plan cache.
func (g *Graph) Marshal() ([]byte, error) {
	sg := storedGraph{Steps: make([]storedStep, len(g.Steps))}
	for i, s := range g.Steps {
		ss := storedStep{Key: s.Key, Kind: s.Kind, Label: s.Label, Params: s.Params, InputNames: s.InputNames,
			Seed: s.Seed, GPU: s.GPU, Partial: s.Partial, Roles: s.Roles}
		for _, in := range s.Inputs {
			ss.Inputs = append(ss.Inputs, in.Index)
		}
		sg.Steps[i] = ss
	}
	for _, r := range g.Reports {
		sg.Reports = append(sg.Reports, r.Step.Index)
	}
	return json.Marshal(sg)
}

// Unmarshal rebuilds a graph stored by Marshal for the same files.
func Unmarshal(b []byte, files []*spec.File, opts Options) (*Graph, error) {
	var sg storedGraph
	if err := json.Unmarshal(b, &sg); err != nil {
		return nil, fmt.Errorf("reading cached plan: %w", err)
	}
	if len(sg.Reports) != len(files) {
		return nil, fmt.Errorf("cached plan has %d reports for %d specs", len(sg.Reports), len(files))
	}
	g := &Graph{Options: opts, byKey: map[string]*Step{}, Steps: make([]*Step, len(sg.Steps))}
	for i, ss := range sg.Steps {
		s := &Step{Index: i, Key: ss.Key, Kind: ss.Kind, Label: ss.Label, Params: ss.Params, InputNames: ss.InputNames,
			Seed: ss.Seed, GPU: ss.GPU, Partial: ss.Partial, Roles: ss.Roles}
		for _, in := range ss.Inputs {
			if in < 0 || in >= i {
				return nil, fmt.Errorf("cached plan: step %d has input %d", i, in)
			}
			s.Inputs = append(s.Inputs, g.Steps[in])
		}
		g.Steps[i] = s
		g.byKey[s.Key] = s
	}
	for i, idx := range sg.Reports {
		if idx < 0 || idx >= len(g.Steps) {
			return nil, fmt.Errorf("cached plan: report step %d out of range", idx)
		}
		g.Reports = append(g.Reports, Report{File: files[i], Step: g.Steps[idx]})
	}
	return g, nil
}
