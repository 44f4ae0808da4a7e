// Package hetalign embeds the module's own Go source and module files, so
// that the running program can tell which code each step's computation
// depends on (runner/codeid): a step's key names the source of the
// packages behind it, not the executable.
package hetalign

import "embed"

// Source holds go.mod, go.sum and every Go file of the module.
//
//go:embed go.mod go.sum */*.go */*/*.go
var Source embed.FS
