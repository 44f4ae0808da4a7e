package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs://
	_ "gocloud.dev/blob/memblob" // mem://
	_ "gocloud.dev/blob/s3blob"  // s3://
	"gocloud.dev/gcerrors"
)

// openTimeout bounds the check that a bucket is reachable.
const openTimeout = 30 * time.Second

// bucketBackend keeps objects in a gocloud.dev/blob bucket. Every object
// write is atomic (an object appears whole or not at all); create uses
// WriterOptions.IfNotExist (S3's If-None-Match: *, GCS's and Azure's
// equivalents, fileblob's check before its rename).
//
// A file:// bucket is the exception: fileblob's IfNotExist checks that the
// target is absent and then renames over it, which two writers can both
// pass, so there create writes a temporary file next to its target and
// hard-links it into place, which fails atomically when the target exists.
type bucketBackend struct {
	b       *blob.Bucket
	base    string        // the bucket's URL without its query, for messages
	dir     string        // a file:// bucket's directory (with its prefix), else ""
	timeout time.Duration // each operation's deadline (see deadline)
}

// DefaultTimeout is the deadline of one bucket operation unless the URL
// sets timeout=DURATION; an operation that moves bytes gets one more
// second per MiB.
const DefaultTimeout = 30 * time.Second

// ctx returns the context of one operation on n bytes: its deadline is
// the bucket's timeout plus a second per MiB.
func (k *bucketBackend) ctx(n int64) (context.Context, context.CancelFunc, time.Duration) {
	d := k.timeout + time.Duration(n>>20)*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), d)
	return ctx, cancel, d
}

// timedOut replaces err by a timeoutError naming op, key and d when ctx's
// deadline passed.
func timedOut(ctx context.Context, err error, op, key string, d time.Duration) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &timeoutError{op: op, key: key, d: d}
	}
	return err
}

// isURL reports whether loc is a URL (scheme://…) rather than a directory.
func isURL(loc string) bool {
	i := strings.Index(loc, "://")
	if i <= 0 {
		return false
	}
	for _, c := range loc[:i] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// openBucket opens the bucket at the URL loc and checks that it can be
// listed. A file:// URL gets fileblob's create_dir, no_tmp_dir (temporary
// files next to their targets, so that the rename never crosses
// filesystems: the shared filesystem is rarely the one holding /tmp) and
// metadata=skip (no .attrs sidecar files) unless the URL sets them.
func openBucket(loc string) (*bucketBackend, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file", "s3", "gs", "azblob", "mem":
	default:
		return nil, fmt.Errorf("unsupported scheme %q: want a directory or a URL with scheme file://, s3://, gs://, azblob:// or mem://", u.Scheme)
	}
	if u.Scheme == fileblob.Scheme {
		q := u.Query()
		for k, v := range map[string]string{"create_dir": "true", "no_tmp_dir": "true", "metadata": "skip"} {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	timeout := DefaultTimeout
	q := u.Query()
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("timeout=%s: want a positive duration such as 30s", v)
		}
		timeout = d
		q.Del("timeout")
		u.RawQuery = q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(openTimeout, max(timeout, 5*time.Second)))
	defer cancel()
	b, err := urlMux.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, err
	}
	where := "bucket " + u.Host
	if ep := u.Query().Get("endpoint"); ep != "" {
		where += " at " + ep
	}
	ok, err := b.IsAccessible(ctx)
	if err != nil {
		err = fmt.Errorf("listing %s: %s", where, rootCause(err))
	} else if !ok {
		err = fmt.Errorf("%s does not exist", where)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	base := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	if p := strings.Trim(u.Query().Get("prefix"), "/"); p != "" {
		base += "/" + p
	}
	k := &bucketBackend{b: b, base: base, timeout: timeout}
	if u.Scheme == fileblob.Scheme {
		k.dir = filepath.Join(filepath.FromSlash(u.Path), filepath.FromSlash(u.Query().Get("prefix")))
	}
	return k, nil
}

// wrap makes gocloud's error err of op on key an *fs.PathError naming the
// object's URL, with fs.ErrNotExist or fs.ErrExist for an object that is
// missing or (for create) present.
func (k *bucketBackend) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		err = fs.ErrNotExist
	case gcerrors.FailedPrecondition:
		if op == "create" {
			err = fs.ErrExist
		}
	}
	var hs interface{ HTTPStatusCode() int }
	if errors.As(err, &hs) && hs.HTTPStatusCode() == http.StatusConflict {
		// S3's ConditionalRequestConflict: another conditional write of
		// the object is in progress; try again.
		err = &conflictError{err}
	}
	return &fs.PathError{Op: op, Path: k.where(key), Err: err}
}

func (k *bucketBackend) where(key string) string { return k.base + "/" + key }

func (k *bucketBackend) close() error { return k.b.Close() }

func (k *bucketBackend) open(key string) (io.ReadCloser, objInfo, error) {
	// The reader keeps its context for the body: a timer cancels it when
	// the deadline passes, first for the answer, then for the body by its
	// size.
	ctx, cancel := context.WithCancel(context.Background())
	tr := &timedReader{cancel: cancel, where: k.where(key), d: k.timeout}
	tr.t = time.AfterFunc(k.timeout, func() { tr.fired.Store(true); cancel() })
	r, err := k.b.NewReader(ctx, key, nil)
	if err != nil {
		tr.t.Stop()
		cancel()
		if tr.fired.Load() {
			err = &timeoutError{op: "reading", key: tr.where, d: tr.d}
		}
		return nil, objInfo{}, k.wrap("open", key, err)
	}
	tr.r = r
	tr.d = k.timeout + time.Duration(r.Size()>>20)*time.Second
	tr.t.Reset(tr.d)
	return tr, objInfo{key: key, size: r.Size(), mod: r.ModTime()}, nil
}

// timedReader reads an object's body until its deadline.
type timedReader struct {
	r      *blob.Reader
	cancel context.CancelFunc
	t      *time.Timer
	fired  atomic.Bool
	d      time.Duration
	where  string
}

func (tr *timedReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	if err != nil && err != io.EOF && tr.fired.Load() {
		err = &timeoutError{op: "reading", key: tr.where, d: tr.d}
	}
	return n, err
}

func (tr *timedReader) Close() error {
	tr.t.Stop()
	err := tr.r.Close()
	tr.cancel()
	return err
}

func (k *bucketBackend) put(op, key string, opts *blob.WriterOptions, data ...[]byte) error {
	var size int64
	for _, b := range data {
		size += int64(len(b))
	}
	ctx, cancel, d := k.ctx(size)
	defer cancel()
	w, err := k.b.NewWriter(ctx, key, opts)
	if err != nil {
		return k.wrap(op, key, timedOut(ctx, err, "writing", k.where(key), d))
	}
	for _, b := range data {
		if _, err := w.Write(b); err != nil {
			cancel() // aborts the write: Close does not commit it
			w.Close()
			return k.wrap(op, key, timedOut(ctx, err, "writing", k.where(key), d))
		}
	}
	return k.wrap(op, key, timedOut(ctx, w.Close(), "writing", k.where(key), d))
}

func (k *bucketBackend) write(key string, data ...[]byte) error {
	return k.put("write", key, &blob.WriterOptions{ContentType: "application/octet-stream"}, data...)
}

func (k *bucketBackend) writeFrom(key string, size int64, fill func(w io.Writer) error) error {
	ctx, cancel, d := k.ctx(size)
	defer cancel()
	w, err := k.b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return k.wrap("write", key, timedOut(ctx, err, "writing", k.where(key), d))
	}
	if err := fill(w); err != nil {
		cancel() // aborts the write: Close does not commit it
		w.Close()
		return k.wrap("write", key, timedOut(ctx, err, "writing", k.where(key), d))
	}
	return k.wrap("write", key, timedOut(ctx, w.Close(), "writing", k.where(key), d))
}

func (k *bucketBackend) create(key string, data []byte) error {
	if k.dir != "" {
		p := filepath.Join(k.dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return err
		}
		tmp, err := writeTemp(p+".", data)
		if err != nil {
			return err
		}
		return linkInPlace(tmp, p)
	}
	return k.put("create", key, &blob.WriterOptions{ContentType: "application/octet-stream", IfNotExist: true}, data)
}

func (k *bucketBackend) remove(key string) error {
	ctx, cancel, d := k.ctx(0)
	defer cancel()
	return k.wrap("remove", key, timedOut(ctx, k.b.Delete(ctx, key), "removing", k.where(key), d))
}

func (k *bucketBackend) stat(key string) (objInfo, error) {
	ctx, cancel, d := k.ctx(0)
	defer cancel()
	a, err := k.b.Attributes(ctx, key)
	if err != nil {
		return objInfo{}, k.wrap("stat", key, timedOut(ctx, err, "reading the attributes of", k.where(key), d))
	}
	return objInfo{key: key, size: a.Size, mod: a.ModTime}, nil
}

// touch is unsupported: an object's modification time changes only when
// it is rewritten (Get rewrites a manifest instead, see Store.markUsed).
func (k *bucketBackend) touch(string, time.Time) error { return errors.ErrUnsupported }

func (k *bucketBackend) list(prefix string, fn func(objInfo) error) error {
	it := k.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		// Each page has its own deadline.
		ctx, cancel, d := k.ctx(0)
		o, err := it.Next(ctx)
		cancel()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return k.wrap("list", prefix, timedOut(ctx, err, "listing", k.where(prefix), d))
		}
		if o.IsDir {
			continue
		}
		if err := fn(objInfo{key: o.Key, size: o.Size, mod: o.ModTime}); err != nil {
			return err
		}
	}
}

// errConflict marks a write that conflicted with a concurrent one (HTTP
// 409): retryable, and no sign of a sick store.
var errConflict = errors.New("conflicting concurrent write")

type conflictError struct{ err error }

func (e *conflictError) Error() string        { return e.err.Error() }
func (e *conflictError) Unwrap() error        { return e.err }
func (e *conflictError) Is(target error) bool { return target == errConflict }
