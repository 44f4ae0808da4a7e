package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Objects that are not content-addressed (plans, step descriptions,
// indexes) are stored sealed: the JSON document
//
//	{"sum":"<hex SHA-256 of DATA>","data":DATA}
//
// where DATA is the object's own JSON, byte for byte. Reading checks the
// sum, so an edited or damaged object is never used: it is discarded with a
// warning and rebuilt (plans, indexes) or rewritten by the next submission
// (step descriptions). The envelope is parsed by position, not by a JSON
// decoder, so checking a large plan costs one hash of its bytes.

const (
	sealHead = `{"sum":"`
	sealMid  = `","data":`
	sealTail = `}`
)

// seal wraps data (a JSON document) with its checksum.
func seal(data []byte) []byte {
	head, tail := sealParts(data)
	b := make([]byte, 0, len(head)+len(data)+len(tail))
	b = append(b, head...)
	b = append(b, data...)
	return append(b, tail...)
}

// sealParts are what goes before and after data in its sealed form, for
// a write in parts that does not copy data (a plan of 10^5 steps is
// hundreds of MB).
func sealParts(data []byte) (head, tail []byte) {
	return []byte(sealHead + Sum(data) + sealMid), []byte(sealTail)
}

// unseal returns the data of a sealed object after checking its sum; the
// error wraps ErrCorrupt.
func unseal(b []byte) ([]byte, error) {
	n := len(sealHead) + 64 + len(sealMid)
	if len(b) < n+len(sealTail) || !bytes.HasPrefix(b, []byte(sealHead)) ||
		!bytes.Equal(b[len(sealHead)+64:n], []byte(sealMid)) || !bytes.HasSuffix(b, []byte(sealTail)) {
		if json.Valid(b) {
			return nil, fmt.Errorf("it is %w: it has no checksum (written by an older hetalign, or edited)", ErrCorrupt)
		}
		return nil, fmt.Errorf("it is %w: it does not parse", ErrCorrupt)
	}
	sum := string(b[len(sealHead) : len(sealHead)+64])
	if _, err := hex.DecodeString(sum); err != nil {
		return nil, fmt.Errorf("it is %w: its checksum is not hex", ErrCorrupt)
	}
	data := b[n : len(b)-len(sealTail)]
	if got := Sum(data); got != sum {
		return nil, fmt.Errorf("it is %w: its content hashes to %.12s, not to its checksum %.12s", ErrCorrupt, got, sum)
	}
	return data, nil
}

// StepKey is the key of a step: the hex SHA-256 of the canonical JSON of
// its kind, its own parameters (canonical JSON), its inputs' keys, the
// identity of the code that computes it and, for steps that compute on
// GoMLX, the backend. The planner makes keys with it, and every reader of
// a stored description (a plan, a step description) recomputes the key
// from what it read, so an edited description is never computed under the
// key of the original.
func StepKey(kind string, params json.RawMessage, inputs []string, code, backend string) (string, error) {
	doc := struct {
		Kind    string          `json:"kind"`
		Params  json.RawMessage `json:"params"`
		Inputs  []string        `json:"inputs"`
		Code    string          `json:"code"`
		Backend string          `json:"backend,omitempty"`
	}{Kind: kind, Params: params, Code: code, Backend: backend}
	if len(inputs) > 0 {
		doc.Inputs = inputs
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return Sum(b), nil
}
