package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync"
	"syscall"
	"time"

	"gocloud.dev/gcerrors"
)

// ErrUnreachable marks errors of a store that has stopped answering: after
// MaxStoreErrors consecutive operations failed for transport reasons, every
// later operation fails at once with an *UnreachableError, so that a run
// stops starting steps and says so once instead of paying the client's
// retries on every remaining step.
var ErrUnreachable = errors.New("unreachable")

// MaxStoreErrors is how many consecutive store operations may fail for
// transport reasons (a refused connection, a deadline) before the store is
// taken as unreachable.
const MaxStoreErrors = 5

// UnreachableError says that the store at Loc stopped answering, and the
// last error it gave.
type UnreachableError struct {
	Loc string
	Err error
	// N is the number of consecutive failed operations.
	N int
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the cache %s is unreachable: %s (%d operations in a row failed); finished steps are stored; rerun to resume",
		e.Loc, rootCause(e.Err), e.N)
}

// Is makes errors.Is(err, ErrUnreachable) hold.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

func (e *UnreachableError) Unwrap() error { return e.Err }

// rootCause is the part of a client error that says what failed: the
// network operation (dial tcp 127.0.0.1:9000: connect: connection
// refused), or that no answer came in time; else the whole error.
func rootCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return te.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) || gcerrors.Code(err) == gcerrors.DeadlineExceeded {
		return "no answer before the deadline"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the server closed the connection without an answer"
	}
	return err.Error()
}

// timeoutError is the deadline of one operation passing.
type timeoutError struct {
	op, key string
	d       time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%s %s: no answer within %v (the store's timeout)", e.op, e.key, e.d)
}

// health counts consecutive transport failures of a store's backend and
// trips once they reach MaxStoreErrors.
type health struct {
	loc  string
	warn func(format string, args ...any)

	mu   sync.Mutex
	n    int
	down *UnreachableError
}

// transport reports whether err is a failure of the store's transport —
// not an answer about the object (absent, present, permission denied), nor
// a full or read-only disk under a file:// bucket (said as such).
func transport(err error) bool {
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) || errors.Is(err, errConflict) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.AlreadyExists, gcerrors.FailedPrecondition, gcerrors.PermissionDenied,
		gcerrors.InvalidArgument, gcerrors.Unimplemented, gcerrors.Canceled:
		return false
	}
	return true
}

// check returns the error of a store found unreachable, nil otherwise.
func (h *health) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down != nil {
		return h.down
	}
	return nil
}

// observe records the outcome of one operation and returns err, or the
// store's unreachable error once this failure tripped it.
func (h *health) observe(err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down != nil {
		if err != nil {
			return h.down
		}
		return nil
	}
	if !transport(err) {
		h.n = 0
		return err
	}
	h.n++
	if h.n < MaxStoreErrors {
		return err
	}
	h.down = &UnreachableError{Loc: h.loc, Err: err, N: h.n}
	h.warn("%v", h.down)
	return h.down
}

// guarded is a backend whose operations fail at once when its store has
// been found unreachable, and which counts transport failures.
type guarded struct {
	backend
	h *health
}

func (g *guarded) open(key string) (io.ReadCloser, objInfo, error) {
	if err := g.h.check(); err != nil {
		return nil, objInfo{}, err
	}
	rc, info, err := g.backend.open(key)
	if err != nil {
		return nil, info, g.h.observe(err)
	}
	return &guardedReader{rc, g.h}, info, nil
}

// guardedReader counts a read that fails midway.
type guardedReader struct {
	io.ReadCloser
	h *health
}

func (r *guardedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = r.h.observe(err)
	}
	return n, err
}

func (g *guarded) do(f func() error) error {
	if err := g.h.check(); err != nil {
		return err
	}
	return g.h.observe(f())
}

func (g *guarded) write(key string, data ...[]byte) error {
	return g.do(func() error { return g.backend.write(key, data...) })
}

func (g *guarded) writeFrom(key string, size int64, fill func(w io.Writer) error) error {
	return g.do(func() error { return g.backend.writeFrom(key, size, fill) })
}

func (g *guarded) create(key string, data []byte) error {
	return g.do(func() error { return g.backend.create(key, data) })
}

func (g *guarded) remove(key string) error {
	return g.do(func() error { return g.backend.remove(key) })
}

func (g *guarded) stat(key string) (objInfo, error) {
	var info objInfo
	err := g.do(func() error {
		var err error
		info, err = g.backend.stat(key)
		return err
	})
	return info, err
}

func (g *guarded) list(prefix string, fn func(objInfo) error) error {
	if err := g.h.check(); err != nil {
		return err
	}
	var fnErr error
	err := g.backend.list(prefix, func(o objInfo) error {
		fnErr = fn(o)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return g.h.observe(err)
}

// Unreachable returns the error of a store found unreachable (it wraps
// ErrUnreachable), or nil while it answers. A directory store is never
// found unreachable.
func (s *Store) Unreachable() error {
	if s == nil || s.health == nil {
		return nil
	}
	return s.health.check()
}
