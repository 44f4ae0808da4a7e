package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// StepDesc is a step's full description, written into the store when a
// graph is handed to another executor (e.g. Slurm): with it and its inputs'
// manifests, `hetalign step --cache URL KEY` computes the step from the
// store alone.
type StepDesc struct {
	// Key is the step key; Kind, Label, Params and Seed are as in the plan.
	Key    string          `json:"key"`
	Kind   string          `json:"kind"`
	Label  string          `json:"label,omitempty"`
	Params json.RawMessage `json:"params"`
	Seed   uint64          `json:"seed"`
	// Inputs are the keys of the steps whose outputs this one reads, in
	// order, with their role names.
	Inputs     []string `json:"inputs,omitempty"`
	InputNames []string `json:"input_names,omitempty"`
	// GPU steps need the accelerator; Compute is the GoMLX backend
	// configuration the step runs with ("" or "go" for pure Go).
	GPU     bool   `json:"gpu,omitempty"`
	Compute string `json:"compute,omitempty"`
	// Code and Backend are the rest of the key's material (see StepKey):
	// the identity of the code that computes the step, and the backend
	// for steps that compute on GoMLX ("" for the others).
	Code    string `json:"code"`
	Backend string `json:"backend,omitempty"`
}

// check verifies that d is the description of key: its key material
// (kind, params, inputs, code, backend) hashes to key.
func (d *StepDesc) check(key string) error {
	if d.Key != key {
		return fmt.Errorf("it is %w: it names key %.12s", ErrCorrupt, d.Key)
	}
	if len(d.InputNames) != len(d.Inputs) {
		return fmt.Errorf("it is %w: %d inputs but %d input names", ErrCorrupt, len(d.Inputs), len(d.InputNames))
	}
	for _, in := range d.Inputs {
		if !validHex(in) {
			return fmt.Errorf("it is %w: input %q is not a step key", ErrCorrupt, in)
		}
	}
	got, err := StepKey(d.Kind, d.Params, d.Inputs, d.Code, d.Backend)
	if err != nil {
		return fmt.Errorf("it is %w: %v", ErrCorrupt, err)
	}
	if got != key {
		return fmt.Errorf("it is %w: its kind, params, inputs and code hash to %.12s, not to its key", ErrCorrupt, got)
	}
	return nil
}

func descKey(key string) string { return "steps/" + key[:2] + "/" + key + ".json" }

// PutStepDesc stores d under d.Key, sealed with its checksum
// (overwriting an earlier description of the same key, which holds the
// same content, or repairs a damaged one). A description whose material
// does not hash to its key is refused.
func (s *Store) PutStepDesc(d *StepDesc) error {
	if !validHex(d.Key) {
		return fmt.Errorf("invalid step key %q", d.Key)
	}
	if err := d.check(d.Key); err != nil {
		return fmt.Errorf("step description %s: %w", d.Key[:12], err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding step %s: %w", d.Key[:12], err)
	}
	if err := s.be.write(descKey(d.Key), seal(b)); err != nil {
		return fmt.Errorf("writing step description %s: %w", d.Key[:12], err)
	}
	return nil
}

// StepDesc reads the description of key; an error wrapping fs.ErrNotExist
// when there is none, and one wrapping ErrCorrupt when it fails its
// checksum or its material does not hash to key (an edited description is
// never computed under the original's key; the driver rewrites it when it
// submits the step again).
func (s *Store) StepDesc(key string) (*StepDesc, error) {
	if !validHex(key) {
		return nil, fmt.Errorf("invalid step key %q", key)
	}
	k := descKey(key)
	b, _, err := readAll(s.be, k)
	if err != nil {
		return nil, fmt.Errorf("reading step description %s: %w", key[:12], err)
	}
	d, err := parseDesc(key, b)
	if err != nil {
		return nil, fmt.Errorf("step description %s (%s): %w; the driver rewrites it when it submits the step again", key[:12], s.be.where(k), err)
	}
	return d, nil
}

// parseDesc unseals and decodes the description of key and checks it.
func parseDesc(key string, b []byte) (*StepDesc, error) {
	data, err := unseal(b)
	if err != nil {
		return nil, err
	}
	d := new(StepDesc)
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("it is %w: it does not decode (%v)", ErrCorrupt, err)
	}
	if err := d.check(key); err != nil {
		return nil, err
	}
	return d, nil
}

// Lease is a claim on computing one step: an object
// leases/<2 hex>/<key>.json holding its owner and expiry, created only if
// absent (IfNotExist), so of two drivers or workers on one store only one
// computes the step. A lease
// past its expiry may be taken over. Leases save work; they are not needed
// for correctness (two computations of a step write the same bytes).
type Lease struct {
	// Key is the step key.
	Key string `json:"key"`
	// Owner names the driver or worker that holds the lease.
	Owner string `json:"owner"`
	// Expires is when the lease may be taken over (UTC).
	Expires time.Time `json:"expires"`
}

// maxConflicts is how many times TryLease retries a create that
// conflicted with a concurrent one (HTTP 409).
const maxConflicts = 6

func leaseKey(key string) string { return "leases/" + key[:2] + "/" + key + ".json" }

// TryLease takes the lease of key for owner until now+ttl. It returns
// ok=false and the current holder's lease when another owner holds an
// unexpired lease; an expired lease (or one already held by owner) is
// replaced.
func (s *Store) TryLease(key, owner string, ttl time.Duration) (held *Lease, ok bool, err error) {
	if !validHex(key) {
		return nil, false, fmt.Errorf("invalid step key %q", key)
	}
	k := leaseKey(key)
	l := &Lease{Key: key, Owner: owner, Expires: s.now().Add(ttl).UTC()}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, false, fmt.Errorf("taking lease %s: %w", key[:12], err)
	}
	conflicts := 0
	for try := 0; try < 3; try++ {
		err := s.be.create(k, b)
		if err == nil {
			return l, true, nil
		}
		if errors.Is(err, errConflict) && conflicts < maxConflicts {
			// Another writer's create is in flight (S3's 409): wait a
			// little and try again, as S3 asks.
			time.Sleep(time.Duration(5<<conflicts) * time.Millisecond)
			conflicts++
			try--
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, fmt.Errorf("taking lease %s in %s: %w", key[:12], s.loc, err)
		}
		cur, rerr := s.readLease(key)
		if notExist(rerr) { // released meanwhile: try again
			continue
		}
		if rerr == nil && cur.Owner != owner && s.now().Before(cur.Expires) {
			return cur, false, nil
		}
		// Expired, unreadable or our own: replace.
		if err := s.be.remove(k); err != nil && !notExist(err) {
			return nil, false, fmt.Errorf("taking lease %s: removing the expired lease: %w", key[:12], err)
		}
	}
	return nil, false, fmt.Errorf("taking lease %s: contended", key[:12])
}

func (s *Store) readLease(key string) (*Lease, error) {
	b, _, err := readAll(s.be, leaseKey(key))
	if err != nil {
		return nil, err
	}
	l := new(Lease)
	if err := json.Unmarshal(b, l); err != nil {
		return nil, err
	}
	return l, nil
}

// LeaseOf returns the current lease of key, or nil when there is none.
func (s *Store) LeaseOf(key string) *Lease {
	if !validHex(key) {
		return nil
	}
	l, err := s.readLease(key)
	if err != nil {
		return nil
	}
	return l
}

// RenewLease extends owner's lease of key to now+ttl.
func (s *Store) RenewLease(key, owner string, ttl time.Duration) error {
	if !validHex(key) {
		return fmt.Errorf("invalid step key %q", key)
	}
	cur, err := s.readLease(key)
	if err != nil || cur.Owner != owner {
		return fmt.Errorf("renewing lease %s: not held by %s", key[:12], owner)
	}
	l := &Lease{Key: key, Owner: owner, Expires: s.now().Add(ttl).UTC()}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("renewing lease %s: %w", key[:12], err)
	}
	if err := s.be.write(leaseKey(key), b); err != nil {
		return fmt.Errorf("renewing lease %s: %w", key[:12], err)
	}
	return nil
}

// ReleaseLease removes owner's lease of key (nothing when another owner
// holds it).
func (s *Store) ReleaseLease(key, owner string) error {
	if !validHex(key) {
		return fmt.Errorf("invalid step key %q", key)
	}
	cur, err := s.readLease(key)
	if err != nil || cur.Owner != owner {
		return nil
	}
	if err := s.be.remove(leaseKey(key)); err != nil && !notExist(err) {
		return fmt.Errorf("releasing lease %s: %w", key[:12], err)
	}
	return nil
}
