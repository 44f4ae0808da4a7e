package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
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

// MarshalIndex is json.Marshal of the index a run of report r leaves:
// NewIndex(r, keep), plus the roles of prev (the last run's index, or
// nil) that this run did not fill (keep was false: the step failed) but
// that some step of g still has, with their previous steps. It is
// written entry by entry into a buffer of the exact size, from the graph
// itself: the index of 10^5 steps built as maps and marshalled whole
// would hold several times its size at the end of a run.
func (g *Graph) MarshalIndex(r Report, keep func(*Step) bool, prev *Index) ([]byte, error) {
	type role struct{ role, key string }
	type entry struct {
		key  string
		step *Step      // a step of this run, or
		prev *IndexStep // one the last run computed
	}
	var roles []role
	var entries []entry
	prefix := r.File.Name + "/"
	seen := make([]bool, len(g.Steps))
	var visit func(s *Step)
	visit = func(s *Step) {
		if seen[s.Index] {
			return
		}
		seen[s.Index] = true
		for _, in := range s.Inputs {
			visit(in)
		}
		if !keep(s) {
			return
		}
		entries = append(entries, entry{key: s.Key, step: s})
		for _, ro := range s.Roles {
			if strings.HasPrefix(ro, prefix) {
				roles = append(roles, role{ro, s.Key})
			}
		}
	}
	visit(r.Step)
	// As map assignments: the last value of a key wins.
	byRole := func(a, b role) int { return strings.Compare(a.role, b.role) }
	slices.SortStableFunc(roles, byRole)
	roles = lastOfEach(roles, func(a, b role) bool { return a.role == b.role })
	if prev != nil {
		missing := map[string]string{} // prev's roles this run did not fill → key
		for ro, key := range prev.Roles {
			if _, found := slices.BinarySearchFunc(roles, role{role: ro}, byRole); !found {
				if _, ok := prev.Steps[key]; ok {
					missing[ro] = key
				}
			}
		}
		if len(missing) > 0 {
			current := map[string]bool{}
			for _, s := range g.Steps {
				for _, ro := range s.Roles {
					if _, ok := missing[ro]; ok {
						current[ro] = true
					}
				}
			}
			for ro, key := range missing {
				if current[ro] {
					ps := prev.Steps[key]
					roles = append(roles, role{ro, key})
					entries = append(entries, entry{key: key, prev: &ps})
				}
			}
			slices.SortStableFunc(roles, byRole)
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	entries = lastOfEach(entries, func(a, b entry) bool { return a.key == b.key })
	code, err := json.Marshal(g.Options.Code)
	if err != nil {
		return nil, err
	}
	step := func(e entry) ([]byte, error) {
		if e.prev != nil {
			return json.Marshal(e.prev)
		}
		s := e.step
		is := IndexStep{Kind: s.Kind, Params: s.Params}
		if len(s.Inputs) > 0 {
			is.Inputs = map[string]string{}
			for i, in := range s.Inputs {
				is.Inputs[s.InputNames[i]] = in.Key
			}
		}
		return json.Marshal(is)
	}
	// Two passes: the size, then the bytes.
	var out []byte
	for pass := range 2 {
		n := 0
		put := func(b ...[]byte) {
			for _, x := range b {
				n += len(x)
				if pass == 1 {
					out = append(out, x...)
				}
			}
		}
		put([]byte(`{"code":`), code, []byte(`,"roles":{`))
		for i, ro := range roles {
			if i > 0 {
				put([]byte{','})
			}
			k, _ := json.Marshal(ro.role)
			v, _ := json.Marshal(ro.key)
			put(k, []byte{':'}, v)
		}
		put([]byte(`},"steps":{`))
		for i, e := range entries {
			if i > 0 {
				put([]byte{','})
			}
			k, _ := json.Marshal(e.key)
			v, err := step(e)
			if err != nil {
				return nil, err
			}
			put(k, []byte{':'}, v)
		}
		put([]byte(`}}`))
		if pass == 0 {
			out = make([]byte, 0, n)
		} else if n != len(out) || n != cap(out) {
			return nil, fmt.Errorf("encoding the index: %d bytes, %d expected", len(out), cap(out))
		}
	}
	return out, nil
}

// lastOfEach keeps, of each run of equal neighbours in xs, the last.
func lastOfEach[T any](xs []T, equal func(a, b T) bool) []T {
	out := xs[:0]
	for i, x := range xs {
		if i+1 < len(xs) && equal(x, xs[i+1]) {
			continue
		}
		out = append(out, x)
	}
	return out
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
