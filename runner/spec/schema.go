package spec

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
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
	files := []SchemaFile{{schema.Filename, schema.Source}, {methods.CommonCUEFile, methods.CommonCUE}}
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
