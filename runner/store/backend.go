package store

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"time"
)

// backend holds the store's objects: byte strings named by slash-separated
// keys such as "cas/ab/<sha256>". Store implements the cache's semantics
// (hashes, manifests, leases) over these primitives; dirBackend (a local
// directory) and bucketBackend (a gocloud.dev/blob bucket) implement them.
//
// Errors about an absent object wrap fs.ErrNotExist; create of a present
// one wraps fs.ErrExist.
type backend interface {
	// open reads the object key; info is its size and modification time.
	open(key string) (rc io.ReadCloser, info objInfo, err error)
	// write stores the concatenation of parts under key atomically: a
	// reader sees the old bytes or the new ones, never a part. (Parts
	// spare a copy of a large object and its envelope: see PutPlan.)
	write(key string, parts ...[]byte) error
	// writeFrom stores what fill writes (size bytes) under key, atomically
	// as write: an object too large to hold in memory (a plan).
	writeFrom(key string, size int64, fill func(w io.Writer) error) error
	// create writes data under key only if no object is there (atomically,
	// also against a concurrent create).
	create(key string, data []byte) error
	// remove deletes the object key.
	remove(key string) error
	// list calls fn for every object whose key starts with prefix, in no
	// particular order; an error from fn stops the listing and is returned.
	list(prefix string, fn func(objInfo) error) error
	// stat returns the size and modification time of key.
	stat(key string) (objInfo, error)
	// touch sets the modification time of key to t, marking it used for
	// gc; errors.ErrUnsupported where the backend cannot (a bucket).
	touch(key string, t time.Time) error
	// where names the object key for people: a path or a URL.
	where(key string) string
	// close releases the backend's resources.
	close() error
}

// objInfo describes one object.
type objInfo struct {
	key  string
	size int64
	mod  time.Time
}

// readAll reads the whole object key.
func readAll(b backend, key string) ([]byte, objInfo, error) {
	rc, info, err := b.open(key)
	if err != nil {
		return nil, info, err
	}
	// The buffer is the object's size, plus one byte to see the end
	// without growing it: a run reads 10^5 small outputs at once (a
	// report's evaluations), and bytes.Buffer's 512 spare bytes would
	// triple them.
	buf := make([]byte, 0, max(info.size, 0)+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		n, err = rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return buf, info, err
}

// notExist reports whether err says an object is absent.
func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// isTemp reports whether key is a temporary file left by a writer: under
// tmp/ (the directory store) or named *.tmp (fileblob writes its
// temporaries next to their targets on a shared filesystem).
func isTemp(key string) bool {
	return strings.HasPrefix(key, "tmp/") || strings.HasSuffix(key, ".tmp")
}
