// Package store is hetalign's content-addressed step cache, modelled on the
// go command's build cache (cmd/go/internal/cache): step outputs are blobs
// named by the SHA-256 of their bytes (cas/), and a step's manifest, named
// by the step key, lists its outputs (ac/). Blobs are written once (only
// if absent) and checked against their hash whenever they are read. A
// manifest is written last, atomically, so it is the commit point: a
// killed run never leaves a manifest without its blobs, and two processes
// computing the same key write the same bytes, so no locks are needed.
//
// The store heals itself: a blob whose bytes do not hash to its name, or a
// manifest that does not parse, names another key or fails its own
// checksum, makes Get report a miss (with a warning that names the entry
// and the repair), so the step reruns; writing the recomputed output then
// replaces the damaged blob and manifest. `hetalign cache verify --repair`
// removes every damaged entry at once.
//
// Layout, under a directory or in a bucket (object keys are these paths):
//
//	cas/<2 hex>/<sha256>        output blobs
//	ac/<2 hex>/<key>.json       step manifests
//	index/<id>.json             the last run of each report (for `plan`)
//	plans/<2 hex>/<key>.json    planned step graphs, by spec digest and code
//	steps/<2 hex>/<key>.json    step descriptions, for other executors
//	leases/<2 hex>/<key>.json   leases on computing steps
//	tmp/                        temporary files, renamed into place (directory only)
//
// The cache semantics live in Store; the storage behind it is one small
// unexported interface (read, atomic write, create-if-absent, delete, list
// a prefix with sizes and modification times, stat, touch) with two
// implementations. A directory (Open of a path) writes a temporary file in
// tmp/ and renames it into place, or hard-links it for a create (which
// fails when the target exists), and marks a used manifest by setting its
// modification time. A bucket (Open of a URL: file:// on a shared
// filesystem, s3://, gs://, azblob://, or mem:// in tests) goes through
// gocloud.dev/blob: every object write is atomic and a create is a write
// with WriterOptions.IfNotExist (on file://, whose IfNotExist is a check
// then a rename that two writers can both pass, a hard link as in a
// directory); an object's modification time cannot be set, so Get rewrites
// a used manifest older than an hour (same bytes) instead. Either way `gc
// --max-age` ages steps from their last use, and gc removes temporary files
// a killed writer left (tmp/*, or *.tmp next to their targets on file://).
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
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

// Store is an open cache: a directory or a bucket.
type Store struct {
	loc string
	be  backend
	now func() time.Time // the clock gc and leases read (tests move it)

	mu   sync.Mutex // serialises calls of warn
	warn func(msg string)

	health    *health // a bucket's: see Unreachable
	planCheck func(data []byte) error
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

// Open opens the store at loc: a directory (created if needed), or a
// bucket URL opened with gocloud.dev/blob — file:///shared/dir (created if
// needed), s3://bucket?region=…, s3://bucket?endpoint=http://host:9000&
// use_path_style=true&region=… for S3-compatible stores, gs://bucket,
// azblob://container, or mem:// (an empty in-memory store that lives as
// long as this Store: for tests). A prefix=dir/ parameter keeps the cache
// under a prefix of the bucket. A bucket must exist and be reachable: Open
// lists it.
func Open(loc string) (*Store, error) {
	s := &Store{loc: loc, now: time.Now, warn: stderrWarn}
	if isURL(loc) {
		b, err := openBucket(loc)
		if err != nil {
			return nil, &OpenError{Loc: loc, Err: err}
		}
		s.health = &health{loc: b.base, warn: s.warnf}
		s.be = &guarded{backend: b, h: s.health}
	} else {
		d, err := openDir(loc)
		if err != nil {
			return nil, &OpenError{Loc: loc, Err: err}
		}
		s.be = d
	}
	return s, nil
}

// OpenError is the failure to open a store: a bad location, or a bucket
// that cannot be reached or listed.
type OpenError struct {
	Loc string
	Err error
}

func (e *OpenError) Error() string { return fmt.Sprintf("opening cache %s: %v", e.Loc, e.Err) }

func (e *OpenError) Unwrap() error { return e.Err }

// Close releases the store's connection to its bucket (nothing for a
// directory). The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.be.close(); err != nil {
		return fmt.Errorf("closing cache %s: %w", s.loc, err)
	}
	return nil
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

// Root is the store's location as given to Open: its directory, or its
// bucket URL.
func (s *Store) Root() string { return s.loc }

// Sum is the hex SHA-256 of b.
func Sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func blobKey(sum string) string     { return "cas/" + sum[:2] + "/" + sum }
func manifestKey(key string) string { return "ac/" + key[:2] + "/" + key + ".json" }
func planKey(key string) string     { return "plans/" + key[:2] + "/" + key + ".json" }
func indexKey(id string) string     { return "index/" + id + ".json" }

func validHex(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// PutBlob stores data and returns its hash. A blob already present with
// these bytes is not rewritten (a new one is created only if absent, so
// concurrent writers of one blob are safe); an object in its place that
// holds other bytes (a damaged blob) is replaced, atomically, with a
// warning.
func (s *Store) PutBlob(data []byte) (string, error) {
	sum := Sum(data)
	k := blobKey(sum)
	_, err := s.be.stat(k)
	if notExist(err) {
		err = s.be.create(k, data)
		if err == nil {
			return sum, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("writing blob %s: %w", sum[:12], err)
		}
		// Another writer created it meanwhile: check it as any present blob.
	} else if err != nil {
		return "", fmt.Errorf("writing blob %s: %w", sum[:12], err)
	}
	switch err := s.checkBlob(sum); {
	case err == nil:
		return sum, nil
	case errors.Is(err, ErrCorrupt):
		s.warnf("blob %s was corrupt; replacing it with the recomputed bytes", sum[:12])
	case notExist(err): // removed since (gc): write it
	default:
		// Not read is not damaged: leave it alone.
		return "", fmt.Errorf("writing blob %s: checking the blob already there: %w", sum[:12], err)
	}
	if err := s.be.write(k, data); err != nil {
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
	b, _, err := readAll(s.be, blobKey(sum))
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
	return s.checkObject(blobKey(sum), sum)
}

// checkObject hashes the object key and compares the hash with sum.
func (s *Store) checkObject(key, sum string) error {
	short := path.Base(key)
	if len(short) > 12 {
		short = short[:12]
	}
	rc, _, err := s.be.open(key)
	if err != nil {
		if notExist(err) {
			return fmt.Errorf("blob %s is missing: %w", short, err)
		}
		return fmt.Errorf("blob %s: %w", short, err)
	}
	defer rc.Close()
	h := sha256.New()
	// Hide rc's WriteTo: gocloud's allocates a large buffer on every call.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{rc}, make([]byte, 32<<10)); err != nil {
		return fmt.Errorf("reading blob %s: %w", short, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("blob %s is %w (its bytes hash to %s)", short, ErrCorrupt, got[:12])
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
	k := manifestKey(key)
	b, info, err := readAll(s.be, k)
	if err != nil {
		if !notExist(err) && !errors.Is(err, ErrUnreachable) {
			s.warnf("step %s: could not read its manifest: %v; treating the step as not cached", key[:12], err)
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
			if !errors.Is(err, ErrCorrupt) && !notExist(err) {
				// A transport failure: the entry may well be intact.
				if !errors.Is(err, ErrUnreachable) {
					s.warnf("step %s: could not read output %s: %v; treating the step as not cached", key[:12], n, err)
				}
				return nil, false
			}
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
	if now := s.now(); now.Sub(info.mod) > time.Hour {
		s.markUsed(k, b, now)
	}
	return m, true
}

// markUsed sets the modification time of the manifest k (holding b) to
// now; where the backend cannot (a bucket), it rewrites the manifest's
// bytes, which gives the object a new modification time. Failing is
// harmless: gc may then remove the step early, and it reruns.
func (s *Store) markUsed(k string, b []byte, now time.Time) {
	if err := s.be.touch(k, now); errors.Is(err, errors.ErrUnsupported) {
		s.be.write(k, b)
	}
}

// Has reports whether key has a manifest: the commit point, written after
// the blobs, so this is a cheap existence check (Get also reads the
// manifest and checks its blobs).
func (s *Store) Has(key string) bool {
	if !validHex(key) {
		return false
	}
	_, err := s.be.stat(manifestKey(key))
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
	if err := s.be.write(manifestKey(key), b); err != nil {
		return nil, fmt.Errorf("writing manifest %s: %w", key[:12], err)
	}
	return m, nil
}

// PutPlan stores a planned graph under its plan cache key, sealed with
// its checksum.
func (s *Store) PutPlan(key string, data []byte) error {
	if !validHex(key) {
		return fmt.Errorf("invalid plan key %q", key)
	}
	head, tail := sealParts(data)
	if err := s.be.write(planKey(key), head, data, tail); err != nil {
		return fmt.Errorf("writing plan %s: %w", key[:12], err)
	}
	return nil
}

// PutPlanFrom stores the planned graph that write writes, sealed with its
// checksum, as PutPlan(key, bytes) would, without holding its bytes (a
// plan of 10^5 steps is hundreds of MB): write is called twice, first to
// hash and count what it writes, then to write it, and must write the
// same bytes both times.
func (s *Store) PutPlanFrom(key string, write func(w io.Writer) error) error {
	if !validHex(key) {
		return fmt.Errorf("invalid plan key %q", key)
	}
	h := sha256.New()
	cw := &countWriter{w: h}
	if err := write(cw); err != nil {
		return fmt.Errorf("encoding plan %s: %w", key[:12], err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	head := sealHead + sum + sealMid
	again := sha256.New()
	err := s.be.writeFrom(planKey(key), int64(len(head))+cw.n+int64(len(sealTail)), func(w io.Writer) error {
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		if err := write(io.MultiWriter(w, again)); err != nil {
			return err
		}
		if got := hex.EncodeToString(again.Sum(nil)); got != sum {
			return fmt.Errorf("the plan's encoder wrote other bytes the second time (%.12s, then %.12s)", sum, got)
		}
		_, err := io.WriteString(w, sealTail)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing plan %s: %w", key[:12], err)
	}
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// Plan reads a planned graph; ok is false when there is none, or when it
// does not match its checksum (with a warning: the caller plans again and
// PutPlan replaces it) or cannot be read.
func (s *Store) Plan(key string) ([]byte, bool) {
	if !validHex(key) {
		return nil, false
	}
	return s.readSealed(planKey(key), "cached plan "+key[:12], "planning again from the spec")
}

// PutIndex stores an index document (the last run of an experiment),
// sealed with its checksum.
func (s *Store) PutIndex(id string, data []byte) error {
	head, tail := sealParts(data)
	if err := s.be.write(indexKey(id), head, data, tail); err != nil {
		return fmt.Errorf("writing index %s: %w", id, err)
	}
	return nil
}

// Index reads an index document; ok is false when there is none, or when
// it does not match its checksum (with a warning: the next run rewrites
// it) or cannot be read.
func (s *Store) Index(id string) ([]byte, bool) {
	return s.readSealed(indexKey(id), "index "+id, "ignoring it (the next run rewrites it)")
}

// readSealed reads the sealed object k and returns its data. A damaged
// object is a miss with a warning naming it (what) and what happens
// instead (then); a read that fails for another reason than absence is a
// miss with a warning that does not call it damaged.
func (s *Store) readSealed(k, what, then string) ([]byte, bool) {
	b, _, err := readAll(s.be, k)
	if err != nil {
		if !notExist(err) && !errors.Is(err, ErrUnreachable) {
			s.warnf("%s: could not read it: %v; %s", what, err, then)
		}
		return nil, false
	}
	data, err := unseal(b)
	if err != nil {
		s.warnf("%s (%s): %v; discarding it and %s", what, s.be.where(k), err, then)
		return nil, false
	}
	return data, true
}

// entry is one manifest found by manifests, with its object's metadata.
type entry struct {
	m    *Manifest
	info objInfo
}

// manifests reads every intact manifest under ac/; damaged ones and
// temporary files are skipped.
func (s *Store) manifests() ([]entry, error) {
	var keys []objInfo
	err := s.be.list("ac/", func(o objInfo) error {
		if !isTemp(o.key) && strings.HasSuffix(o.key, ".json") {
			keys = append(keys, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []entry
	for _, o := range keys {
		b, _, err := readAll(s.be, o.key)
		if notExist(err) { // removed since listed
			continue
		}
		if err != nil {
			return out, err
		}
		if m, err := parseManifest(strings.TrimSuffix(path.Base(o.key), ".json"), b); err == nil {
			out = append(out, entry{m, o})
		}
	}
	return out, nil
}

// List returns every intact manifest (see Get: a damaged one is left out,
// and Verify reports it), sorted by kind then key.
func (s *Store) List() ([]*Manifest, error) {
	es, err := s.manifests()
	out := make([]*Manifest, len(es))
	for i, e := range es {
		out[i] = e.m
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Key < out[j].Key
	})
	if err != nil {
		return out, fmt.Errorf("listing manifests in %s: %w", s.loc, err)
	}
	return out, nil
}

// Problem is one inconsistency found by Verify.
type Problem struct {
	// Path of the damaged file or object: a path under the cache
	// directory, or the object's URL in a bucket (without the query).
	Path string
	// Msg says what is wrong with it.
	Msg string
	// Repaired is true when Verify(true) removed the file.
	Repaired bool
	// Unreadable is true when the object could not be read (a transport
	// or permission error, not damage): Verify never removes it.
	Unreadable bool

	key string // the object's key in the store
}

// SetPlanCheck gives Verify a check of a cached plan's content (the plan
// package's Check: every key recomputed from its step's description);
// without one, Verify checks plans' checksums only.
func (s *Store) SetPlanCheck(f func(data []byte) error) { s.planCheck = f }

// Verify re-hashes every blob and checks that every manifest parses, is
// named by its key, matches its checksum and points at present, intact
// blobs; that every plan, step description and index matches its checksum;
// that every step description's material hashes to its key, and (with
// SetPlanCheck) every plan's steps to theirs. With repair it deletes what
// is broken so that the affected steps rerun and plans are made again (a
// blob that fails its hash, then every manifest that points at a damaged
// or missing blob); a Problem whose file could not be removed has
// Repaired false and says why. An object that could not be read is a
// Problem with Unreadable set, never removed, nor is a manifest whose
// blobs could not be read; when the store stops answering, Verify stops
// with its error.
func (s *Store) Verify(repair bool) ([]Problem, error) {
	var probs []Problem
	bad := func(key, format string, args ...any) {
		pr := Problem{Path: s.be.where(key), Msg: fmt.Sprintf(format, args...), key: key}
		if repair {
			if err := s.be.remove(key); err != nil && !notExist(err) {
				pr.Msg += fmt.Sprintf(" (removing it failed: %v)", err)
			} else {
				pr.Repaired = true
			}
		}
		probs = append(probs, pr)
	}
	unreadable := func(key string, err error) error {
		if errors.Is(err, ErrUnreachable) {
			return err
		}
		probs = append(probs, Problem{Path: s.be.where(key), Msg: fmt.Sprintf("could not be read: %v (not removed: a read error is not damage)", err),
			Unreadable: true, key: key})
		return nil
	}
	list := func(prefix string) ([]string, error) {
		var keys []string
		err := s.be.list(prefix, func(o objInfo) error {
			if !isTemp(o.key) {
				keys = append(keys, o.key)
			}
			return nil
		})
		sort.Strings(keys)
		if err != nil {
			return nil, fmt.Errorf("verifying %s in %s: %w", prefix, s.loc, err)
		}
		return keys, nil
	}
	blobs, err := list("cas/")
	if err != nil {
		return probs, err
	}
	corrupt := map[string]bool{} // damaged blobs
	unknown := map[string]bool{} // blobs that could not be read
	for _, k := range blobs {
		name := path.Base(k)
		err := s.checkObject(k, name)
		switch {
		case err == nil, notExist(err): // intact, or removed since listed
		case errors.Is(err, ErrCorrupt):
			corrupt[name] = true
			bad(k, "%v", err)
		default:
			unknown[name] = true
			if err := unreadable(k, err); err != nil {
				return probs, err
			}
		}
	}
	manifests, err := list("ac/")
	if err != nil {
		return probs, err
	}
manifest:
	for _, k := range manifests {
		b, _, err := readAll(s.be, k)
		if notExist(err) {
			continue
		}
		if err != nil {
			if err := unreadable(k, err); err != nil {
				return probs, err
			}
			continue
		}
		m, err := parseManifest(strings.TrimSuffix(path.Base(k), ".json"), b)
		if err != nil {
			bad(k, "%v", err)
			continue
		}
		for _, n := range sortedNames(m.Outputs) {
			sum := m.Outputs[n]
			if corrupt[sum] {
				bad(k, "output %s (blob %s) is %v", n, sum[:12], ErrCorrupt)
				continue manifest
			}
			if unknown[sum] {
				continue manifest
			}
			if _, err := s.be.stat(blobKey(sum)); notExist(err) {
				bad(k, "output %s (blob %s) is missing", n, sum[:12])
				continue manifest
			} else if err != nil {
				if err := unreadable(blobKey(sum), err); err != nil {
					return probs, err
				}
				continue manifest
			}
		}
	}
	// Plans, step descriptions and indexes: sealed with their checksum.
	for _, prefix := range []string{"plans/", "steps/", "index/"} {
		keys, err := list(prefix)
		if err != nil {
			return probs, err
		}
		for _, k := range keys {
			b, _, err := readAll(s.be, k)
			if notExist(err) {
				continue
			}
			if err != nil {
				if err := unreadable(k, err); err != nil {
					return probs, err
				}
				continue
			}
			name := strings.TrimSuffix(path.Base(k), ".json")
			switch prefix {
			case "steps/":
				if _, err := parseDesc(name, b); err != nil {
					bad(k, "step description: %v", err)
				}
			case "plans/":
				data, err := unseal(b)
				if err == nil && s.planCheck != nil {
					if cerr := s.planCheck(data); cerr != nil {
						err = fmt.Errorf("it is %w: %v", ErrCorrupt, cerr)
					}
				}
				if err != nil {
					bad(k, "plan: %v", err)
				}
			default:
				if _, err := unseal(b); err != nil {
					bad(k, "index: %v", err)
				}
			}
		}
	}
	return probs, nil
}

// GCStats counts what GC removed.
type GCStats struct {
	// Manifests, Blobs and Temps count the removed step manifests, output
	// blobs and leftover temporary files.
	Manifests, Blobs, Temps int
	// Bytes is the size of the removed blobs.
	Bytes int64
	// Leases counts the removed expired leases (of runs that ended
	// without releasing them).
	Leases int
}

// GC removes manifests unused for longer than maxAge (0 keeps them all),
// then every blob no manifest references, leftover temporary files older
// than an hour (those of a killed run) and expired leases (of runs that
// ended without releasing them). A manifest's last use is
// its modification time: Get refreshes it at most once an hour, by
// setting it in a directory and by rewriting the manifest in a bucket.
func (s *Store) GC(maxAge time.Duration) (GCStats, error) {
	var st GCStats
	now := s.now()
	live := map[string]bool{}
	es, err := s.manifests()
	if err != nil {
		return st, fmt.Errorf("collecting garbage in %s: %w", s.loc, err)
	}
	for _, e := range es {
		if maxAge > 0 && now.Sub(e.info.mod) > maxAge {
			if s.be.remove(e.info.key) == nil {
				st.Manifests++
			}
			continue
		}
		for _, sum := range e.m.Outputs {
			live[sum] = true
		}
	}
	var temps []objInfo
	err = s.be.list("cas/", func(o objInfo) error {
		if isTemp(o.key) {
			temps = append(temps, o)
			return nil
		}
		if live[path.Base(o.key)] {
			return nil
		}
		if s.be.remove(o.key) == nil {
			st.Blobs++
			st.Bytes += o.size
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("collecting garbage in %s: %w", s.loc, err)
	}
	for _, prefix := range []string{"tmp/", "ac/", "index/", "plans/", "steps/", "leases/"} {
		err := s.be.list(prefix, func(o objInfo) error {
			if isTemp(o.key) {
				temps = append(temps, o)
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("collecting garbage in %s: %w", s.loc, err)
		}
	}
	for _, t := range temps {
		if now.Sub(t.mod) > time.Hour && s.be.remove(t.key) == nil {
			st.Temps++
		}
	}
	var leases []objInfo
	if err := s.be.list("leases/", func(o objInfo) error {
		if !isTemp(o.key) {
			leases = append(leases, o)
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("collecting garbage in %s: %w", s.loc, err)
	}
	for _, o := range leases {
		b, _, err := readAll(s.be, o.key)
		if err != nil {
			continue
		}
		var l Lease
		expired := json.Unmarshal(b, &l) == nil && now.After(l.Expires)
		// An unreadable lease is left for an hour (it may be half written
		// by a directory's writer; a bucket's writes are atomic).
		damaged := !expired && json.Unmarshal(b, &l) != nil && now.Sub(o.mod) > time.Hour
		if (expired || damaged) && s.be.remove(o.key) == nil {
			st.Leases++
		}
	}
	return st, nil
}
