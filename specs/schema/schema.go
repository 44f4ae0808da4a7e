// Package schema embeds the CUE schema every spec is unified with
// (schema.cue in this directory, which documents each field).
package schema

import _ "embed"

// Source is the text of schema.cue.
//
//go:embed schema.cue
var Source string

// Filename is the name errors use for positions inside the schema.
const Filename = "hetalign/specs/schema/schema.cue"
