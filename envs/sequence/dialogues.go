package sequence

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// AssistantMarker ends a dialogue's prompt: the response is what follows
// its last occurrence.
const AssistantMarker = "\n\nAssistant:"

// Dialogue is one prompt with two candidate final assistant turns, as
// HH-RLHF gives them: the same conversation ending in two responses.
type Dialogue struct {
	Line   int
	Prompt []byte
	Resp   [2][]byte
}

// DialogueStats counts what ReadDialogues kept and skipped.
type DialogueStats struct {
	Lines int
	// DifferentPrompts counts lines whose two dialogues differ before the
	// last assistant turn (not one prompt with two responses).
	DifferentPrompts int
	// EmptyResponse counts lines with an empty final turn.
	EmptyResponse int
}

// ReadDialogues reads HH-RLHF's layout: JSON lines {"chosen": …,
// "rejected": …}, gzip-compressed when data starts with gzip's magic
// bytes. Each field is a dialogue; the prompt is the text before its last
// "\n\nAssistant:" and the response what follows the marker (bytes as
// they are). Lines whose two prompts differ, or with an empty response,
// are skipped and counted. Errors name name:line.
func ReadDialogues(data []byte, name string) ([]Dialogue, DialogueStats, error) {
	var st DialogueStats
	var in io.Reader = bytes.NewReader(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, st, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		in = zr
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<26)
	var out []Dialogue
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		st.Lines++
		var rec struct {
			Chosen   *string `json:"chosen"`
			Rejected *string `json:"rejected"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, st, fmt.Errorf("%s:%d: not a JSON object with chosen and rejected: %v", name, line, err)
		}
		if rec.Chosen == nil || rec.Rejected == nil {
			return nil, st, fmt.Errorf("%s:%d: needs both \"chosen\" and \"rejected\"", name, line)
		}
		d := Dialogue{Line: line}
		var prompts [2]string
		for k, s := range []string{*rec.Chosen, *rec.Rejected} {
			i := strings.LastIndex(s, AssistantMarker)
			if i < 0 {
				return nil, st, fmt.Errorf("%s:%d: %s has no %q turn", name, line, [2]string{"chosen", "rejected"}[k], AssistantMarker)
			}
			prompts[k] = s[:i]
			d.Resp[k] = []byte(s[i+len(AssistantMarker):])
		}
		if prompts[0] != prompts[1] {
			st.DifferentPrompts++
			continue
		}
		if len(d.Resp[0]) == 0 || len(d.Resp[1]) == 0 {
			st.EmptyResponse++
			continue
		}
		d.Prompt = []byte(prompts[0])
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return nil, st, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return out, st, nil
}

// Fits reports whether a dialogue's prompt and longer response fit L
// byte tokens (Appendix F's filter).
func (d Dialogue) Fits(L int) bool {
	return len(d.Prompt)+max(len(d.Resp[0]), len(d.Resp[1])) <= L
}

// NewFromDialogues builds the World from real dialogues instead of a cut:
// the first c.Prompts dialogues (in file order) whose prompt and longer
// response fit c.L, response 0 the file's "chosen" and 1 its "rejected"
// (the types' labels come from lengths, not from these names). c.Text is
// ignored: the World's text is the kept dialogues' prompts and responses,
// concatenated. Train and test split as in New, by a shuffle seeded by
// c.Seed.
func NewFromDialogues(c Config, ds []Dialogue) (*World, error) {
	var kept []Dialogue
	fit := 0
	for _, d := range ds {
		if d.Fits(c.L) {
			fit++
			if len(kept) < c.Prompts {
				kept = append(kept, d)
			}
		}
	}
	if len(kept) < c.Prompts {
		return nil, fmt.Errorf("%d dialogues fit L = %d (prompt + longer response ≤ L bytes); env.prompts asks for %d", fit, c.L, c.Prompts)
	}
	var text []byte
	span := func(b []byte) Span {
		s := Span{Off: int32(len(text)), Len: int32(len(b))}
		text = append(text, b...)
		return s
	}
	var items []Item
	for _, d := range kept {
		it := Item{Prompt: span(d.Prompt)}
		it.Resp[0], it.Resp[1] = span(d.Resp[0]), span(d.Resp[1])
		items = append(items, it)
	}
	c.Text = text
	w, err := c.world()
	if err != nil {
		return nil, err
	}
	w.Items = items
	w.split(c, rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)))
	return w, nil
}
