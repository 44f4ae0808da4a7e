package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"runtime"
	"strings"

	"hetalign/envs"
	"hetalign/methods"
	"hetalign/methods/reference"
	"hetalign/metrics"
	"hetalign/reports"
	"hetalign/runner/codeid"
)

// Codes gives each step the identity of the code its computation depends
// on (DESIGN.md, "Steps and keys"): a truth step the package of its env
// kind's truth builder, a dataset step the package of its world's sampler,
// a train step its method kind's own file with the method package's
// shared files and every import, an eval step the metrics, a report step
// the reports — each with its imports inside the module, the versions of
// the third-party modules they use, the Go version and GOARCH — and every
// step this package's own files, which dispatch it. Editing the README or
// reports/ leaves every fit cached; editing one method kind's file reruns
// that kind's fits and what reads them.
type Codes struct {
	src  *codeid.Source
	glue string // this package's own files
	all  string
}

// NewCodes indexes the module's source.
func NewCodes(src *codeid.Source) (*Codes, error) {
	glue, err := src.Own(src.Module() + "/runner/steps")
	if err != nil {
		return nil, err
	}
	return &Codes{src: src, glue: glue, all: src.All()}, nil
}

// All is the identity of the whole source (plans, indexes, --version).
func (c *Codes) All() string { return c.all }

// funcSite is the package import path and source file name of a function.
func funcSite(f any) (pkg, file string) {
	fn := runtime.FuncForPC(reflect.ValueOf(f).Pointer())
	if fn == nil {
		return "", ""
	}
	name := fn.Name() // e.g. hetalign/methods.init.0.func1
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return "", ""
	}
	file, _ = fn.FileLine(fn.Entry())
	return name[:slash+1+dot], path.Base(file)
}

// For is the code identity of a step of kind with its parameters.
func (c *Codes) For(kind string, params []byte) (string, error) {
	id, err := c.computation(kind, params)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte("step " + kind + "\nglue " + c.glue + "\ncode " + id + "\n"))
	return hex.EncodeToString(h[:]), nil
}

func (c *Codes) computation(kind string, params []byte) (string, error) {
	var p struct {
		Env  string `json:"env"`
		Kind string `json:"kind"`
	}
	if kind != Report {
		if err := json.Unmarshal(params, &p); err != nil {
			return "", fmt.Errorf("%s params: %w", kind, err)
		}
	}
	switch kind {
	case Truth:
		k, ok := envs.Lookup(p.Env)
		if !ok {
			return "", fmt.Errorf("env kind %q is not registered", p.Env)
		}
		return c.pkg(k.Build)
	case Dataset:
		w, err := envs.World(p.Env)
		if err != nil {
			return "", err
		}
		return c.pkg(w.Sample)
	case Train:
		k, ok := methods.Lookup(p.Kind)
		if !ok {
			return "", fmt.Errorf("method kind %q is not registered", p.Kind)
		}
		return c.method(k)
	case Refit:
		var r struct {
			Train struct {
				Kind string `json:"kind"`
			} `json:"train"`
		}
		if err := json.Unmarshal(params, &r); err != nil {
			return "", fmt.Errorf("refit params: %w", err)
		}
		k, ok := methods.Lookup(r.Train.Kind)
		if !ok {
			return "", fmt.Errorf("method kind %q is not registered", r.Train.Kind)
		}
		return c.method(k)
	case Variations:
		return c.pkg(metrics.DeriveVariation)
	case Reference:
		return c.pkg(reference.Build)
	case Eval:
		return c.pkg(metrics.Evaluate)
	case Report:
		return c.pkg(reports.Build)
	}
	return "", fmt.Errorf("unknown step kind %q", kind)
}

// pkg is the identity of the package that defines f, or of the whole
// source when that package is not in it (a kind registered by a test).
func (c *Codes) pkg(f any) (string, error) {
	p, _ := funcSite(f)
	if !c.src.Has(p) {
		return c.all, nil
	}
	return c.src.Package(p)
}

// method is a method kind's identity: in a package of several kinds, the
// kind's own file and the files that belong to no kind, with the imports
// of the whole package.
func (c *Codes) method(k methods.Kind) (string, error) {
	p, file := funcSite(k.New)
	if !c.src.Has(p) {
		return c.all, nil
	}
	others := map[string]bool{}
	for _, o := range methods.Kinds() {
		if op, of := funcSite(o.New); op == p && o.Name != k.Name && of != file {
			others[of] = true
		}
	}
	var files []string
	for _, f := range c.src.Files(p) {
		if !others[f] {
			files = append(files, f)
		}
	}
	return c.src.PackageFiles(p, files)
}
