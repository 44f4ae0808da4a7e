package runner

import (
	_ "embed"
	"encoding/json"
	"sort"

	"hetalign/runner/plan"
	"hetalign/runner/steps"
)

// shippedCosts are measured seconds per step class and unit of size (see
// stepClass) on the reference machine (2 cores, quiet), written by the
// tracegen test (go test -tags tracegen ./runner -run TestRecordTrace)
// from one cold run of specs/paper/*.cue: every class from the same run,
// since the speed learned on one class scales the others.
//
//go:embed testdata/costs.json
var shippedCosts []byte

// costModel estimates how long each step of a run computes, for the ready
// queue's priorities and for the ETA.
//
// A step's base estimate is, warm, what the cache recorded for the same
// place in the last run of its report; cold, the shipped mean of its class
// (falling back to its kind's mean over the shipped classes of the same
// training style, then its kind's, then defaultCost). While the run goes
// on, each estimate is scaled by this machine's observed speed on the
// step's class (the seconds the finished steps of that class took over
// their base estimates), or, before a step of the class finished, on every
// class.
type costModel struct {
	class []int     // per step: index into classes (-1: not to run)
	base  []float64 // per step: base estimate in seconds
	guess []bool    // per step: base is a fallback (no shipped or recorded cost)
	warm  int       // steps whose base came from the cache

	classes []string
	// Per class: base seconds of the steps not finished yet, and the base
	// and actual seconds of the computed ones; guessed: some step's base
	// is a fallback.
	left, expDone, actDone []float64
	guessed                []bool
	expAll, actAll         float64
	overExp, overAct       float64 // see running
}

// defaultCost is the base estimate of a step of a kind no shipped class
// has: about what a small exact fit takes.
const defaultCost = 0.01

// stepClass is the cost class of each step of g and its size: the class
// is its kind, the env kind of the truth it derives from, and for train
// steps the method kind and whether it trains by SGD (its parameters name
// an optimizer), e.g. "train/circular/dpo/sgd"; the size of an SGD fit is
// the examples its optimizers draw (steps × batch, of the main and of any
// joint fit) in millions, of any other step 1. A step is expected to take
// its class's seconds per unit of size times its size.
func stepClass(g *plan.Graph) (classes []string, sizes []float64) {
	type opt struct {
		Steps int `json:"steps"`
		Batch int `json:"batch"`
	}
	env := make([]string, len(g.Steps))
	classes = make([]string, len(g.Steps))
	sizes = make([]float64, len(g.Steps))
	for i, s := range g.Steps {
		var head struct {
			Env       string `json:"env"`
			Kind      string `json:"kind"`
			Optimizer *opt   `json:"optimizer"`
			Joint     *opt   `json:"joint"`
		}
		switch s.Kind {
		case steps.Truth, steps.Train:
			json.Unmarshal(s.Params, &head)
		}
		if s.Kind == steps.Truth {
			env[i] = head.Env
		} else if len(s.Inputs) > 0 {
			env[i] = env[s.Inputs[0].Index]
		}
		c := s.Kind + "/" + env[i]
		sizes[i] = 1
		if s.Kind == steps.Refit { // a method's fits on derived populations: by method kind
			var r struct {
				Train struct {
					Kind string `json:"kind"`
				} `json:"train"`
			}
			json.Unmarshal(s.Params, &r)
			c += "/" + r.Train.Kind
		}
		if s.Kind == steps.Train {
			c += "/" + head.Kind
			if head.Optimizer != nil {
				c += "/sgd"
				n := 0
				for _, o := range []*opt{head.Optimizer, head.Joint} {
					if o != nil {
						n += o.Steps * max(1, o.Batch)
					}
				}
				if n > 0 {
					sizes[i] = float64(n) / 1e6
				}
			}
		}
		classes[i] = c
	}
	return classes, sizes
}

// fallbacks are the shipped classes' means by kind and training style
// ("train//sgd": every SGD fit) and by kind alone.
func fallbacks(shipped map[string]float64) map[string]float64 {
	sum, n := map[string]float64{}, map[string]int{}
	names := make([]string, 0, len(shipped))
	for c := range shipped {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		for _, k := range coarser(c)[1:] {
			sum[k] += shipped[c]
			n[k]++
		}
	}
	out := map[string]float64{}
	for k, s := range sum {
		out[k] = s / float64(n[k])
	}
	return out
}

// coarser lists class c and the coarser classes it falls back to:
// "train/circular/dpo/sgd" → itself, "train//sgd", "train".
func coarser(c string) []string {
	kind := c
	for i := range c {
		if c[i] == '/' {
			kind = c[:i]
			break
		}
	}
	out := []string{c}
	if n := len(c); n > 4 && c[n-4:] == "/sgd" {
		out = append(out, kind+"//sgd")
	}
	return append(out, kind)
}

func loadShipped() map[string]float64 {
	m := map[string]float64{}
	json.Unmarshal(shippedCosts, &m)
	return m
}

// newCostModel estimates the steps that are not cached (toRun) of a
// graph whose steps have the given classes and sizes (see stepClass):
// recorded is the warm estimate of a step (ok false when the cache has
// none), shipped the cold one per class and unit of size.
func newCostModel(classes []string, sizes []float64, toRun func(i int) bool, recorded func(i int) (float64, bool), shipped map[string]float64) *costModel {
	fb := fallbacks(shipped)
	m := &costModel{class: make([]int, len(classes)), base: make([]float64, len(classes)), guess: make([]bool, len(classes))}
	ids := map[string]int{}
	for i := range classes {
		m.class[i] = -1
		if !toRun(i) {
			continue
		}
		c := classes[i]
		id, ok := ids[c]
		if !ok {
			id = len(m.classes)
			ids[c] = id
			m.classes = append(m.classes, c)
			m.left = append(m.left, 0)
			m.expDone = append(m.expDone, 0)
			m.actDone = append(m.actDone, 0)
			m.guessed = append(m.guessed, false)
		}
		m.class[i] = id
		b, ok := recorded(i)
		if ok {
			m.warm++
		} else {
			b = defaultCost
			m.guess[i] = true
			for j, k := range coarser(c) {
				v, ok := shipped[k]
				if j > 0 {
					v, ok = fb[k]
				}
				if ok {
					b = v * sizes[i]
					m.guess[i] = j > 0
					break
				}
			}
		}
		m.guessed[id] = m.guessed[id] || m.guess[i]
		m.base[i] = b
		m.left[id] += b
	}
	return m
}

// shrink is how many seconds of estimated work the observed speed needs
// before it outweighs the estimates as they are: the first few steps of a
// run (often the quickest, and the noisiest) do not swing the ETA.
const shrink = 20.0

// speed is the observed speed over every class: actual over estimated
// seconds of the steps computed. Until shrink seconds' worth has been
// computed, the steps still running that have overrun their estimates
// count too (overAct seconds so far, against overExp estimated), so a
// slow machine shows before its first long steps finish, and the rest
// is taken at the estimates' own speed, 1.
func (m *costModel) speed() float64 {
	if m.expAll >= shrink {
		return m.actAll / m.expAll
	}
	exp := m.expAll + m.overExp
	return (m.actAll + m.overAct + max(0, shrink-exp)) / (exp + max(0, shrink-exp))
}

// ratio is the observed speed on class c, drawn towards the speed over
// every class while little of c has been computed. A class whose
// estimates are fallbacks (no step of it was ever measured) can be off by
// orders of magnitude either way, so once one of its steps has finished
// its own ratio is taken as it is.
func (m *costModel) ratio(c int) float64 {
	if m.guessed[c] && m.expDone[c] > 0 {
		return m.actDone[c] / m.expDone[c]
	}
	return (m.actDone[c] + shrink*m.speed()) / (m.expDone[c] + shrink)
}

// running tells the model what the steps still running have taken so
// far: elapsed(i) for each.
func (m *costModel) running(steps []int, elapsed func(i int) float64) {
	m.overAct, m.overExp = 0, 0
	for _, i := range steps {
		if e := elapsed(i); m.class[i] >= 0 && !m.guess[i] && e > m.base[i] {
			m.overAct += e
			m.overExp += m.base[i]
		}
	}
}

// estimate is the expected seconds of step i.
func (m *costModel) estimate(i int) float64 {
	if m.class[i] < 0 {
		return 0
	}
	return m.base[i] * m.ratio(m.class[i])
}

// finished records that step i is done: computed in seconds (ok), or not
// computed (cached after all, failed, interrupted).
func (m *costModel) finished(i int, seconds float64, computed bool) {
	c := m.class[i]
	if c < 0 {
		return
	}
	m.left[c] -= m.base[i]
	if computed && m.base[i] > 0 {
		m.expDone[c] += m.base[i]
		m.actDone[c] += seconds
		// The machine's speed is learned from measured estimates only: a
		// guessed one that is 100 times off says nothing about the machine.
		if !m.guess[i] {
			m.expAll += m.base[i]
			m.actAll += seconds
		}
	}
	m.class[i] = -1
}

// remaining is the expected seconds of the steps not finished.
func (m *costModel) remaining() float64 {
	s := 0.0
	for c := range m.classes {
		s += max(0, m.left[c]) * m.ratio(c)
	}
	return s
}
