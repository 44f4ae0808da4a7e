package survey

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"hetalign/envs"
	"hetalign/envs/analytic"
)

//go:embed kind.cue
var kindCUE string

func init() {
	envs.Register(envs.Kind{
		Name:    "survey",
		Doc:     "Luce–Shepard rewards r_u(k) = log p_u(k) − mean_k log p_u(k) (Eq. 27) estimated per group of respondents from a survey file (Section 7.1, Appendix E); one question per cell",
		CUE:     kindCUE,
		CUEFile: "hetalign/envs/survey/kind.cue",
		Regimes: []string{analytic.Anonymous, analytic.Full, analytic.Consensus, analytic.Typed, analytic.Paired, envs.Annotated},
		Metrics: analytic.WorldMetrics,
		New:     func() envs.Config { return new(Config) },
		Build:   analytic.BuildParams,
	})
}

// Config is the survey environment's env value.
type Config struct {
	Kind      string                    `json:"kind"`
	Beta      float64                   `json:"beta"`
	File      string                    `json:"file"`
	Format    string                    `json:"format,omitempty"`
	Shares    *SharesConfig             `json:"shares,omitempty"`
	Group     string                    `json:"group,omitempty"`
	Weight    string                    `json:"weight,omitempty"`
	Missing   []string                  `json:"missing,omitempty"`
	Question  string                    `json:"question"`
	Questions map[string]QuestionConfig `json:"questions"`
	Rewards   *RewardsConfig            `json:"rewards,omitempty"`
	Sampling  map[string]float64        `json:"sampling,omitempty"`
	// Attribute is the attribute whose groups are the types (format
	// "subpop").
	Attribute string `json:"attribute,omitempty"`

	// groups is the parsed group-shares file (format "subpop"), read by
	// Defaults so that Alternatives can list the question's options;
	// groupsErr is why it could not be read (Check reports it).
	groups    *GroupShares
	groupsErr error
	// Info is OpinionQA's info.csv (format "opinionqa").
	Info string `json:"info,omitempty"`
	oqa  *OpinionQA
}

// QuestionConfig is #Question: options as [code, label] pairs.
type QuestionConfig struct {
	Options [][]any `json:"options"`
	Drop    []any   `json:"drop,omitempty"`
}

// Labels returns the option labels in table order.
func (q QuestionConfig) Labels() []string {
	out := make([]string, len(q.Options))
	for i, o := range q.Options {
		if len(o) == 2 {
			out[i] = fmt.Sprint(o[1])
		}
	}
	return out
}

// SharesConfig names the columns of a "shares" survey file.
type SharesConfig struct {
	Question string `json:"question,omitempty"`
	Option   string `json:"option,omitempty"`
	Value    string `json:"value,omitempty"`
}

// RewardsConfig is #LuceShepard.
type RewardsConfig struct {
	Smoothing   string  `json:"smoothing,omitempty"`
	PseudoCount float64 `json:"pseudocount,omitempty"`
}

type typeConfig struct {
	Codes  []any           `json:"codes"`
	Reward json.RawMessage `json:"reward"`
}

// Defaults: β = 1, format "responses", additive smoothing with α = ½,
// the shares columns "question", "option", "share".
func (c *Config) Defaults(s envs.Setting) {
	if c.Beta == 0 {
		c.Beta = 1
	}
	if c.Rewards == nil {
		c.Rewards = &RewardsConfig{}
	}
	if c.Rewards.Smoothing == "" {
		c.Rewards.Smoothing = "additive"
	}
	if c.Format == "" {
		c.Format = "responses"
	}
	if c.Rewards.Smoothing == "additive" && c.Rewards.PseudoCount == 0 {
		c.Rewards.PseudoCount = 0.5
		if c.Format == "subpop" {
			// Shares, not counts: half a respondent in a group of 100.
			c.Rewards.PseudoCount = SubpopPseudoShare
		}
	}
	if c.Format == "subpop" && c.groups == nil && c.groupsErr == nil {
		c.groups, c.groupsErr = ReadGroupShares(c.path(s.Dir))
	}
	if c.Format == "opinionqa" && c.oqa == nil && c.groupsErr == nil {
		if c.Info == "" {
			c.groupsErr = fmt.Errorf("format \"opinionqa\" needs info: the wave's info.csv")
		} else {
			c.oqa, c.groupsErr = ReadOpinionQA(c.path(s.Dir), envs.DataPath(s.Dir, c.Info))
		}
	}
	if c.Format == "shares" {
		if c.Shares == nil {
			c.Shares = &SharesConfig{}
		}
		for _, f := range []struct {
			dst *string
			def string
		}{{&c.Shares.Question, "question"}, {&c.Shares.Option, "option"}, {&c.Shares.Value, "share"}} {
			if *f.dst == "" {
				*f.dst = f.def
			}
		}
	}
}

// SubpopPseudoShare is the default additive smoothing of a group-shares
// file, in units of share: ½ respondent in a group of 100 (the file has
// no group sizes to smooth by counts).
const SubpopPseudoShare = 0.005

// Alternatives are the option labels of the cell's question: for format
// "subpop" the file's options that some group chose.
func (c *Config) Alternatives() []string {
	if c.Format == "opinionqa" {
		if c.oqa == nil {
			return nil
		}
		return c.oqa.Options[c.Question]
	}
	if c.Format == "subpop" {
		if c.groups == nil {
			return nil
		}
		q, ok := c.groups.Questions[c.Question]
		if !ok {
			return nil
		}
		return q.Labels()
	}
	return c.Questions[c.Question].Labels()
}

// typeCodes are a type's codes; for format "subpop" the type's name when
// it lists none (a type is one group).
func (c *Config) typeCodes(t envs.Type, tc typeConfig) []any {
	if len(tc.Codes) == 0 && (c.Format == "subpop" || c.Format == "opinionqa") {
		return []any{t.Name}
	}
	return tc.Codes
}

// DataFiles is the survey file.
func (c *Config) DataFiles(dir string) []string {
	if c.Info != "" {
		return []string{c.path(dir), envs.DataPath(dir, c.Info)}
	}
	return []string{c.path(dir)}
}

func (c *Config) path(dir string) string { return envs.DataPath(dir, c.File) }

// Check: codes on every type and no reward table, at least two options
// with distinct labels per question, the question defined, sampling over
// its options.
func (c *Config) Check(s envs.Setting) []envs.Problem {
	var ps []envs.Problem
	for _, t := range s.Types {
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "%v", err))
			continue
		}
		if len(c.typeCodes(t, tc)) == 0 {
			ps = append(ps, envs.Problemf("population.types."+t.Name, "type %s needs codes: the group codes of its respondents", t.Name))
		}
		if c.Format == "subpop" && len(tc.Codes) > 1 {
			ps = append(ps, envs.Problemf("population.types."+t.Name+".codes", "a group-shares file has no group sizes to merge groups by: a type is one group"))
		}
		if tc.Reward != nil {
			ps = append(ps, envs.Problemf("population.types."+t.Name+".reward", "a survey estimates rewards from the answers; remove reward"))
		}
	}
	if c.Format == "subpop" {
		if c.Group != "" {
			ps = append(ps, envs.Problemf("env.group", "format \"subpop\" has no group column: types are groups of env.attribute"))
		}
		return append(ps, c.checkSubpop()...)
	}
	if c.Format == "opinionqa" {
		return append(ps, c.checkOpinionQA()...)
	}
	if c.Group == "" {
		ps = append(ps, envs.Problemf("env.group", "format %q needs group: the column of each respondent's group code", c.Format))
	}
	qs := envs.SortedKeys(c.Questions)
	for _, qn := range qs {
		q := c.Questions[qn]
		at := "env.questions." + envs.QuoteLabel(qn) + ".options"
		if len(q.Options) < 2 {
			ps = append(ps, envs.Problemf(at, "question %s needs at least two options", qn))
		}
		seen := map[string]bool{}
		for i, o := range q.Options {
			if len(o) != 2 {
				ps = append(ps, envs.Problemf(fmt.Sprintf("%s[%d]", at, i), "an option is [code, label]"))
				continue
			}
			if l := fmt.Sprint(o[1]); seen[l] {
				ps = append(ps, envs.Problemf(fmt.Sprintf("%s[%d]", at, i), "label %q is used twice", l))
			} else {
				seen[l] = true
			}
		}
	}
	q, ok := c.Questions[c.Question]
	if !ok {
		list := "none"
		if len(qs) > 0 {
			list = strings.Join(qs, ", ")
		}
		ps = append(ps, envs.Problemf("env.question", "question %q is not in env.questions (defined: %s)", c.Question, list))
		return ps
	}
	return append(ps, envs.CheckWeights("env.sampling", c.Sampling, q.Labels())...)
}

// checkSubpop: the file reads, the attribute is named, the question is in
// the file with at least two chosen options, sampling over them.
func (c *Config) checkSubpop() []envs.Problem {
	var ps []envs.Problem
	if c.groupsErr != nil {
		return append(ps, envs.Problemf("env.file", "%v", c.groupsErr))
	}
	if c.Attribute == "" {
		ps = append(ps, envs.Problemf("env.attribute", "format \"subpop\" needs attribute: the attribute whose groups are the types"))
	}
	if len(c.Questions) > 0 {
		ps = append(ps, envs.Problemf("env.questions", "format \"subpop\" takes each question's options from the file; remove questions"))
	}
	q, err := c.groups.Question(c.Question)
	if err != nil {
		return append(ps, envs.Problemf("env.question", "%v", err))
	}
	labels := q.Labels()
	if len(labels) < 2 {
		ps = append(ps, envs.Problemf("env.question", "%s:%d: question %s has %d options that someone chose; it needs two", c.groups.Path, q.Line, c.Question, len(labels)))
	}
	return append(ps, envs.CheckWeights("env.sampling", c.Sampling, labels)...)
}

// checkOpinionQA: both files read, the question is in info.csv with at
// least two options, no group column or questions, sampling over the
// options.
func (c *Config) checkOpinionQA() []envs.Problem {
	var ps []envs.Problem
	if c.groupsErr != nil {
		return append(ps, envs.Problemf("env.file", "%v", c.groupsErr))
	}
	if c.Group != "" {
		ps = append(ps, envs.Problemf("env.group", "format \"opinionqa\" has no group column: types list the file's groups as codes"))
	}
	if len(c.Questions) > 0 {
		ps = append(ps, envs.Problemf("env.questions", "format \"opinionqa\" takes each question's options from info.csv; remove questions"))
	}
	opts, ok := c.oqa.Options[c.Question]
	if !ok {
		return append(ps, envs.Problemf("env.question", "%s: no question %q in column key", c.oqa.Info, c.Question))
	}
	if len(opts) < 2 {
		ps = append(ps, envs.Problemf("env.question", "%s:%d: question %s has %d options; it needs two", c.oqa.Info, c.oqa.InfoLine[c.Question], c.Question, len(opts)))
	}
	return append(ps, envs.CheckWeights("env.sampling", c.Sampling, opts)...)
}

// TruthParams are a survey cell's truth parameters: the rewards estimated
// from the file, with the question and the weighted answer counts per type
// they came from (so that a changed file changes the key).
type TruthParams struct {
	envs.TruthBase
	Question string      `json:"question,omitempty"`
	Counts   [][]float64 `json:"counts,omitempty"`
}

// Truth reads the survey file and estimates each type's rewards.
func (c *Config) Truth(s envs.Setting) (any, error) {
	q, ok := c.Questions[c.Question]
	if !ok && c.Format != "subpop" && c.Format != "opinionqa" {
		return nil, fmt.Errorf("question %q is not in env.questions", c.Question)
	}
	src := Source{Path: c.path(s.Dir), Group: c.Group, Weight: c.Weight, Question: c.Question, Missing: c.Missing}
	names := make([]string, len(s.Types))
	for i, t := range s.Types {
		names[i] = t.Name
		var tc typeConfig
		if err := envs.DecodeStrict(t.Raw, &tc); err != nil {
			return nil, fmt.Errorf("type %s: %w", t.Name, err)
		}
		ty := Type{Name: t.Name}
		for _, code := range c.typeCodes(t, tc) {
			ty.Codes = append(ty.Codes, fmt.Sprint(code))
		}
		src.Types = append(src.Types, ty)
	}
	for _, o := range q.Options {
		src.Options = append(src.Options, Option{Code: fmt.Sprint(o[0]), Label: fmt.Sprint(o[1])})
	}
	for _, d := range q.Drop {
		src.Drop = append(src.Drop, fmt.Sprint(d))
	}
	var counts *Counts
	var err error
	alts := q.Labels()
	if c.Format == "opinionqa" {
		if c.groupsErr != nil {
			return nil, c.groupsErr
		}
		counts, err = c.oqa.Counts(c.Question, src.Types)
		if err == nil {
			alts = counts.Options
		}
	} else if c.Format == "subpop" {
		if c.groupsErr != nil {
			return nil, c.groupsErr
		}
		if c.groups == nil {
			return nil, fmt.Errorf("group shares of %s were not read", src.Path)
		}
		counts, err = c.groups.Counts(c.Question, c.Attribute, src.Types)
		if err == nil {
			alts = counts.Options
			raw := make([]float64, len(s.Types))
			for i, t := range s.Types {
				raw[i] = t.Weight
			}
			counts.Shares, err = envs.Normalise(raw)
		}
	} else if c.Format == "shares" {
		sc := c.Shares
		counts, err = ReadShares(src, SharesColumns{Question: sc.Question, Option: sc.Option, Value: sc.Value})
		if err == nil {
			raw := make([]float64, len(s.Types))
			for i, t := range s.Types {
				raw[i] = t.Weight
			}
			counts.Shares, err = envs.Normalise(raw)
		}
	} else {
		counts, err = Read(src)
	}
	if err != nil {
		return nil, err
	}
	sm := Smoothing{Published: c.Rewards.Smoothing == "published", PseudoCount: c.Rewards.PseudoCount}
	rewards, err := counts.Rewards(sm)
	if err != nil {
		return nil, err
	}
	samp, err := envs.Distribution("sampling", alts, c.Sampling)
	if err != nil {
		return nil, err
	}
	ref, _ := envs.Distribution("reference", alts, nil)
	return &TruthParams{
		TruthBase: envs.TruthBase{Env: c.Kind, Alternatives: alts, Types: names, Weights: counts.Shares,
			Rewards: rewards, Sampling: samp, Reference: ref, Beta: c.Beta, Model: s.Model, Temperature: s.Temperature},
		Question: c.Question, Counts: counts.N,
	}, nil
}
