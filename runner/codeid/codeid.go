// Package codeid computes code identities the way the go command keys an
// action (cmd/go/internal/work/buildActionID): by the inputs of the
// computation, not the whole toolchain. A package's identity is the
// SHA-256 of its own non-test Go files, the identities of the packages it
// imports inside the module, the versions (from go.mod) of the
// third-party modules it imports, the Go version and GOARCH. Editing a
// README, a report renderer or a comment in an unrelated package leaves
// the identity of a fit untouched.
package codeid

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/modfile"
)

// Source is a module's Go source, indexed by package.
type Source struct {
	module   string
	requires map[string]string // module path → version
	pkgs     map[string]*pkg   // import path → package
	toolID   string            // Go version and GOARCH

	mu   sync.Mutex
	memo map[string]string
}

type pkg struct {
	files   map[string][]byte // base name → content (non-test .go files)
	imports []string          // sorted, deduplicated
}

// Load indexes the module in fsys (its root holds go.mod).
func Load(fsys fs.FS) (*Source, error) {
	gomod, err := fs.ReadFile(fsys, "go.mod")
	if err != nil {
		return nil, fmt.Errorf("reading go.mod: %w", err)
	}
	mf, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return nil, fmt.Errorf("parsing go.mod: %w", err)
	}
	if mf.Module == nil {
		return nil, fmt.Errorf("go.mod names no module")
	}
	s := &Source{module: mf.Module.Mod.Path, requires: map[string]string{}, pkgs: map[string]*pkg{},
		toolID: runtime.Version() + " " + runtime.GOARCH, memo: map[string]string{}}
	for _, r := range mf.Require {
		s.requires[r.Mod.Path] = r.Mod.Version
	}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, b, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", p, err)
		}
		ip := s.module
		if dir := path.Dir(p); dir != "." {
			ip += "/" + dir
		}
		pk := s.pkgs[ip]
		if pk == nil {
			pk = &pkg{files: map[string][]byte{}}
			s.pkgs[ip] = pk
		}
		pk.files[path.Base(p)] = b
		for _, im := range f.Imports {
			v, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", p, im.Path.Value, err)
			}
			pk.imports = append(pk.imports, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, pk := range s.pkgs {
		sort.Strings(pk.imports)
		pk.imports = slices.Compact(pk.imports)
	}
	return s, nil
}

// Module is the module's path.
func (s *Source) Module() string { return s.module }

// Has reports whether the module has a package at the import path.
func (s *Source) Has(importPath string) bool { return s.pkgs[importPath] != nil }

// Files lists the non-test Go files of a package, sorted.
func (s *Source) Files(importPath string) []string {
	pk := s.pkgs[importPath]
	if pk == nil {
		return nil
	}
	out := make([]string, 0, len(pk.files))
	for n := range pk.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Package is the identity of a package: its own files, the identities of
// its imports inside the module, the versions of the third-party modules
// it imports, the Go version and GOARCH.
func (s *Source) Package(importPath string) (string, error) {
	return s.identity(importPath, nil, nil)
}

// PackageFiles is the identity of part of a package: only the named files
// of its own (a kind's file and the package's shared files), with the
// imports of every file of the package, so that editing one kind's file in
// a package of many kinds leaves the others' identities alone.
func (s *Source) PackageFiles(importPath string, files []string) (string, error) {
	return s.identity(importPath, files, nil)
}

func (s *Source) identity(importPath string, only []string, visiting map[string]bool) (string, error) {
	memoKey := importPath + "\x00" + strings.Join(only, "\x00")
	s.mu.Lock()
	if id, ok := s.memo[memoKey]; ok {
		s.mu.Unlock()
		return id, nil
	}
	s.mu.Unlock()
	pk := s.pkgs[importPath]
	if pk == nil {
		return "", fmt.Errorf("package %s is not in module %s", importPath, s.module)
	}
	if visiting == nil {
		visiting = map[string]bool{}
	}
	if visiting[importPath] {
		return "", fmt.Errorf("import cycle through %s", importPath)
	}
	visiting[importPath] = true
	defer delete(visiting, importPath)
	h := sha256.New()
	fmt.Fprintf(h, "codeid v1\npackage %s\ntool %s\n", importPath, s.toolID)
	names := s.Files(importPath)
	if only != nil {
		names = nil
		for _, n := range only {
			if _, ok := pk.files[n]; !ok {
				return "", fmt.Errorf("package %s has no file %s", importPath, n)
			}
			names = append(names, n)
		}
		sort.Strings(names)
	}
	for _, n := range names {
		fmt.Fprintf(h, "file %s %d\n", n, len(pk.files[n]))
		h.Write(pk.files[n])
	}
	for _, im := range pk.imports {
		switch {
		case s.pkgs[im] != nil:
			id, err := s.identity(im, nil, visiting)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "import %s %s\n", im, id)
		case s.inModule(im):
			return "", fmt.Errorf("package %s imports %s, which is not in the source", importPath, im)
		default:
			if mod, v := s.moduleOf(im); mod != "" {
				fmt.Fprintf(h, "module %s %s\n", mod, v)
			} // else the standard library: the Go version covers it
		}
	}
	id := hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.memo[memoKey] = id
	s.mu.Unlock()
	return id, nil
}

func (s *Source) inModule(im string) bool {
	return im == s.module || strings.HasPrefix(im, s.module+"/")
}

// moduleOf finds the required module that provides an import path (the
// longest module path that prefixes it).
func (s *Source) moduleOf(im string) (string, string) {
	best := ""
	for m := range s.requires {
		if (im == m || strings.HasPrefix(im, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best, s.requires[best]
}

// All is the identity of the whole module's source: every package.
func (s *Source) All() string {
	h := sha256.New()
	paths := make([]string, 0, len(s.pkgs))
	for p := range s.pkgs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fmt.Fprintf(h, "codeid v1 all\ntool %s\n", s.toolID)
	for _, p := range paths {
		for _, n := range s.Files(p) {
			fmt.Fprintf(h, "file %s/%s %d\n", p, n, len(s.pkgs[p].files[n]))
			h.Write(s.pkgs[p].files[n])
		}
	}
	for _, m := range sortedKeys(s.requires) {
		fmt.Fprintf(h, "module %s %s\n", m, s.requires[m])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Own is the identity of a package's own non-test files alone, without
// its imports: for glue code whose imports are accounted for elsewhere.
func (s *Source) Own(importPath string) (string, error) {
	pk := s.pkgs[importPath]
	if pk == nil {
		return "", fmt.Errorf("package %s is not in module %s", importPath, s.module)
	}
	h := sha256.New()
	fmt.Fprintf(h, "codeid v1 own\npackage %s\ntool %s\n", importPath, s.toolID)
	for _, n := range s.Files(importPath) {
		fmt.Fprintf(h, "file %s %d\n", n, len(pk.files[n]))
		h.Write(pk.files[n])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
