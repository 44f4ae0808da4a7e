package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	b    *blob.Bucket
	base string // the bucket's URL without its query, for messages
	dir  string // a file:// bucket's directory (with its prefix), else ""
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
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, err
	}
	ok, err := b.IsAccessible(ctx)
	if err != nil {
		err = fmt.Errorf("listing the bucket: %w", err)
	} else if !ok {
		err = errors.New("the bucket does not exist")
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	base := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	if p := strings.Trim(u.Query().Get("prefix"), "/"); p != "" {
		base += "/" + p
	}
	k := &bucketBackend{b: b, base: base}
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
	return &fs.PathError{Op: op, Path: k.where(key), Err: err}
}

func (k *bucketBackend) where(key string) string { return k.base + "/" + key }

func (k *bucketBackend) close() error { return k.b.Close() }

func (k *bucketBackend) open(key string) (io.ReadCloser, objInfo, error) {
	r, err := k.b.NewReader(context.Background(), key, nil)
	if err != nil {
		return nil, objInfo{}, k.wrap("open", key, err)
	}
	return r, objInfo{key: key, size: r.Size(), mod: r.ModTime()}, nil
}

func (k *bucketBackend) put(op, key string, data []byte, opts *blob.WriterOptions) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := k.b.NewWriter(ctx, key, opts)
	if err != nil {
		return k.wrap(op, key, err)
	}
	if _, err := w.Write(data); err != nil {
		cancel() // aborts the write: Close does not commit it
		w.Close()
		return k.wrap(op, key, err)
	}
	return k.wrap(op, key, w.Close())
}

func (k *bucketBackend) write(key string, data []byte) error {
	return k.put("write", key, data, &blob.WriterOptions{ContentType: "application/octet-stream"})
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
	return k.put("create", key, data, &blob.WriterOptions{ContentType: "application/octet-stream", IfNotExist: true})
}

func (k *bucketBackend) remove(key string) error {
	return k.wrap("remove", key, k.b.Delete(context.Background(), key))
}

func (k *bucketBackend) stat(key string) (objInfo, error) {
	a, err := k.b.Attributes(context.Background(), key)
	if err != nil {
		return objInfo{}, k.wrap("stat", key, err)
	}
	return objInfo{key: key, size: a.Size, mod: a.ModTime}, nil
}

// touch is unsupported: an object's modification time changes only when
// it is rewritten (Get rewrites a manifest instead, see Store.markUsed).
func (k *bucketBackend) touch(string, time.Time) error { return errors.ErrUnsupported }

func (k *bucketBackend) list(prefix string, fn func(objInfo) error) error {
	it := k.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return k.wrap("list", prefix, err)
		}
		if o.IsDir {
			continue
		}
		if err := fn(objInfo{key: o.Key, size: o.Size, mod: o.ModTime}); err != nil {
			return err
		}
	}
}
