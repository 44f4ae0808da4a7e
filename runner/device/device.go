// Package device turns a --backend value into the GoMLX backend that
// computes: "go" (the pure-Go backend, the default), "xla:cpu", "cuda"
// (JAX's CUDA PJRT plugin, found on this machine) or "xla:<plugin path>".
//
// For cuda it looks for the plugin, in order: $PJRT_PLUGIN_LIBRARY_PATH (a
// file, or a folder holding one); the site-packages of every Python
// environment on $PATH; $VIRTUAL_ENV and $CONDA_PREFIX; then common
// virtualenv places (./.venv, ~/.venv, ~/.local, ~/.pyenv/versions/*,
// /opt/*/.venv, /opt/*, /usr/local, /usr). In a site-packages folder the plugin is
// jax_plugins/xla_cuda13/xla_cuda_plugin.so (package jax-cuda13-pjrt) or
// jax_plugins/xla_cuda12/xla_cuda_plugin.so. It sets
// XLA_FLAGS=--xla_gpu_cuda_data_dir=<site-packages>/nvidia/cu13 (or the
// cu12 layout's nvidia/cuda_nvcc) when XLA_FLAGS is unset — go-xla
// otherwise writes a home directory of its own into it — and
// GOMLX_NO_AUTO_INSTALL=1, since nothing may be downloaded at run time.
// When nothing is found the error lists every place it looked.
package device

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Backend is a resolved --backend value.
type Backend struct {
	// Name is what the user asked for ("go", "cuda", …); it enters the
	// keys of computing steps and provenance.json.
	Name string
	// Config is GoMLX's backend configuration string.
	Config string
	// Device says what computes: "cpu" or "cuda".
	Device string
	// Plugin is the PJRT plugin's path (xla backends).
	Plugin string
	// Env are the environment variables to set before opening it.
	Env map[string]string
}

// GPU reports whether the backend computes on a GPU (its steps then take
// the single GPU slot).
func (b *Backend) GPU() bool { return b.Device == "cuda" }

// Environ is the process environment the search reads: Getenv, and the
// home and working folders. Tests give fake ones.
type Environ struct {
	Getenv func(string) string
	Home   string
	Dir    string
	// System are the machine-wide Python roots searched last.
	System []string
}

// OS is the real environment.
func OS() Environ {
	home, _ := os.UserHomeDir()
	dir, _ := os.Getwd()
	var sys []string
	for _, pat := range []string{"/opt/*/.venv", "/opt/*/venv", "/opt/*"} {
		m, _ := filepath.Glob(pat)
		sys = append(sys, m...)
	}
	return Environ{Getenv: os.Getenv, Home: home, Dir: dir, System: append(sys, "/usr/local", "/usr")}
}

// Resolve interprets a --backend value.
func Resolve(name string, env Environ) (*Backend, error) {
	switch {
	case name == "" || name == "go":
		return &Backend{Name: "go", Config: "go", Device: "cpu"}, nil
	case name == "xla:cpu":
		if !xlaLinked {
			return nil, errNoXLA(name)
		}
		return &Backend{Name: name, Config: "xla:cpu", Device: "cpu", Env: map[string]string{"GOMLX_NO_AUTO_INSTALL": "1"}}, nil
	case name == "cuda":
		if !xlaLinked {
			return nil, errNoXLA(name)
		}
		plugin, looked := FindCUDAPlugin(env)
		if plugin == "" {
			return nil, fmt.Errorf("--backend cuda: no CUDA PJRT plugin (jax_plugins/xla_cuda13/xla_cuda_plugin.so from pip package jax-cuda13-pjrt, or the cuda12 one) in any of these places:\n  %s\nset PJRT_PLUGIN_LIBRARY_PATH to the plugin, or use --backend xla:<plugin path>",
				strings.Join(looked, "\n  "))
		}
		return cudaBackend(name, plugin, env), nil
	case strings.HasPrefix(name, "xla:"):
		if !xlaLinked {
			return nil, errNoXLA(name)
		}
		p := strings.TrimPrefix(name, "xla:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(env.Dir, p)
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("--backend %s: %w", name, err)
		}
		if strings.Contains(filepath.Base(p), "cuda") || strings.Contains(filepath.Base(p), "gpu") {
			return cudaBackend(name, p, env), nil
		}
		return &Backend{Name: name, Config: "xla:" + p, Device: "cpu", Plugin: p, Env: map[string]string{"GOMLX_NO_AUTO_INSTALL": "1"}}, nil
	}
	return nil, fmt.Errorf("--backend %q: want go, xla:cpu, cuda or xla:<plugin path>", name)
}

func errNoXLA(name string) error {
	return fmt.Errorf("--backend %s: this hetalign was built without the XLA backend (it needs cgo on linux/amd64); rebuild with CGO_ENABLED=1", name)
}

// cudaBackend sets up the CUDA plugin at plugin: the CUDA data folder
// next to it (unless XLA_FLAGS is set) and no auto-install.
func cudaBackend(name, plugin string, env Environ) *Backend {
	b := &Backend{Name: name, Config: "xla:" + plugin, Device: "cuda", Plugin: plugin,
		Env: map[string]string{"GOMLX_NO_AUTO_INSTALL": "1"}}
	if env.Getenv("XLA_FLAGS") == "" {
		if dir := CUDADataDir(plugin); dir != "" {
			b.Env["XLA_FLAGS"] = "--xla_gpu_cuda_data_dir=" + dir
		}
	}
	return b
}

// pluginNames are the plugin's places inside a site-packages folder,
// newest CUDA first.
var pluginNames = []string{
	"jax_plugins/xla_cuda13/xla_cuda_plugin.so",
	"jax_plugins/xla_cuda12/xla_cuda_plugin.so",
}

// CUDADataDir is the folder of CUDA's libdevice for a plugin installed by
// pip: <site-packages>/nvidia/cu13 (jax-cuda13), or nvidia/cuda_nvcc
// (the cuda12 packages); "" when neither exists.
func CUDADataDir(plugin string) string {
	sp := filepath.Dir(filepath.Dir(filepath.Dir(plugin))) // …/site-packages
	for _, d := range []string{"nvidia/cu13", "nvidia/cuda_nvcc", "nvidia/cu12"} {
		p := filepath.Join(sp, d)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	return ""
}

// FindCUDAPlugin searches the places in the package comment. It returns
// the plugin ("" if none) and every place it looked, in order.
func FindCUDAPlugin(env Environ) (string, []string) {
	var looked []string
	isFile := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.Mode().IsRegular()
	}
	if p := env.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); p != "" {
		for _, dir := range filepath.SplitList(p) {
			looked = append(looked, dir+" ($PJRT_PLUGIN_LIBRARY_PATH)")
			if isFile(dir) {
				return dir, looked
			}
			for _, n := range []string{"xla_cuda_plugin.so", "pjrt_c_api_gpu_plugin.so"} {
				if c := filepath.Join(dir, n); isFile(c) {
					return c, looked
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, sp := range sitePackages(env) {
		if seen[sp] {
			continue
		}
		seen[sp] = true
		looked = append(looked, sp)
		for _, n := range pluginNames {
			if c := filepath.Join(sp, n); isFile(c) {
				return c, looked
			}
		}
	}
	return "", looked
}

// sitePackages lists candidate site-packages (and dist-packages) folders:
// those of Python environments on PATH, $VIRTUAL_ENV, $CONDA_PREFIX, then
// the common places.
func sitePackages(env Environ) []string {
	var roots []string
	for _, dir := range filepath.SplitList(env.Getenv("PATH")) {
		for _, py := range []string{"python3", "python"} {
			if st, err := os.Stat(filepath.Join(dir, py)); err == nil && !st.IsDir() {
				roots = append(roots, filepath.Dir(dir)) // <env>/bin/python → <env>
				break
			}
		}
	}
	for _, v := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if r := env.Getenv(v); r != "" {
			roots = append(roots, r)
		}
	}
	if env.Dir != "" {
		roots = append(roots, filepath.Join(env.Dir, ".venv"), filepath.Join(env.Dir, "venv"))
	}
	if env.Home != "" {
		roots = append(roots, filepath.Join(env.Home, ".venv"), filepath.Join(env.Home, "venv"), filepath.Join(env.Home, ".local"))
		pyenv, _ := filepath.Glob(filepath.Join(env.Home, ".pyenv", "versions", "*"))
		roots = append(roots, pyenv...)
	}
	roots = append(roots, env.System...)
	var out []string
	for _, r := range roots {
		var found []string
		for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(r, pat))
			found = append(found, m...)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(found))) // newest Python first
		if len(found) == 0 {
			found = []string{filepath.Join(r, "lib/python3*/site-packages")}
		}
		out = append(out, found...)
	}
	return out
}

// Apply sets the backend's environment variables in this process (those
// already set are kept).
func (b *Backend) Apply() error {
	for k, v := range b.Env {
		if os.Getenv(k) != "" && k != "GOMLX_NO_AUTO_INSTALL" {
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("setting %s: %w", k, err)
		}
	}
	return nil
}
