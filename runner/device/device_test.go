package device

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// touch creates a file (and its folders) under root.
func touch(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func fakeEnv(vars map[string]string, home string) Environ {
	return Environ{Getenv: func(k string) string { return vars[k] }, Home: home, Dir: home}
}

func TestFindCUDAPlugin(t *testing.T) {
	root := t.TempDir()
	// A venv on PATH with jax-cuda13-pjrt, as on our GPU machines.
	venv := filepath.Join(root, "torch", ".venv")
	touch(t, venv, "bin/python3")
	sp := filepath.Join(venv, "lib/python3.12/site-packages")
	cu13 := touch(t, sp, "jax_plugins/xla_cuda13/xla_cuda_plugin.so")
	os.MkdirAll(filepath.Join(sp, "nvidia/cu13"), 0o755)
	// A conda env with the cuda12 layout.
	conda := filepath.Join(root, "conda")
	sp12 := filepath.Join(conda, "lib/python3.11/site-packages")
	cu12 := touch(t, sp12, "jax_plugins/xla_cuda12/xla_cuda_plugin.so")
	os.MkdirAll(filepath.Join(sp12, "nvidia/cuda_nvcc"), 0o755)
	// A plugin named by the variable.
	explicit := touch(t, root, "plugins/pjrt_c_api_gpu_plugin.so")
	empty := t.TempDir()

	tests := []struct {
		name    string
		vars    map[string]string
		want    string
		dataDir string
	}{
		{"PJRT_PLUGIN_LIBRARY_PATH file", map[string]string{"PJRT_PLUGIN_LIBRARY_PATH": explicit, "PATH": filepath.Join(venv, "bin")}, explicit, ""},
		{"PJRT_PLUGIN_LIBRARY_PATH folder", map[string]string{"PJRT_PLUGIN_LIBRARY_PATH": filepath.Dir(explicit)}, explicit, ""},
		{"python on PATH", map[string]string{"PATH": "/nonexistent:" + filepath.Join(venv, "bin")}, cu13, filepath.Join(sp, "nvidia/cu13")},
		{"conda prefix, cuda12 layout", map[string]string{"CONDA_PREFIX": conda}, cu12, filepath.Join(sp12, "nvidia/cuda_nvcc")},
		{"nothing", map[string]string{"PATH": "/nonexistent"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := fakeEnv(tc.vars, empty)
			got, looked := FindCUDAPlugin(env)
			if got != tc.want {
				t.Fatalf("found %q, want %q (looked in %v)", got, tc.want, looked)
			}
			if got == "" {
				if len(looked) == 0 || !strings.Contains(strings.Join(looked, "\n"), filepath.Join(empty, ".venv")) {
					t.Errorf("places searched do not list ~/.venv: %v", looked)
				}
				return
			}
			b := cudaBackend("cuda", got, env)
			if b.Config != "xla:"+got || !b.GPU() || b.Env["GOMLX_NO_AUTO_INSTALL"] != "1" {
				t.Errorf("backend %+v", b)
			}
			if tc.dataDir != "" && b.Env["XLA_FLAGS"] != "--xla_gpu_cuda_data_dir="+tc.dataDir {
				t.Errorf("XLA_FLAGS = %q, want the data dir %s", b.Env["XLA_FLAGS"], tc.dataDir)
			}
			// A user's XLA_FLAGS is kept.
			tc.vars["XLA_FLAGS"] = "--mine"
			if b := cudaBackend("cuda", got, env); b.Env["XLA_FLAGS"] != "" {
				t.Errorf("XLA_FLAGS overridden: %q", b.Env["XLA_FLAGS"])
			}
		})
	}
}

func TestResolve(t *testing.T) {
	env := fakeEnv(map[string]string{"PATH": "/nonexistent"}, t.TempDir())
	b, err := Resolve("", env)
	if err != nil || b.Name != "go" || b.GPU() {
		t.Fatalf("default: %+v, %v", b, err)
	}
	if _, err := Resolve("tpu", env); err == nil {
		t.Error("unknown backend: no error")
	}
	_, err = Resolve("cuda", env)
	switch {
	case err == nil:
		t.Error("cuda without a plugin: no error")
	case xlaLinked && !strings.Contains(err.Error(), "in any of these places"):
		t.Errorf("cuda without a plugin: %v", err)
	case !xlaLinked && !strings.Contains(err.Error(), "without the XLA backend"):
		t.Errorf("cuda without XLA: %v", err)
	}
	if _, err := Resolve("xla:/nonexistent/plugin.so", env); err == nil {
		t.Error("missing plugin path: no error")
	}
}
