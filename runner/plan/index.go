package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Index remembers the last run of a report: which step filled each role,
// and each step's parameters and inputs. `hetalign plan` compares a new
// plan with it to say why a step will rerun.
type Index struct {
	Code  string               `json:"code"`
	Roles map[string]string    `json:"roles"`
	Steps map[string]IndexStep `json:"steps"`
}

// IndexStep is what the index keeps of a step.
type IndexStep struct {
	Kind   string            `json:"kind"`
	Params json.RawMessage   `json:"params"`
	Inputs map[string]string `json:"inputs,omitempty"`
}

// IndexID names the index document of a report.
func IndexID(report string) string {
	h := sha256.Sum256([]byte("index\x00" + report))
	return hex.EncodeToString(h[:16])
}

// NewIndex records the steps of the report r for which keep is true.
func (g *Graph) NewIndex(r Report, keep func(*Step) bool) *Index {
	idx := &Index{Code: g.Options.Code, Roles: map[string]string{}, Steps: map[string]IndexStep{}}
	seen := map[*Step]bool{}
	var visit func(s *Step)
	visit = func(s *Step) {
		if seen[s] {
			return
		}
		seen[s] = true
		for _, in := range s.Inputs {
			visit(in)
		}
		if !keep(s) {
			return
		}
		is := IndexStep{Kind: s.Kind, Params: s.Params}
		if len(s.Inputs) > 0 {
			is.Inputs = map[string]string{}
			for i, in := range s.Inputs {
				is.Inputs[s.InputNames[i]] = in.Key
			}
		}
		idx.Steps[s.Key] = is
		prefix := r.File.Name + "/"
		for _, role := range s.Roles {
			if strings.HasPrefix(role, prefix) {
				idx.Roles[role] = s.Key
			}
		}
	}
	visit(r.Step)
	return idx
}

// Why explains why step s is not what the last run computed in the same
// place: "new", "code changed", the parameters that differ, and the inputs
// whose keys differ. It returns "" when the last run had the same key.
func (idx *Index) Why(s *Step, code string) string {
	if idx == nil {
		return "new"
	}
	prevKey := ""
	for _, r := range s.Roles {
		if k, ok := idx.Roles[r]; ok {
			prevKey = k
			break
		}
	}
	if prevKey == "" {
		return "new"
	}
	if prevKey == s.Key {
		return ""
	}
	prev, ok := idx.Steps[prevKey]
	if !ok {
		return "new"
	}
	var reasons []string
	if idx.Code != code {
		reasons = append(reasons, "code changed")
	}
	if d := diffJSON(prev.Params, s.Params); len(d) > 0 {
		const max = 6
		if len(d) > max {
			d = append(d[:max], fmt.Sprintf("… %d more", len(d)-max))
		}
		reasons = append(reasons, "params "+strings.Join(d, ", "))
	}
	var changed []string
	for i, in := range s.Inputs {
		name := s.InputNames[i]
		if prev.Inputs[name] != in.Key {
			changed = append(changed, name)
		}
	}
	const maxInputs = 4
	if len(changed) > maxInputs {
		changed = append(changed[:maxInputs], fmt.Sprintf("… %d more", len(changed)-maxInputs))
	}
	if len(changed) > 0 {
		reasons = append(reasons, "inputs changed: "+strings.Join(changed, ", "))
	}
	if len(reasons) == 0 {
		return "changed"
	}
	return strings.Join(reasons, "; ")
}

// diffJSON lists the leaves that differ between two JSON documents as
// "path: old → new".
func diffJSON(a, b []byte) []string {
	var av, bv any
	json.Unmarshal(a, &av)
	json.Unmarshal(b, &bv)
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", av, fa)
	flatten("", bv, fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		x, okA := fa[k]
		y, okB := fb[k]
		switch {
		case !okA:
			out = append(out, fmt.Sprintf("%s: (none) → %s", k, y))
		case !okB:
			out = append(out, fmt.Sprintf("%s: %s → (none)", k, x))
		case x != y:
			out = append(out, fmt.Sprintf("%s: %s → %s", k, x, y))
		}
	}
	sort.Strings(out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		if len(x) > 8 || prefix == "" {
			// Long lists (a report's cells) are compared whole.
			b, _ := json.Marshal(x)
			if len(b) > 80 {
				h := sha256.Sum256(b)
				out[prefix] = fmt.Sprintf("[%d items, %s]", len(x), hex.EncodeToString(h[:4]))
				return
			}
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	default:
		b, _ := json.Marshal(x)
		out[prefix] = string(b)
	}
}
