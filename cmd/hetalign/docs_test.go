package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"hetalign/specs/schema"
)

// update rewrites the generated sections of docs/*.md instead of
// comparing them: go test ./cmd/hetalign -run TestDocs -update
var update = flag.Bool("update", false, "rewrite the generated sections of docs/*.md from the registry and the CLI")

// generatedSection is a part of a docs page between <!-- NAME:begin -->
// and <!-- NAME:end --> that the registry or the CLI knows.
type generatedSection struct {
	page, name string
	text       func(t *testing.T) string
}

// kindTable is the Markdown table `hetalign COMMAND -markdown` prints.
func kindTable(command string) func(t *testing.T) string {
	return func(t *testing.T) string {
		infos, err := registryInfo(command)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		writeMarkdown(&b, command, infos)
		return b.String()
	}
}

// kindFields is `hetalign COMMAND` (every kind with its fields, types and
// defaults) in a code block.
func kindFields(command string) func(t *testing.T) string {
	return func(t *testing.T) string {
		infos, err := registryInfo(command)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		writeText(&b, command, infos)
		return "```\n" + b.String() + "```\n"
	}
}

// flagEntry is one flag as flag.PrintDefaults prints it.
type flagEntry struct{ name, typ, usage, def string }

var (
	flagLine    = regexp.MustCompile(`^  -(\S+)(?: (\S+))?(?:\t(.*))?$`)
	flagDefault = regexp.MustCompile(` \(default ((?:[^()"]|"[^"]*")*)\)$`)
)

// cliFlags runs `hetalign ARGS -h` in a neutral environment (no
// $HETALIGN_CACHE or $SLURM_CPUS_PER_TASK) and parses the flags it
// prints.
func cliFlags(t *testing.T, args ...string) []flagEntry {
	t.Setenv("HETALIGN_CACHE", "")
	t.Setenv("SLURM_CPUS_PER_TASK", "")
	var o, e bytes.Buffer
	run(append(args, "-h"), &o, &e)
	var out []flagEntry
	for _, l := range strings.Split(e.String(), "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			out = append(out, flagEntry{name: m[1], typ: m[2], usage: m[3]})
			continue
		}
		if strings.HasPrefix(l, "    \t") && len(out) > 0 {
			f := &out[len(out)-1]
			f.usage = strings.TrimSpace(f.usage + " " + strings.TrimPrefix(l, "    \t"))
		}
	}
	if len(out) == 0 {
		t.Fatalf("hetalign %s -h printed no flags:\n%s", strings.Join(args, " "), e.String())
	}
	for i := range out {
		f := &out[i]
		if m := flagDefault.FindStringSubmatch(f.usage); m != nil {
			f.def = m[1]
			f.usage = strings.TrimSuffix(f.usage, m[0])
		}
		if f.name == "jobs" && f.def == strconv.Itoa(runtime.NumCPU()) {
			f.def = "the number of cores"
		}
		if f.typ == "value" {
			f.typ = "string (repeatable)"
		}
	}
	return out
}

// flagTable is a Markdown table of the flags of `hetalign ARGS`.
func flagTable(args ...string) func(t *testing.T) string {
	return func(t *testing.T) string {
		var b strings.Builder
		b.WriteString("| flag | value | default | meaning |\n| --- | --- | --- | --- |\n")
		esc := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace
		for _, f := range cliFlags(t, args...) {
			typ := f.typ
			if typ == "" {
				typ = "bool"
			}
			def := f.def
			switch {
			case def == "":
				def = "–"
			case def != "the number of cores":
				def = "`" + def + "`"
			}
			dash := "--"
			if len(f.name) == 1 {
				dash = "-"
			}
			fmt.Fprintf(&b, "| `%s%s` | %s | %s | %s |\n", dash, f.name, typ, esc(def), esc(f.usage))
		}
		return b.String()
	}
}

// docsSections are every generated part of the docs pages.
var docsSections = []generatedSection{
	{"kinds.md", "methods", kindTable("methods")},
	{"kinds.md", "envs", kindTable("envs")},
	{"kinds.md", "metrics", kindTable("metrics")},
	{"kinds.md", "method-fields", kindFields("methods")},
	{"kinds.md", "env-fields", kindFields("envs")},
	{"cli.md", "usage", func(*testing.T) string { return "```\n" + usage + "```\n" }},
	{"cli.md", "flags-run", flagTable("run")},
	{"cli.md", "flags-diff", flagTable("diff")},
	{"cli.md", "flags-cache", flagTable("cache", "ls")},
	{"cli.md", "flags-step", flagTable("step")},
	{"cli.md", "flags-bench", flagTable("bench")},
	{"cli.md", "flags-registry", flagTable("methods")},
	{"axioms.md", "axiom-table", axiomMethodTable},
	{"../README.md", "axiom-families", axiomFamilyTable},
}

// The generated parts of docs/*.md are what the registry and the CLI
// print today: every registered kind with its regimes, envs, doc and
// fields, the usage text, and every flag of every command with its
// default. Regenerate them with
//
//	go test ./cmd/hetalign -run TestDocsGenerated -update
func TestDocsGenerated(t *testing.T) {
	pages := map[string]string{}
	for _, s := range docsSections {
		p := filepath.Join("..", "..", "docs", s.page)
		text, ok := pages[p]
		if !ok {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			text = string(b)
		}
		begin, end := "<!-- "+s.name+":begin -->\n", "<!-- "+s.name+":end -->"
		i, j := strings.Index(text, begin), strings.Index(text, end)
		if i < 0 || j < i {
			t.Fatalf("docs/%s has no section between %q and %q", s.page, begin, end)
		}
		want := s.text(t)
		if got := text[i+len(begin) : j]; got != want {
			if !*update {
				t.Errorf("docs/%s's %s section differs from what the code prints; regenerate it with `go test ./cmd/hetalign -run TestDocsGenerated -update`:\n%s", s.page, s.name, want)
			}
			text = text[:i+len(begin)] + want + text[j:]
		}
		pages[p] = text
	}
	if *update {
		for p, text := range pages {
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The hand-written explanation of the flags in docs/cli.md covers every
// flag of the commands that read specs, diff, step and cache.
func TestDocsExplainEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "<!-- meanings:begin -->")
	j := strings.Index(text, "<!-- meanings:end -->")
	if i < 0 || j < i {
		t.Fatal("docs/cli.md has no <!-- meanings:begin --> … <!-- meanings:end --> table")
	}
	table := text[i:j]
	for _, args := range [][]string{{"run"}, {"diff"}, {"cache", "ls"}, {"step"}} {
		for _, f := range cliFlags(t, args...) {
			dash := "--"
			if len(f.name) == 1 {
				dash = "-"
			}
			if !strings.Contains(table, "`"+dash+f.name) {
				t.Errorf("docs/cli.md's table of flags does not explain %s%s (of hetalign %s)", dash, f.name, strings.Join(args, " "))
			}
		}
	}
}

// docs/spec.md names every field of the core schema (specs/schema/schema.cue):
// a field added to the schema needs a line in the reference.
func TestDocsSpecFields(t *testing.T) {
	b, err := os.ReadFile("../../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	def := regexp.MustCompile(`^#(\w+): \{`)
	field := regexp.MustCompile(`^\t(\w+)\??:`)
	in := ""
	n := 0
	for _, l := range strings.Split(schema.Source, "\n") {
		if m := def.FindStringSubmatch(l); m != nil {
			in = m[1]
			continue
		}
		if l == "}" {
			in = ""
			continue
		}
		m := field.FindStringSubmatch(l)
		if in == "" || m == nil {
			continue
		}
		n++
		if !strings.Contains(doc, "`"+m[1]+"`") && !strings.Contains(doc, "`"+m[1]+":") && !strings.Contains(doc, "`"+m[1]+".") {
			t.Errorf("docs/spec.md does not mention the field %s of #%s (write it as `%s`)", m[1], in, m[1])
		}
	}
	if n < 40 {
		t.Fatalf("found only %d fields in the schema: the parser no longer fits schema.cue", n)
	}
}

// docs/cli.md's list of go tool task targets names every target of
// Taskfile.yml.
func TestDocsTaskTargets(t *testing.T) {
	tf, err := os.ReadFile("../../Taskfile.yml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, "<!-- tasks:begin -->"), strings.Index(doc, "<!-- tasks:end -->")
	if i < 0 || j < i {
		t.Fatal("docs/cli.md has no <!-- tasks:begin --> … <!-- tasks:end --> list")
	}
	list := doc[i:j]
	target := regexp.MustCompile(`(?m)^  ([a-z][a-z0-9-]*):$`)
	n := 0
	for _, m := range target.FindAllStringSubmatch(string(tf), -1) {
		n++
		if !strings.Contains(list, "`"+m[1]+"`") {
			t.Errorf("docs/cli.md's list of go tool task targets does not name %s", m[1])
		}
	}
	if n < 5 {
		t.Fatalf("found %d targets in Taskfile.yml: the parser no longer fits it", n)
	}
}
