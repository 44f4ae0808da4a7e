// Package schema embeds the core of the CUE schema every spec is unified
// with (schema.cue in this directory, which documents each field). The
// registered environment, method and metric kinds add their own fragments
// (see runner/spec), each keeping its own file name for positions.
package schema

import (
	_ "embed"
	"strings"
)

// Source is the text of schema.cue.
//
//go:embed schema.cue
var Source string

// Filename is the name errors use for positions inside the schema.
const Filename = "hetalign/specs/schema/schema.cue"

// IsSchemaFile reports whether a position's file is part of the embedded
// schema (the core or a kind's fragment) rather than a user's spec.
func IsSchemaFile(name string) bool { return strings.HasPrefix(name, "hetalign/") }
