package runner_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"hetalign/envs"
	_ "hetalign/envs/all"
	"hetalign/methods"
	"hetalign/metrics"
)

// The runner and the command name no method, environment or metric kind:
// they iterate the registries (DESIGN.md, "Plug-ins: one kind, one
// place"). Every string literal of their non-test Go files is checked
// against every registered name.
func TestNoKindNamesInRunnerOrCmd(t *testing.T) {
	registered := map[string]string{}
	for _, k := range methods.Kinds() {
		registered[k.Name] = "method kind"
	}
	for _, k := range envs.Kinds() {
		registered[k.Name] = "env kind"
	}
	for _, m := range metrics.All() {
		registered[m.Name] = "metric"
	}
	if len(registered) < 30 {
		t.Fatalf("only %d registered names: the registries are not populated", len(registered))
	}
	files := 0
	for _, root := range []string{".", "../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			files++
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				if what, ok := registered[s]; ok {
					t.Errorf("%s: string literal %q names a registered %s; go through the registry", fset.Position(lit.Pos()), s, what)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 10 {
		t.Fatalf("checked only %d files", files)
	}
}
