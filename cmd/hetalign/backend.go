package main

import (
	"fmt"

	"github.com/rs/zerolog"

	"hetalign/methods/neural"
	"hetalign/runner/device"
	"hetalign/runner/spec"
)

// chosenBackend is the resolved --backend with what enters keys and
// provenance.
type chosenBackend struct {
	*device.Backend
	key    string // in step keys: "go", or name@device
	device string // provenance: "cpu" or the GPU's description
}

// chooseBackend resolves --backend, or the specs' backend field when the
// flag is not given (they must agree), or "go".
func chooseBackend(flagValue string, files []*spec.File) (*chosenBackend, error) {
	name := flagValue
	if name == "" {
		for _, f := range files {
			if f.Backend == "" {
				continue
			}
			if name != "" && name != f.Backend {
				return nil, fmt.Errorf("specs ask for different backends (%s and %s): choose one with --backend", name, f.Backend)
			}
			name = f.Backend
		}
	}
	b, err := device.Resolve(name, device.OS())
	if err != nil {
		return nil, err
	}
	c := &chosenBackend{Backend: b, key: b.Name, device: b.Device}
	if b.Name != "go" {
		c.key = b.Name + "@" + b.Config
	}
	return c, nil
}

// open sets the backend's environment, opens it once to learn its device
// (which then enters the keys, so CPU and GPU results never share a
// cell) and logs where it found the plugin.
func (c *chosenBackend) open(log zerolog.Logger) error {
	if c.Name == "go" {
		return nil
	}
	if err := c.Apply(); err != nil {
		return err
	}
	be, err := neural.Backend(c.Config)
	if err != nil {
		return fmt.Errorf("--backend %s: %w", c.Name, err)
	}
	c.device = be.Description()
	be.Finalize()
	c.key = c.Name + "@" + c.device
	log.Info().Str("backend", c.Name).Str("plugin", c.Plugin).Str("device", c.device).Interface("env", c.Env).Msg("compute backend")
	return nil
}
