package exec

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"hetalign/runner/store"
)

// TestRunStored computes the steps of a graph from their stored
// descriptions, stage by stage, as Slurm tasks do.
func TestRunStored(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cached   bool   // the steps are in the store already
		fail     string // label substring of the step that fails
		noInputs bool   // compute the last stage without its inputs
		wantErr  []string
	}{
		{name: "computes"},
		{name: "skips cached steps", cached: true},
		{name: "one step fails", fail: "dataset pop s/x/seed=1", wantErr: []string{"step dataset pop s/x/seed=1 (", "boom"}},
		{name: "missing input", noInputs: true, wantErr: []string{"is not in the store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, st := graph(t), openStore(t)
			for _, s := range g.Steps {
				if err := st.PutStepDesc(Desc(s, "")); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			calls := map[string]int{}
			fn := func(ctx context.Context, d *store.StepDesc, inputs [][]byte) ([]byte, error) {
				mu.Lock()
				calls[d.Key]++
				mu.Unlock()
				if tc.fail != "" && strings.Contains(d.Label, tc.fail) {
					return nil, errors.New("boom")
				}
				if len(inputs) != len(d.Inputs) {
					return nil, errors.New("wrong inputs")
				}
				return []byte(`"` + d.Key + `"`), nil
			}
			if tc.cached {
				for _, s := range g.Steps {
					st.Put(s.Key, s.Kind, s.Label, map[string][]byte{"out": []byte("x")}, 0)
				}
			}
			// Stages: a step's inputs come before it, so run by depth.
			depth := make([]int, len(g.Steps))
			maxDepth := 0
			for i, s := range g.Steps {
				for _, in := range s.Inputs {
					depth[i] = max(depth[i], depth[in.Index]+1)
				}
				maxDepth = max(maxDepth, depth[i])
			}
			var errs []error
			for d := 0; d <= maxDepth; d++ {
				if tc.noInputs && d == 0 {
					continue
				}
				var keys []string
				for i, s := range g.Steps {
					if depth[i] == d && !s.Partial {
						keys = append(keys, s.Key)
					}
				}
				if err := RunStored(context.Background(), st, keys, fn, StoredOptions{Jobs: 2, Log: zerolog.Nop()}); err != nil {
					errs = append(errs, err)
				}
			}
			err := errors.Join(errs...)
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
			for _, s := range g.Steps {
				if s.Partial {
					continue
				}
				switch {
				case tc.cached && calls[s.Key] != 0:
					t.Errorf("cached step %s computed", s.Label)
				case tc.fail == "" && !tc.cached && !tc.noInputs && calls[s.Key] != 1:
					t.Errorf("step %s computed %d times", s.Label, calls[s.Key])
				}
				if st.LeaseOf(s.Key) != nil {
					t.Errorf("lease of %s left behind", s.Label)
				}
			}
			if tc.fail != "" {
				// Independent steps of the failing one's stage finished.
				for _, s := range g.Steps {
					if !s.Partial && len(s.Inputs) > 0 && s.Kind == "dataset" && !strings.Contains(s.Label, tc.fail) && !st.Has(s.Key) {
						t.Errorf("independent step %s not stored", s.Label)
					}
				}
			}
		})
	}
}
