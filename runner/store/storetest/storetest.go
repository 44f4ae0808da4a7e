// Package storetest gives tests the locations of every kind of store
// runner/store opens: a directory, mem://, file:// and an S3-compatible
// server on 127.0.0.1, reached through gocloud's real s3blob driver: by
// default github.com/johannesboyne/gofakes3 with an in-memory backend, in
// process; built with the tag s3real, a real, separately written S3
// server, versitygw (a tool dependency in go.mod) with its posix backend,
// started as its own process per test (Versity).
package storetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Bucket is the name of the bucket S3 creates.
const Bucket = "hetalign"

// S3 starts an S3-compatible server on 127.0.0.1 with one empty bucket,
// stopped when the test ends, and returns the store URL that reaches it:
// s3://hetalign?endpoint=http://127.0.0.1:PORT&use_path_style=true&region=us-east-1.
// It sets static credentials in the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY) and keeps the AWS SDK away from the user's
// configuration files and the EC2 metadata service, so the test must not
// be parallel (t.Setenv).
func S3(t testing.TB) string {
	t.Helper()
	return s3(t, nil)
}

func s3(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := server(t)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	Credentials(t)
	return "s3://" + Bucket + "?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
}

// Credentials sets the static test credentials in the environment and
// keeps the AWS SDK away from the user's configuration files and the EC2
// metadata service (t.Setenv: the test must not be parallel).
func Credentials(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(os.DevNull, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(os.DevNull, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// The static credentials of the test servers.
const (
	AccessKey = "hetalign-test"
	SecretKey = "hetalign-test-secret"
)

// Kinds names the stores URLs returns, in a fixed order for table tests.
func Kinds() []string { return []string{"dir", "mem", "file", "s3"} }

// URLs returns a fresh, empty store of every kind, by kind: "dir" (a
// directory), "mem" (mem://: each Open of it is a new empty store, so it
// suits only tests that open the store once), "file" (a file:// URL) and
// "s3" (see S3).
func URLs(t testing.TB) map[string]string {
	t.Helper()
	return map[string]string{
		"dir":  filepath.Join(t.TempDir(), "cache"),
		"mem":  "mem://",
		"file": "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), "cache")),
		"s3":   S3(t),
	}
}

// Fault makes the S3 server of S3Faulty misbehave on demand, as a sick
// real one does: Down drops every connection (a killed server: the client
// sees its connection reset), Hang holds every request unanswered (a
// stopped server, kill -STOP) until Up, and Up serves again.
type Fault struct {
	mu        sync.Mutex
	mode      int   // 0 up, 1 down, 2 hang
	after     int64 // the mode applies from this request on (counted from 1)
	n         atomic.Int64
	release   chan struct{}
	conflicts atomic.Int64 // PUTs still to answer 409
}

// Conflict makes the server answer the next n PUT requests with 409
// ConditionalRequestConflict, as S3 does while another conditional write
// of the object is in progress.
func (f *Fault) Conflict(n int64) { f.conflicts.Store(n) }

const (
	faultUp = iota
	faultDown
	faultHang
)

// Down makes the server drop the connection of every request after the
// next n.
func (f *Fault) Down(n int64) { f.set(faultDown, n) }

// Hang makes the server hold every request after the next n, unanswered,
// until Up.
func (f *Fault) Hang(n int64) { f.set(faultHang, n) }

// Up makes the server answer again (and releases held requests, whose
// connections are dropped).
func (f *Fault) Up() { f.set(faultUp, 0) }

// Requests is how many requests the server has received.
func (f *Fault) Requests() int64 { return f.n.Load() }

func (f *Fault) set(mode int, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == faultHang && mode != faultHang {
		close(f.release)
	}
	if mode == faultHang && f.mode != faultHang {
		f.release = make(chan struct{})
	}
	f.mode, f.after = mode, f.n.Load()+n
}

func (f *Fault) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.n.Add(1)
		if r.Method == http.MethodPut && f.conflicts.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code>`+
				`<Message>A conflicting conditional operation is currently in progress against this resource. Try again.</Message></Error>`)
			return
		}
		f.mu.Lock()
		mode, after, release := f.mode, f.after, f.release
		f.mu.Unlock()
		if mode != faultUp && n > after {
			if mode == faultHang {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		h.ServeHTTP(w, r)
	})
}

// S3Faulty is S3 with a Fault in front of the server.
func S3Faulty(t testing.TB) (string, *Fault) {
	t.Helper()
	f := &Fault{}
	return s3(t, f.wrap), f
}
