package spec

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"

	"hetalign/envs"
	_ "hetalign/envs/all" // register the environment kinds
	"hetalign/methods"
	"hetalign/metrics"
	"hetalign/specs/schema"
)

// SchemaFile is one file of the composed schema.
type SchemaFile struct {
	Name, Source string
}

// RegistryFile names the generated file of kind enumerations.
const RegistryFile = "hetalign/registry.cue"

// SchemaFiles lists the files of the schema every spec is unified with:
// the core (specs/schema), methods' shared groups, every registered method
// and environment kind's fragment, and the enumerations of registered
// kinds and metrics (#MethodKind, #EnvKind, #Metric), generated.
func SchemaFiles() []SchemaFile {
	files := []SchemaFile{{schema.Filename, schema.Source}}
	for _, f := range methods.SharedCUE() {
		files = append(files, SchemaFile{f[0], f[1]})
	}
	var mk, ek, mt []string
	for _, k := range methods.Kinds() {
		mk = append(mk, fmt.Sprintf("%q", k.Name))
		if k.CUE != "" {
			files = append(files, SchemaFile{k.CUEFile, k.CUE})
		}
	}
	for _, k := range envs.Kinds() {
		ek = append(ek, fmt.Sprintf("%q", k.Name))
		if k.CUE != "" {
			files = append(files, SchemaFile{k.CUEFile, k.CUE})
		}
	}
	for _, m := range metrics.All() {
		mt = append(mt, fmt.Sprintf("%q", m.Name))
	}
	gen := fmt.Sprintf("package schema\n\n// Generated from the registries.\n#MethodKind: %s\n#EnvKind: %s\n#Metric: %s\n",
		strings.Join(mk, " | "), strings.Join(ek, " | "), strings.Join(mt, " | "))
	return append(files, SchemaFile{RegistryFile, gen})
}

// compileSchema builds the composed schema in ctx and returns #Spec.
func compileSchema(ctx *cue.Context) (cue.Value, error) {
	inst := build.NewContext().NewInstance("", nil)
	for _, f := range SchemaFiles() {
		af, err := parser.ParseFile(f.Name, f.Source, parser.ParseComments)
		if err != nil {
			return cue.Value{}, fmt.Errorf("parsing the embedded schema %s: %w", f.Name, err)
		}
		if err := inst.AddSyntax(af); err != nil {
			return cue.Value{}, fmt.Errorf("adding the embedded schema %s: %w", f.Name, err)
		}
	}
	v := ctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return cue.Value{}, fmt.Errorf("compiling the embedded schema: %w", err)
	}
	return v.LookupPath(cue.ParsePath("#Spec")), nil
}

// Field is one field a kind allows in a spec, with its CUE type as the
// schema writes it.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// KindFields lists the fields the schema allows in def ("#Method" or
// "#Env") when kind is kind, in declaration order, with their CUE types
// (the kind's fragment composed with the core schema): what
// `hetalign methods` and `hetalign envs` print.
func KindFields(def, kind string) ([]Field, error) {
	ctx := cuecontext.New()
	if _, err := compileSchema(ctx); err != nil {
		return nil, err
	}
	inst := build.NewContext().NewInstance("", nil)
	for _, f := range SchemaFiles() {
		af, err := parser.ParseFile(f.Name, f.Source, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if err := inst.AddSyntax(af); err != nil {
			return nil, err
		}
	}
	root := ctx.BuildInstance(inst)
	v := root.LookupPath(cue.ParsePath(def)).FillPath(cue.ParsePath("kind"), kind)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("%s with kind %q: %w", def, kind, err)
	}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil, err
	}
	var out []Field
	for it.Next() {
		name := it.Selector().Unquoted()
		if name == "kind" {
			continue
		}
		b, err := format.Node(it.Value().Syntax(cue.Raw()))
		if err != nil {
			return nil, err
		}
		out = append(out, Field{Name: name, Type: strings.Join(strings.Fields(string(b)), " ")})
	}
	return out, nil
}
