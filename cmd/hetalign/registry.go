package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"hetalign/envs"
	"hetalign/methods"
	"hetalign/metrics"
	"hetalign/runner/spec"
)

// kindInfo is one registered kind as `hetalign methods|envs|metrics`
// prints it.
type kindInfo struct {
	Kind     string         `json:"kind"`
	Doc      string         `json:"doc"`
	Regimes  []string       `json:"regimes,omitempty"`
	Envs     []string       `json:"envs,omitempty"`
	Metrics  []string       `json:"metrics,omitempty"`
	Fields   []spec.Field   `json:"fields,omitempty"`
	Defaults map[string]any `json:"defaults,omitempty"`
	Scope    string         `json:"scope,omitempty"`
	Shape    string         `json:"shape,omitempty"`
	Needs    string         `json:"needs,omitempty"`
}

// defaultContext is the setting the printed method defaults assume.
var defaultContext = methods.Context{EnvBeta: 1, Types: 3}

// registryInfo lists what command ("methods", "envs" or "metrics") prints.
func registryInfo(command string) ([]kindInfo, error) {
	var out []kindInfo
	switch command {
	case "methods":
		for _, k := range methods.Kinds() {
			fields, err := spec.KindFields("#Method", k.Name)
			if err != nil {
				return nil, err
			}
			var kept []spec.Field
			for _, f := range fields {
				if f.Name != "data" || k.NeedsData() {
					kept = append(kept, f)
				}
			}
			p := k.New()
			p.Defaults(defaultContext)
			b, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			var def map[string]any
			if err := json.Unmarshal(b, &def); err != nil {
				return nil, err
			}
			info := kindInfo{Kind: k.Name, Doc: k.Doc, Regimes: k.Regimes, Fields: kept, Defaults: def}
			for _, e := range envs.Kinds() {
				if k.Runs(e.World) {
					info.Envs = append(info.Envs, e.Name)
				}
			}
			out = append(out, info)
		}
	case "envs":
		for _, k := range envs.Kinds() {
			fields, err := spec.KindFields("#Env", k.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, kindInfo{Kind: k.Name, Doc: k.Doc, Regimes: k.Regimes, Metrics: k.Metrics, Fields: fields})
		}
	case "metrics":
		for _, m := range metrics.All() {
			info := kindInfo{Kind: m.Name, Doc: m.Doc, Needs: m.Needs, Scope: "method", Shape: shapeName(m.Shape)}
			if m.Scope == metrics.Truth {
				info.Scope = "truth"
			}
			for _, e := range envs.Kinds() {
				for _, n := range e.Metrics {
					if n == m.Name {
						info.Envs = append(info.Envs, e.Name)
					}
				}
			}
			out = append(out, info)
		}
	}
	return out, nil
}

func shapeName(s metrics.Shape) string {
	return [...]string{"number", "text", "vector", "matrix"}[s]
}

// runRegistry prints the method, environment or metric registry: as text
// (the default), a Markdown table (-markdown, as in docs/kinds.md) or JSON.
func runRegistry(command string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hetalign "+command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	asMD := fs.Bool("markdown", false, "print a Markdown table (as in docs/kinds.md)")
	if _, err := parse(fs, args); err != nil {
		return exitInvalid
	}
	infos, err := registryInfo(command)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign:", err)
		return exitFailed
	}
	switch {
	case *asJSON:
		b, _ := json.MarshalIndent(infos, "", "  ")
		fmt.Fprintln(stdout, string(b))
	case *asMD:
		writeMarkdown(stdout, command, infos)
	default:
		writeText(stdout, command, infos)
	}
	return exitOK
}

// markdownHeader is the header row of docs/kinds.md's table for command.
func markdownHeader(command string) string {
	switch command {
	case "methods":
		return "| kind | data regimes | envs | objective |"
	case "envs":
		return "| kind | data regimes | what |"
	}
	return "| metric | scope | shape | meaning |"
}

func writeMarkdown(w io.Writer, command string, infos []kindInfo) {
	h := markdownHeader(command)
	fmt.Fprintln(w, h)
	fmt.Fprintln(w, "|"+strings.Repeat(" --- |", strings.Count(h, "|")-1))
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, k := range infos {
		switch command {
		case "methods":
			regimes := strings.Join(k.Regimes, ", ")
			if regimes == "" {
				regimes = "none (from the truth)"
			}
			fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", k.Kind, regimes, strings.Join(k.Envs, ", "), esc(k.Doc))
		case "envs":
			fmt.Fprintf(w, "| `%s` | %s | %s |\n", k.Kind, strings.Join(k.Regimes, ", "), esc(k.Doc))
		default:
			fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", k.Kind, k.Scope, k.Shape, esc(k.Doc))
		}
	}
}

func writeText(w io.Writer, command string, infos []kindInfo) {
	if command == "methods" {
		fmt.Fprintf(w, "# defaults shown for env.beta = %g and |U| = %d\n", defaultContext.EnvBeta, defaultContext.Types)
	}
	for _, k := range infos {
		fmt.Fprintf(w, "%s\n  %s\n", k.Kind, k.Doc)
		if k.Scope != "" {
			fmt.Fprintf(w, "  %s %s; needs %s; envs: %s\n", k.Scope, k.Shape, k.Needs, strings.Join(k.Envs, ", "))
		}
		if len(k.Regimes) > 0 {
			fmt.Fprintf(w, "  data: %s\n", strings.Join(k.Regimes, " | "))
		}
		if command == "methods" {
			fmt.Fprintf(w, "  envs: %s\n", strings.Join(k.Envs, ", "))
		}
		if len(k.Metrics) > 0 {
			fmt.Fprintf(w, "  metrics: %s\n", strings.Join(k.Metrics, " "))
		}
		for _, f := range k.Fields {
			line := fmt.Sprintf("  %s: %s", f.Name, f.Type)
			if d, ok := k.Defaults[f.Name]; ok {
				b, _ := json.Marshal(d)
				line += "   (default " + string(b) + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
}
