package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
}

func (s *Store) descPath(key string) string {
	return filepath.Join(s.root, "steps", key[:2], key+".json")
}

// PutStepDesc stores d under d.Key (overwriting an earlier description of
// the same key, which holds the same content).
func (s *Store) PutStepDesc(d *StepDesc) error {
	if !validHex(d.Key) {
		return fmt.Errorf("invalid step key %q", d.Key)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding step %s: %w", d.Key[:12], err)
	}
	if err := s.writeAtomic(s.descPath(d.Key), b); err != nil {
		return fmt.Errorf("writing step description %s: %w", d.Key[:12], err)
	}
	return nil
}

// StepDesc reads the description of key; an error wrapping fs.ErrNotExist
// when there is none.
func (s *Store) StepDesc(key string) (*StepDesc, error) {
	if !validHex(key) {
		return nil, fmt.Errorf("invalid step key %q", key)
	}
	b, err := os.ReadFile(s.descPath(key))
	if err != nil {
		return nil, fmt.Errorf("reading step description %s: %w", key[:12], err)
	}
	d := new(StepDesc)
	if err := json.Unmarshal(b, d); err != nil || d.Key != key {
		return nil, fmt.Errorf("step description %s is %w", key[:12], ErrCorrupt)
	}
	return d, nil
}

// Lease is a claim on computing one step: an object leases/<key> holding
// its owner and expiry, created only if absent (IfNotExist), so of two
// drivers or workers on one store only one computes the step. A lease
// past its expiry may be taken over. Leases save work; they are not needed
// for correctness (two computations of a step write the same bytes).
type Lease struct {
	Key     string    `json:"key"`
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

func (s *Store) leasePath(key string) string {
	return filepath.Join(s.root, "leases", key[:2], key+".json")
}

// TryLease takes the lease of key for owner until now+ttl. It returns
// ok=false and the current holder's lease when another owner holds an
// unexpired lease; an expired lease (or one already held by owner) is
// replaced.
func (s *Store) TryLease(key, owner string, ttl time.Duration) (held *Lease, ok bool, err error) {
	if !validHex(key) {
		return nil, false, fmt.Errorf("invalid step key %q", key)
	}
	p := s.leasePath(key)
	l := &Lease{Key: key, Owner: owner, Expires: time.Now().Add(ttl).UTC()}
	b, _ := json.Marshal(l)
	for try := 0; try < 3; try++ {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, false, fmt.Errorf("taking lease %s: %w", key[:12], err)
		}
		// Write the lease whole to a temporary file, then link it into
		// place: the link fails when a lease exists, and a lease never
		// appears half-written to a reader.
		f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "lease-*")
		if err != nil {
			return nil, false, fmt.Errorf("taking lease %s: %w", key[:12], err)
		}
		_, werr := f.Write(b)
		cerr := f.Close()
		if werr != nil || cerr != nil {
			os.Remove(f.Name())
			return nil, false, fmt.Errorf("taking lease %s: %w", key[:12], errors.Join(werr, cerr))
		}
		err = os.Link(f.Name(), p)
		os.Remove(f.Name())
		if err == nil {
			return l, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, fmt.Errorf("taking lease %s: %w", key[:12], err)
		}
		cur, rerr := s.readLease(key)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if rerr == nil && cur.Owner != owner && time.Now().Before(cur.Expires) {
			return cur, false, nil
		}
		// Expired, unreadable or our own: replace.
		os.Remove(p)
	}
	return nil, false, fmt.Errorf("taking lease %s: contended", key[:12])
}

func (s *Store) readLease(key string) (*Lease, error) {
	b, err := os.ReadFile(s.leasePath(key))
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
	l := &Lease{Key: key, Owner: owner, Expires: time.Now().Add(ttl).UTC()}
	b, _ := json.Marshal(l)
	return s.writeAtomic(s.leasePath(key), b)
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
	if err := os.Remove(s.leasePath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("releasing lease %s: %w", key[:12], err)
	}
	return nil
}
