package sequence

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"hetalign/envs"
)

//go:embed kind.cue
var kindCUE string

// WorldTag names the sequence World's codec.
const WorldTag = "sequence"

func init() {
	envs.Register(envs.Kind{
		Name:      "sequence",
		Doc:       "Section 7.3 / Appendix F on real text: prompts and pairs of responses cut from a corpus, byte-level tokens, per-type rewards of the token count; transformer reward models and policies",
		CUE:       kindCUE,
		CUEFile:   "hetalign/envs/sequence/kind.cue",
		World:     WorldTag,
		Regimes:   []string{Anonymous, Typed, Consensus, Annotated},
		Judgments: true,
		Metrics: []string{"avg_reward", "reward", "type_weights", "test_pairs", "majority_agreement", "consensus_cost", "agreement", "ties",
			"type_recovery", "log_likelihood", "latent_types",
			"score_profile", "final_loss", "data_used", "loss_curve", "loss_last_drop", "pretrain_loss", "pretrain_curve", "pretrain_last_drop"},
		New:   func() envs.Config { return new(EnvConfig) },
		Build: build,
	})
	envs.RegisterWorld(envs.WorldCodec{
		Name: WorldTag,
		Decode: func(b []byte) (any, error) {
			w := new(World)
			if err := json.Unmarshal(b, w); err != nil {
				return nil, err
			}
			if len(w.Items) == 0 || len(w.Test) == 0 {
				return nil, fmt.Errorf("truth has %d items and %d test prompts", len(w.Items), len(w.Test))
			}
			return w, nil
		},
		Sample: func(world any, d envs.DataSpec, seed uint64) (any, error) {
			if d.Regime == Annotated {
				return world.(*World).SampleAnnotated(d.Annotators, d.Per, seed)
			}
			if d.Judgments > 0 {
				return world.(*World).SampleBudget(d.Regime, d.Judgments, seed)
			}
			return world.(*World).Sample(d.Regime, d.Pairs, seed)
		},
		DecodeData: func(b []byte) (any, error) {
			d := new(Data)
			if err := json.Unmarshal(b, d); err != nil {
				return nil, err
			}
			return d, nil
		},
	})
}

// EnvConfig is the sequence environment's env value.
type EnvConfig struct {
	Kind      string        `json:"kind"`
	Beta      float64       `json:"beta"`
	Corpus    string        `json:"corpus,omitempty"`
	Dialogues string        `json:"dialogues,omitempty"`
	Length    int           `json:"length"`
	Prompts   int           `json:"prompts"`
	Test      float64       `json:"test,omitempty"`
	Prompt    *PromptConfig `json:"prompt,omitempty"`
	Cut       int           `json:"cut,omitempty"`
	Grid      int           `json:"grid,omitempty"`
}

// PromptConfig bounds prompt lengths in tokens.
type PromptConfig struct {
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
}

// LengthConfig is #Length: a reward of the token count.
type LengthConfig struct {
	Shape     string  `json:"shape"`
	Rate      float64 `json:"rate,omitempty"`
	Divisor   float64 `json:"divisor,omitempty"`
	Cap       float64 `json:"cap,omitempty"`
	Center    float64 `json:"center,omitempty"`
	Width     float64 `json:"width,omitempty"`
	Slope     float64 `json:"slope,omitempty"`
	Intercept float64 `json:"intercept,omitempty"`
}

type typeConfig struct {
	Length *LengthConfig   `json:"length"`
	Reward json.RawMessage `json:"reward"`
	Codes  json.RawMessage `json:"codes"`
}

// Defaults: β = 1, Newton's Opticks, a test fraction of 0.2, prompts of 1
// to L/4 tokens, a grid of 17 lengths.
func (c *EnvConfig) Defaults(envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
	if c.Corpus == "" {
		c.Corpus = DefaultCorpus
	}
	if c.Test == 0 {
		c.Test = 0.2
	}
	if c.Prompt == nil {
		c.Prompt = &PromptConfig{}
	}
	if c.Prompt.Min == 0 {
		c.Prompt.Min = 1
	}
	if c.Prompt.Max == 0 {
		c.Prompt.Max = max(c.Prompt.Min, c.Length/4)
	}
	if c.Grid == 0 {
		c.Grid = 17
	}
}

// Alternatives are the length views' token counts of prompt plus response.
func (c *EnvConfig) Alternatives() []string {
	var out []string
	for _, x := range GridX(c.Prompt.Min+1, c.Length, c.Grid) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// DataFiles: the corpus is hashed when the truth is resolved.
func (c *EnvConfig) DataFiles(string) []string { return nil }

// Check: a length reward on every type and no reward table, the prompt
// range below L, a test fraction that leaves train and test prompts.
func (c *EnvConfig) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	for _, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "%v", err))
			continue
		}
		if tc.Length == nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "type %s needs a length reward on a sequence env", t.Name))
		}
		if tc.Reward != nil || tc.Codes != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "a sequence env computes rewards from length; remove reward and codes"))
		}
	}
	if c.Prompt.Min > c.Prompt.Max || c.Prompt.Max >= c.Length {
		ps = append(ps, envs.Problemf("env.prompt", "prompt lengths [%d, %d] must be ordered and below length %d", c.Prompt.Min, c.Prompt.Max, c.Length))
	}
	if n := int(c.Test*float64(c.Prompts) + 0.5); n < 1 || n >= c.Prompts {
		ps = append(ps, envs.Problemf("env.test", "test fraction %v of %d prompts leaves no train or no test prompt", c.Test, c.Prompts))
	}
	return ps
}

// Params are the sequence environment's part of the truth parameters:
// the corpus (its path, and its SHA-256 so that a changed file changes the
// key), L, the cut, and each type's length reward.
type Params struct {
	Corpus string `json:"corpus"`
	Digest string `json:"digest"`
	// Dialogues: Corpus is a file of dialogues (EnvConfig.Dialogues), not
	// a text to cut.
	Dialogues bool           `json:"dialogues,omitempty"`
	Length    int            `json:"length"`
	Prompts   int            `json:"prompts"`
	Test      float64        `json:"test"`
	PromptMin int            `json:"prompt_min"`
	PromptMax int            `json:"prompt_max"`
	Cut       int            `json:"cut"`
	Grid      int            `json:"grid"`
	Rewards   []LengthReward `json:"rewards"`
}

// TruthParams are a sequence cell's truth parameters.
type TruthParams struct {
	envs.TruthBase
	Sequence *Params `json:"sequence,omitempty"`
}

// Truth resolves the corpus path, hashes it and completes each type's
// length reward with Appendix F's defaults.
func (c *EnvConfig) Truth(s envs.Setting) (any, error) {
	pop, err := envs.NormalisedWeights(s.Types)
	if err != nil {
		return nil, err
	}
	sp := &Params{Length: c.Length, Prompts: c.Prompts, Test: c.Test,
		PromptMin: c.Prompt.Min, PromptMax: c.Prompt.Max, Cut: c.Cut, Grid: c.Grid}
	for _, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			return nil, fmt.Errorf("type %s: %w", t.Name, err)
		}
		if tc.Length == nil {
			return nil, fmt.Errorf("type %s has no length reward (population.types.%s.length)", t.Name, t.Name)
		}
		l := tc.Length
		sp.Rewards = append(sp.Rewards, LengthReward{Shape: l.Shape, Rate: l.Rate, Divisor: l.Divisor, Cap: l.Cap,
			Center: l.Center, Width: l.Width, Slope: l.Slope, Intercept: l.Intercept}.Defaults())
	}
	if c.Dialogues != "" {
		path, err := corpusPath(c.Dialogues, s.Dir)
		if err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("env.dialogues: %w", err)
		}
		ds, _, err := ReadDialogues(raw, path)
		if err != nil {
			return nil, err
		}
		fit := 0
		for _, d := range ds {
			if d.Fits(c.Length) {
				fit++
			}
		}
		if fit < c.Prompts {
			return nil, fmt.Errorf("env.dialogues %s: %d dialogues fit L = %d (prompt + longer response ≤ L bytes); env.prompts asks for %d", path, fit, c.Length, c.Prompts)
		}
		sp.Corpus, sp.Digest, sp.Dialogues = path, Digest(raw), true
		return &TruthParams{TruthBase: envs.TruthBase{Env: c.Kind, Types: pop.Names, Weights: pop.Weights, Model: s.Model,
			Temperature: s.Temperature}, Sequence: sp}, nil
	}
	path, err := corpusPath(c.Corpus, s.Dir)
	if err != nil {
		return nil, err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("env.corpus: %w", err)
	}
	if len(text) < 2*c.Length {
		return nil, fmt.Errorf("env.corpus %s has %d bytes; cutting prompts and responses of up to L = %d tokens needs at least 2L = %d", path, len(text), c.Length, 2*c.Length)
	}
	sp.Corpus, sp.Digest = path, Digest(text)
	return &TruthParams{TruthBase: envs.TruthBase{Env: c.Kind, Types: pop.Names, Weights: pop.Weights, Model: s.Model,
		Temperature: s.Temperature}, Sequence: sp}, nil
}

// build cuts the corpus the parameters name, checking that it is the file
// that was planned.
func build(params []byte) (any, error) {
	var p TruthParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("truth params: %w", err)
	}
	s := p.Sequence
	if s == nil {
		return nil, fmt.Errorf("truth params: no sequence settings")
	}
	text, err := os.ReadFile(s.Corpus)
	if err != nil {
		return nil, fmt.Errorf("reading the corpus: %w", err)
	}
	if d := Digest(text); d != s.Digest {
		return nil, fmt.Errorf("corpus %s changed since planning (SHA-256 %s…, planned %s…): plan again", s.Corpus, d[:12], s.Digest[:12])
	}
	c := Config{Text: text, L: s.Length, Prompts: s.Prompts, Test: s.Test,
		PromptMin: s.PromptMin, PromptMax: s.PromptMax, Seed: uint64(s.Cut), Names: p.Types, Weights: p.Weights,
		Rewards: s.Rewards, Temperature: p.Temperature, Grid: s.Grid}
	if s.Dialogues {
		ds, _, err := ReadDialogues(text, s.Corpus)
		if err != nil {
			return nil, err
		}
		return NewFromDialogues(c, ds)
	}
	return New(c)
}

// goroot is the Go toolchain's root: $GOROOT, the one this binary was
// built with, or what `go env GOROOT` says.
func goroot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	if r := runtime.GOROOT(); r != "" {
		if _, err := os.Stat(r); err == nil {
			return r
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return ""
}

// corpusPath resolves a spec's corpus: "$GOROOT/…" against the toolchain,
// relative paths against the spec's folder.
func corpusPath(p, dir string) (string, error) {
	if rest, ok := strings.CutPrefix(p, "$GOROOT"); ok {
		root := goroot()
		if root == "" {
			return "", fmt.Errorf("env.corpus %q: cannot find the Go root (set GOROOT)", p)
		}
		return filepath.Join(root, rest), nil
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(dir, p), nil
	}
	return p, nil
}

// CheckData: typed data records one labeller per tuple, so it is sampled;
// annotated data need annotators (the sequence env has no enumerable
// population of annotator records).
func (c *EnvConfig) CheckData(d envs.DataSpec) []envs.Problem {
	ps := envs.CheckAnnotated(d)
	if d.Regime == Annotated && d.Annotators == 0 && d.Per > 0 {
		ps = append(ps, envs.Problemf("annotators", "the sequence env has no exact annotated population (pairs: 0): draw annotators: N"))
	}
	if d.Judgments > 0 && d.Pairs > 0 {
		ps = append(ps, envs.Problemf("judgments", "size the dataset by pairs or by judgments, not both"))
	}
	if d.Judgments > 0 && d.Regime == Annotated {
		ps = append(ps, envs.Problemf("judgments", "annotated data are sized by annotators and per"))
	}
	if d.Regime == Typed && d.Pairs == 0 && d.Judgments == 0 {
		ps = append(ps, envs.Problemf("pairs", "typed data records one labeller per tuple: set pairs > 0"))
	}
	return ps
}
