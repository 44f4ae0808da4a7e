package sequence

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
)

// hhLine writes one HH-RLHF line: the same prompt ending in two turns.
func hhLine(prompt, chosen, rejected string) string {
	b, _ := json.Marshal(map[string]string{"chosen": prompt + AssistantMarker + chosen, "rejected": prompt + AssistantMarker + rejected})
	return string(b) + "\n"
}

func TestReadDialogues(t *testing.T) {
	p := "\n\nHuman: hi" + AssistantMarker + " hello\n\nHuman: more?" // an earlier assistant turn stays in the prompt
	text := hhLine(p, " yes", " no thanks") +
		`{"chosen": "\n\nHuman: a` + `\n\nAssistant: x", "rejected": "\n\nHuman: b\n\nAssistant: y"}` + "\n" + // prompts differ: skipped
		hhLine("\n\nHuman: q", "", " r") + // an empty response: skipped
		"\n" +
		hhLine("\n\nHuman: short", " ok", " fine")
	for _, gz := range []bool{false, true} {
		data := []byte(text)
		if gz {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			data = b.Bytes()
		}
		ds, st, err := ReadDialogues(data, "d.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 || st.Lines != 4 || st.DifferentPrompts != 1 || st.EmptyResponse != 1 {
			t.Fatalf("gzip %v: %d dialogues, stats %+v", gz, len(ds), st)
		}
		if string(ds[0].Prompt) != p || string(ds[0].Resp[0]) != " yes" || string(ds[0].Resp[1]) != " no thanks" || ds[0].Line != 1 {
			t.Errorf("dialogue 0: %+v", ds[0])
		}
		if ds[1].Line != 5 {
			t.Errorf("dialogue 1 from line %d, want 5", ds[1].Line)
		}
	}
}

func TestReadDialoguesErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"not JSON", hhLine("\n\nHuman: a", " b", " c") + "chosen,rejected\n", "d.jsonl:2: not a JSON object"},
		{"missing field", `{"chosen": "\n\nHuman: a\n\nAssistant: b"}` + "\n", `d.jsonl:1: needs both "chosen" and "rejected"`},
		{"no assistant turn", `{"chosen": "\n\nHuman: a", "rejected": "\n\nHuman: a\n\nAssistant: b"}` + "\n", "d.jsonl:1: chosen has no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadDialogues([]byte(tc.text), "d.jsonl")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Appendix F's filter keeps a dialogue when prompt + longer response fit
// L; the World's items point at exactly the dialogues' bytes, and the
// split holds out round(test × prompts) of them.
func TestNewFromDialogues(t *testing.T) {
	var text string
	// Prompt lengths 10 + i, responses of 1 and 2i + 1 bytes: prompt +
	// longer response = 11 + 3i, within L = 40 for i ≤ 9.
	var wantPrompts []string
	for i := range 14 {
		prompt := strings.Repeat("p", 10+i)
		text += hhLine(prompt, strings.Repeat("a", 1), strings.Repeat("b", 2*i+1))
		if 11+3*i <= 40 {
			wantPrompts = append(wantPrompts, prompt)
		}
	}
	ds, _, err := ReadDialogues([]byte(text), "d.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	c := Config{L: 40, Prompts: 8, Test: 0.25, PromptMin: 1, PromptMax: 10, Names: []string{"long", "short"}, Weights: []float64{0.5, 0.5},
		Rewards: []LengthReward{{Shape: "rising"}, {Shape: "falling"}}, Temperature: 1, Grid: 5}
	w, err := NewFromDialogues(c, ds)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Items) != 8 || len(w.Test) != 2 || len(w.Train) != 6 {
		t.Fatalf("%d items, %d test, %d train", len(w.Items), len(w.Test), len(w.Train))
	}
	for k, it := range w.Items {
		if got := string(w.Text[it.Prompt.Off : it.Prompt.Off+it.Prompt.Len]); got != wantPrompts[k] {
			t.Errorf("item %d prompt %q, want %q", k, got, wantPrompts[k])
		}
		if x := w.X(int32(k), 1); x != len(wantPrompts[k])+2*k+1 || x > c.L {
			t.Errorf("item %d: x = %d", k, x)
		}
	}
	c.Prompts = 11
	if _, err := NewFromDialogues(c, ds); err == nil || !strings.Contains(err.Error(), "10 dialogues fit L = 40") {
		t.Errorf("too few dialogues: %v", err)
	}
}
