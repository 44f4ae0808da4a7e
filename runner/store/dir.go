package store

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dirBackend keeps objects as files under a local directory: key
// "cas/ab/<sum>" is the file <root>/cas/ab/<sum>. Writes go to a
// temporary file in <root>/tmp, then rename (write) or hard-link (create,
// which fails when the target exists) it into place. Files are created
// with mode 0666 and directories 0777, less the umask, as fileblob and the
// go command do: with the usual umask 022 the group can read the cache,
// with 002 (a shared group cache) it can write it too.
type dirBackend struct {
	root string
}

func openDir(dir string) (*dirBackend, error) {
	for _, sub := range []string{"cas", "ac", "index", "plans", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o777); err != nil {
			return nil, err
		}
	}
	return &dirBackend{root: dir}, nil
}

func (d *dirBackend) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

func (d *dirBackend) where(key string) string { return d.path(key) }

func (d *dirBackend) close() error { return nil }

func (d *dirBackend) open(key string) (io.ReadCloser, objInfo, error) {
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, objInfo{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, objInfo{}, err
	}
	return f, objInfo{key: key, size: st.Size(), mod: st.ModTime()}, nil
}

// temp writes data to a new temporary file under tmp/ and returns its
// name.
func (d *dirBackend) temp(data ...[]byte) (string, error) {
	name, err := writeTemp(filepath.Join(d.root, "tmp", "w-"), data...)
	if notExist(err) { // tmp/ was removed by hand
		if err := os.MkdirAll(filepath.Join(d.root, "tmp"), 0o777); err != nil {
			return "", err
		}
		name, err = writeTemp(filepath.Join(d.root, "tmp", "w-"), data...)
	}
	return name, err
}

// writeTemp writes the concatenation of data to a new file named
// prefix<random>.tmp and returns its name. Unlike os.CreateTemp (mode 0600) it creates the file with mode
// 0666 less the umask, so that the group can read the cache.
func writeTemp(prefix string, data ...[]byte) (string, error) {
	f, err := createTemp(prefix)
	if err != nil {
		return "", err
	}
	var werr error
	for _, b := range data {
		if _, werr = f.Write(b); werr != nil {
			break
		}
	}
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return "", errors.Join(werr, cerr)
	}
	return f.Name(), nil
}

// createTemp creates a new file named prefix<random>.tmp, mode 0666 less
// the umask (see writeTemp).
func createTemp(prefix string) (*os.File, error) {
	var f *os.File
	var err error
	for try := 0; try < 10; try++ {
		f, err = os.OpenFile(prefix+rand.Text()+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return f, err
}

// linkInPlace hard-links the file tmp to p and removes tmp: p appears with
// all its bytes, and only if it did not exist (an error wrapping
// fs.ErrExist otherwise), also against a concurrent writer on another
// machine of a shared filesystem.
func linkInPlace(tmp, p string) error {
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", p, fs.ErrExist)
		}
		return err
	}
	return nil
}

func (d *dirBackend) write(key string, data ...[]byte) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return err
	}
	tmp, err := d.temp(data...)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (d *dirBackend) writeFrom(key string, size int64, fill func(w io.Writer) error) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return err
	}
	prefix := filepath.Join(d.root, "tmp", "w-")
	f, err := createTemp(prefix)
	if notExist(err) { // tmp/ was removed by hand
		if err := os.MkdirAll(filepath.Join(d.root, "tmp"), 0o777); err != nil {
			return err
		}
		f, err = createTemp(prefix)
	}
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	werr := fill(w)
	if werr == nil {
		werr = w.Flush()
	}
	if cerr := f.Close(); werr != nil || cerr != nil {
		os.Remove(f.Name())
		return errors.Join(werr, cerr)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func (d *dirBackend) create(key string, data []byte) error {
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return err
	}
	tmp, err := d.temp(data)
	if err != nil {
		return err
	}
	return linkInPlace(tmp, p)
}

func (d *dirBackend) remove(key string) error { return os.Remove(d.path(key)) }

func (d *dirBackend) stat(key string) (objInfo, error) {
	st, err := os.Stat(d.path(key))
	if err != nil {
		return objInfo{}, err
	}
	return objInfo{key: key, size: st.Size(), mod: st.ModTime()}, nil
}

func (d *dirBackend) touch(key string, t time.Time) error { return os.Chtimes(d.path(key), t, t) }

func (d *dirBackend) list(prefix string, fn func(objInfo) error) error {
	// Walk the deepest directory named by prefix, then filter by prefix.
	dir := prefix
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		dir = dir[:i]
	} else {
		dir = ""
	}
	start := d.path(dir)
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == start && notExist(err) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := e.Info()
		if err != nil {
			if notExist(err) { // removed since the directory was read
				return nil
			}
			return err
		}
		return fn(objInfo{key: key, size: st.Size(), mod: st.ModTime()})
	})
	return err
}
