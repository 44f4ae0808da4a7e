// Package store is hetalign's content-addressed step cache, modelled on the
// go command's build cache (cmd/go/internal/cache): step outputs are blobs
// named by the SHA-256 of their bytes (cas/), and a step's manifest, named
// by the step key, lists its outputs (ac/). A manifest is written last, by
// write-to-temp then rename, so it is the commit point: a killed run never
// leaves a manifest without its blobs, and two processes computing the same
// key write the same bytes, so no locks are needed.
//
// The store heals itself: a blob whose bytes do not hash to its name, or a
// manifest that does not parse, names another key or fails its own
// checksum, makes Get report a miss (with a warning that names the entry
// and the repair), so the step reruns; writing the recomputed output then
// replaces the damaged blob and manifest. `hetalign cache verify --repair`
// removes every damaged entry at once.
//
// Layout under the root directory:
//
//	cas/<2 hex>/<sha256>        output blobs
//	ac/<2 hex>/<key>.json       step manifests
//	index/<id>.json             the last run of each report (for `plan`)
//	plans/<2 hex>/<key>.json    planned step graphs, by spec digest and code
//	tmp/                        temporary files, renamed into place
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// RepairHint says how to repair a damaged cache; every message about a
// damaged entry ends with it.
const RepairHint = "to repair, run `hetalign cache verify --repair` " +
	"(or just rerun: a damaged step is recomputed and rewritten)"

// ErrCorrupt marks errors about a damaged cache entry: a blob whose bytes
// do not hash to its name, or a manifest that cannot be trusted.
var ErrCorrupt = errors.New("corrupt")

// Store is an open cache directory.
type Store struct {
	root string

	mu   sync.Mutex // serialises calls of warn
	warn func(msg string)
}

// Manifest describes one cached step.
type Manifest struct {
	// Key is the step key (hex SHA-256 of the step's description).
	Key string `json:"key"`
	// Kind is the step kind: truth, dataset, train, eval or report.
	Kind string `json:"kind"`
	// Label is a human-readable description of the step.
	Label string `json:"label,omitempty"`
	// Outputs maps output names to blob hashes.
	Outputs map[string]string `json:"outputs"`
	// Size is the total size of the outputs in bytes.
	Size int64 `json:"size"`
	// Seconds the step took to compute.
	Seconds float64 `json:"seconds"`
	// Created is when the step was computed (UTC, RFC 3339).
	Created string `json:"created"`
	// Sum is the manifest's own checksum: the hex SHA-256 of its compact
	// JSON with Sum empty ("" in manifests written before it existed).
	Sum string `json:"sum,omitempty"`
}

// Open opens (creating if needed) the store at dir.
func Open(dir string) (*Store, error) {
	for _, sub := range []string{"cas", "ac", "index", "plans", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("opening cache %s: %w", dir, err)
		}
	}
	return &Store{root: dir, warn: stderrWarn}, nil
}

func stderrWarn(msg string) { fmt.Fprintln(os.Stderr, "hetalign: warning:", msg) }

// SetWarn makes the store report damaged entries it meets (and heals) to
// f instead of standard error; nil discards them. f is never called
// concurrently.
func (s *Store) SetWarn(f func(msg string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		f = func(string) {}
	}
	s.warn = f
}

func (s *Store) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warn(msg)
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// Sum is the hex SHA-256 of b.
func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Store) blobPath(sum string) string {
	return filepath.Join(s.root, "cas", sum[:2], sum)
}

func (s *Store) manifestPath(key string) string {
	return filepath.Join(s.root, "ac", key[:2], key+".json")
}

func validHex(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// writeAtomic writes data to path via a temporary file and a rename.
func (s *Store) writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "w-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp)
		return errors.Join(werr, cerr)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// PutBlob stores data and returns its hash. A blob already present with
// these bytes is not rewritten; a file in its place that holds other bytes
// (a damaged blob) is replaced, atomically, with a warning.
func (s *Store) PutBlob(data []byte) (string, error) {
	sum := Sum(data)
	p := s.blobPath(sum)
	if st, err := os.Stat(p); err == nil {
		if st.Size() == int64(len(data)) {
			if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
				return sum, nil
			}
		}
		s.warnf("blob %s was corrupt; replacing it with the recomputed bytes", sum[:12])
	}
	if err := s.writeAtomic(p, data); err != nil {
		return "", fmt.Errorf("writing blob %s: %w", sum[:12], err)
	}
	return sum, nil
}

// Blob reads a blob and checks its hash. A damaged or missing blob is an
// error that says how to repair the cache; a damaged one wraps ErrCorrupt.
func (s *Store) Blob(sum string) ([]byte, error) {
	if !validHex(sum) {
		return nil, fmt.Errorf("invalid blob hash %q", sum)
	}
	b, err := os.ReadFile(s.blobPath(sum))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w; %s", sum[:12], err, RepairHint)
	}
	if got := Sum(b); got != sum {
		return nil, fmt.Errorf("blob %s is %w (its bytes hash to %s); %s", sum[:12], ErrCorrupt, got[:12], RepairHint)
	}
	return b, nil
}

// checkBlob hashes the blob sum without keeping its bytes.
func (s *Store) checkBlob(sum string) error {
	if !validHex(sum) {
		return fmt.Errorf("invalid blob hash %q: %w", sum, ErrCorrupt)
	}
	f, err := os.Open(s.blobPath(sum))
	if err != nil {
		return fmt.Errorf("blob %s: %w", sum[:12], err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading blob %s: %w", sum[:12], err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("blob %s is %w (its bytes hash to %s)", sum[:12], ErrCorrupt, got[:12])
	}
	return nil
}

// manifestSum is the checksum of m: the SHA-256 of its JSON with Sum empty.
func manifestSum(m Manifest) string {
	m.Sum = ""
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return Sum(b)
}

// parseManifest decodes the manifest file of key and checks it: it
// parses, names key, matches its checksum (manifests written before there
// was one have none) and lists valid blob hashes. Errors wrap ErrCorrupt.
func parseManifest(key string, b []byte) (*Manifest, error) {
	if !validHex(key) {
		return nil, fmt.Errorf("manifest is %w: its file name %q is not a step key", ErrCorrupt, key+".json")
	}
	m := new(Manifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("manifest is %w: it does not parse (%v)", ErrCorrupt, err)
	}
	if m.Key != key {
		return nil, fmt.Errorf("manifest is %w: it names key %.12s", ErrCorrupt, m.Key)
	}
	if m.Sum != "" && manifestSum(*m) != m.Sum {
		return nil, fmt.Errorf("manifest is %w: its content does not match its checksum", ErrCorrupt)
	}
	for _, n := range sortedNames(m.Outputs) {
		if !validHex(m.Outputs[n]) {
			return nil, fmt.Errorf("manifest is %w: output %s has an invalid blob hash", ErrCorrupt, n)
		}
	}
	return m, nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the manifest of key, or ok=false when the step is not
// cached. A damaged entry — a manifest that fails its checks, or an output
// blob that is missing or does not hash to its name — is a miss too, with
// a warning that names it: the step reruns, and Put replaces what was
// damaged. Get reads every output blob to check it.
func (s *Store) Get(key string) (m *Manifest, ok bool) {
	if !validHex(key) {
		return nil, false
	}
	p := s.manifestPath(key)
	b, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.warnf("step %s: reading its manifest: %v; treating the step as not cached", key[:12], err)
		}
		return nil, false
	}
	m, err = parseManifest(key, b)
	if err != nil {
		s.warnf("step %s: %v; treating the step as not cached: it reruns and rewrites its manifest; %s",
			key[:12], err, RepairHint)
		return nil, false
	}
	for _, n := range sortedNames(m.Outputs) {
		if err := s.checkBlob(m.Outputs[n]); err != nil {
			what := m.Kind
			if m.Label != "" {
				what += ": " + m.Label
			}
			s.warnf("step %s (%s): output %s: %v; treating the step as not cached: it reruns and rewrites the blob; %s",
				key[:12], what, n, err, RepairHint)
			return nil, false
		}
	}
	// Mark use for gc, at most once an hour (as the go build cache does).
	if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > time.Hour {
		now := time.Now()
		os.Chtimes(p, now, now)
	}
	return m, true
}

// Has reports whether key has a manifest: the commit point, written after
// the blobs, so this is a cheap existence check (Get also reads the
// manifest and checks its blobs).
func (s *Store) Has(key string) bool {
	if !validHex(key) {
		return false
	}
	_, err := os.Stat(s.manifestPath(key))
	return err == nil
}

// Output reads output name of a cached step.
func (s *Store) Output(m *Manifest, name string) ([]byte, error) {
	sum, ok := m.Outputs[name]
	if !ok {
		return nil, fmt.Errorf("step %s has no output %q", m.Key[:12], name)
	}
	return s.Blob(sum)
}

// Put stores the outputs of a step, then its manifest (the commit point).
func (s *Store) Put(key, kind, label string, outputs map[string][]byte, seconds float64) (*Manifest, error) {
	if !validHex(key) {
		return nil, fmt.Errorf("invalid step key %q", key)
	}
	m := &Manifest{Key: key, Kind: kind, Label: label, Outputs: map[string]string{}, Seconds: seconds,
		Created: time.Now().UTC().Format(time.RFC3339)}
	for _, n := range sortedNames(outputs) {
		sum, err := s.PutBlob(outputs[n])
		if err != nil {
			return nil, err
		}
		m.Outputs[n] = sum
		m.Size += int64(len(outputs[n]))
	}
	m.Sum = manifestSum(*m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest %s: %w", key[:12], err)
	}
	if err := s.writeAtomic(s.manifestPath(key), b); err != nil {
		return nil, fmt.Errorf("writing manifest %s: %w", key[:12], err)
	}
	return m, nil
}

// PutPlan stores a planned graph under its plan cache key.
func (s *Store) PutPlan(key string, data []byte) error {
	if !validHex(key) {
		return fmt.Errorf("invalid plan key %q", key)
	}
	if err := s.writeAtomic(filepath.Join(s.root, "plans", key[:2], key+".json"), data); err != nil {
		return fmt.Errorf("writing plan %s: %w", key[:12], err)
	}
	return nil
}

// Plan reads a planned graph; ok is false when there is none.
func (s *Store) Plan(key string) ([]byte, bool) {
	if !validHex(key) {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(s.root, "plans", key[:2], key+".json"))
	return b, err == nil
}

// PutIndex stores an index document (the last run of an experiment).
func (s *Store) PutIndex(id string, data []byte) error {
	if err := s.writeAtomic(filepath.Join(s.root, "index", id+".json"), data); err != nil {
		return fmt.Errorf("writing index %s: %w", id, err)
	}
	return nil
}

// Index reads an index document; ok is false when there is none.
func (s *Store) Index(id string) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(s.root, "index", id+".json"))
	return b, err == nil
}

// List returns every intact manifest (see Get: a damaged one is left out,
// and Verify reports it), sorted by kind then key.
func (s *Store) List() ([]*Manifest, error) {
	var out []*Manifest
	err := filepath.WalkDir(filepath.Join(s.root, "ac"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if m, err := parseManifest(strings.TrimSuffix(d.Name(), ".json"), b); err == nil {
			out = append(out, m)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Key < out[j].Key
	})
	if err != nil {
		return out, fmt.Errorf("listing manifests in %s: %w", s.root, err)
	}
	return out, nil
}

// Problem is one inconsistency found by Verify.
type Problem struct {
	// Path of the damaged file.
	Path string
	// Msg says what is wrong with it.
	Msg string
	// Repaired is true when Verify(true) removed the file.
	Repaired bool
}

// Verify re-hashes every blob and checks that every manifest parses, is
// named by its key, matches its checksum and points at present, intact
// blobs. With repair it deletes what is broken so that the affected steps
// rerun (a blob that fails its hash, then every manifest that points at a
// damaged or missing blob); a Problem whose file could not be removed has
// Repaired false and says why.
func (s *Store) Verify(repair bool) ([]Problem, error) {
	var probs []Problem
	bad := func(p, format string, args ...any) {
		pr := Problem{Path: p, Msg: fmt.Sprintf(format, args...)}
		if repair {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				pr.Msg += fmt.Sprintf(" (removing it failed: %v)", err)
			} else {
				pr.Repaired = true
			}
		}
		probs = append(probs, pr)
	}
	corrupt := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(s.root, "cas"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			corrupt[d.Name()] = true
			bad(p, "blob is unreadable: %v", err)
			return nil
		}
		if got := Sum(b); got != d.Name() {
			corrupt[d.Name()] = true
			bad(p, "blob is %v: its content hashes to %s", ErrCorrupt, got[:12])
		}
		return nil
	})
	if err != nil {
		return probs, fmt.Errorf("verifying blobs in %s: %w", s.root, err)
	}
	err = filepath.WalkDir(filepath.Join(s.root, "ac"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			bad(p, "manifest is unreadable: %v", err)
			return nil
		}
		m, err := parseManifest(strings.TrimSuffix(d.Name(), ".json"), b)
		if err != nil {
			bad(p, "%v", err)
			return nil
		}
		for _, n := range sortedNames(m.Outputs) {
			sum := m.Outputs[n]
			if corrupt[sum] {
				bad(p, "output %s (blob %s) is %v", n, sum[:12], ErrCorrupt)
				return nil
			}
			if _, err := os.Stat(s.blobPath(sum)); err != nil {
				bad(p, "output %s (blob %s) is missing", n, sum[:12])
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return probs, fmt.Errorf("verifying manifests in %s: %w", s.root, err)
	}
	return probs, nil
}

// GCStats counts what GC removed.
type GCStats struct {
	Manifests, Blobs, Temps int
	Bytes                   int64
}

// GC removes manifests unused for longer than maxAge (0 keeps them all),
// then every blob no manifest references, and leftover temporary files
// older than an hour (those of a killed run).
func (s *Store) GC(maxAge time.Duration) (GCStats, error) {
	var st GCStats
	live := map[string]bool{}
	ms, err := s.List()
	if err != nil {
		return st, fmt.Errorf("collecting garbage: %w", err)
	}
	for _, m := range ms {
		p := s.manifestPath(m.Key)
		if maxAge > 0 {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > maxAge {
				if os.Remove(p) == nil {
					st.Manifests++
				}
				continue
			}
		}
		for _, sum := range m.Outputs {
			live[sum] = true
		}
	}
	err = filepath.WalkDir(filepath.Join(s.root, "cas"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || live[d.Name()] {
			return err
		}
		if fi, err := d.Info(); err == nil {
			st.Bytes += fi.Size()
		}
		if os.Remove(p) == nil {
			st.Blobs++
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("collecting garbage in %s: %w", s.root, err)
	}
	tmps, _ := os.ReadDir(filepath.Join(s.root, "tmp"))
	for _, t := range tmps {
		if fi, err := t.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			if os.Remove(filepath.Join(s.root, "tmp", t.Name())) == nil {
				st.Temps++
			}
		}
	}
	return st, nil
}
