package exec

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"hetalign/runner/plan"
	"hetalign/runner/store"
)

// leaser takes, renews and releases step leases for one run.
type leaser struct {
	st    *store.Store
	owner string
	ttl   time.Duration
	fast  time.Duration
	log   zerolog.Logger

	warnOnce sync.Once
	mu       sync.Mutex
	kinds    map[string]*kindTimes
}

// leaseWaitNote: a wait on another run's lease that may last longer than
// this is logged, with the owner and until when.
const leaseWaitNote = 3 * time.Second

// leaseProbe is how many computations of a kind decide whether it is fast.
const leaseProbe = 8

// kindTimes are the first computations of a step kind.
type kindTimes struct {
	n    int
	slow bool
}

// need reports whether s should be computed under a lease: always, until
// leaseProbe steps of its kind have shown it fast; GPU steps always.
func (lz *leaser) need(s *plan.Step) bool {
	if lz == nil {
		return false
	}
	if lz.fast < 0 || s.GPU || lz.st.Unreachable() != nil {
		// An unreachable store fails the lease at once, so the step does
		// not start.
		return true
	}
	lz.mu.Lock()
	defer lz.mu.Unlock()
	k := lz.kinds[s.Kind]
	return k == nil || k.n < leaseProbe || k.slow
}

// observe records that s computed in d.
func (lz *leaser) observe(s *plan.Step, d time.Duration) {
	if lz == nil {
		return
	}
	lz.mu.Lock()
	defer lz.mu.Unlock()
	k := lz.kinds[s.Kind]
	if k == nil {
		k = &kindTimes{}
		lz.kinds[s.Kind] = k
	}
	if k.n < leaseProbe {
		k.n++
		if d >= lz.fast {
			k.slow = true
		}
	}
}

// heldLease is a lease this run holds, renewed every ttl/3 until released.
type heldLease struct {
	lz    *leaser
	key   string
	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

// acquire takes the lease of key. It returns the step's manifest when the
// step is (or becomes, while another owner holds the lease) in the store,
// else the lease this run now holds. When leases cannot be taken at all
// (a read-only store), it warns once and returns neither: the step is
// computed without one. Waiting ends with ctx.
//
// The caller holds a worker slot. While another owner holds the lease,
// acquire gives the slot back (pause) so that other steps can use it, and
// takes one again (resume) once it holds the lease itself; resume's error
// (a cancelled run) ends acquire. The caller releases whatever slot it
// holds when the step ends.
func (lz *leaser) acquire(ctx context.Context, key string, pause func(), resume func() error) (*store.Manifest, *heldLease, error) {
	backoff := 5 * time.Millisecond
	paused := false
	takeovers := 0
	for {
		cur, ok, err := lz.st.TryLease(key, lz.owner, lz.ttl)
		if errors.Is(err, store.ErrUnreachable) {
			// The store stopped answering: start nothing more.
			return nil, nil, err
		}
		if err != nil {
			lz.warnOnce.Do(func() {
				lz.log.Warn().Err(err).Msg("cannot take step leases: computing without them (another driver on this store may compute the same steps)")
			})
			return nil, nil, nil
		}
		if ok {
			if paused {
				paused = false
				if err := resume(); err != nil {
					lz.st.ReleaseLease(key, lz.owner)
					return nil, nil, err
				}
			}
			// The previous holder may have committed the step just
			// before its lease went.
			if lz.st.Has(key) {
				if m, ok := lz.st.Get(key); ok {
					lz.st.ReleaseLease(key, lz.owner)
					return m, nil, nil
				}
			}
			h := &heldLease{lz: lz, key: key}
			h.arm()
			return nil, h, nil
		}
		// Held by a process of this host that is gone (a killed run):
		// take the lease over now rather than when it expires.
		if takeovers < 3 && ownerGone(cur.Owner) {
			takeovers++
			lz.log.Info().Str("step", key[:12]).Str("owner", cur.Owner).
				Msg("taking over the lease of a step from a run that is gone (its process no longer exists)")
			if err := lz.st.ReleaseLease(key, cur.Owner); err != nil {
				lz.log.Warn().Err(err).Msg("breaking the lease of a gone run")
			} else {
				continue
			}
		}
		// Held by another live owner: wait, without a slot, for its
		// manifest or for the lease to expire.
		if !paused {
			pause()
			paused = true
			if until := time.Until(cur.Expires); until > leaseWaitNote {
				lz.log.Info().Str("step", key[:12]).Str("owner", cur.Owner).Time("until", cur.Expires.Local()).
					Str("at_most", until.Round(time.Second).String()).
					Msg("waiting for a step that another run computes: for its result, or until its lease expires")
			}
		}
		wait := backoff
		if until := time.Until(cur.Expires); until > 0 && until < wait {
			wait = until + time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		if backoff < time.Second {
			backoff *= 2
		}
		if lz.st.Has(key) {
			if m, ok := lz.st.Get(key); ok {
				return m, nil, nil
			}
		}
	}
}

// arm schedules the next renewal.
func (h *heldLease) arm() {
	h.timer = time.AfterFunc(h.lz.ttl/3, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.done {
			return
		}
		if err := h.lz.st.RenewLease(h.key, h.lz.owner, h.lz.ttl); err != nil {
			h.lz.log.Warn().Err(err).Str("step", h.key[:12]).Msg("could not renew the step's lease")
		}
		h.arm()
	})
}

// release stops renewing and removes the lease.
func (h *heldLease) release() {
	h.mu.Lock()
	h.done = true
	h.timer.Stop()
	h.mu.Unlock()
	if err := h.lz.st.ReleaseLease(h.key, h.lz.owner); err != nil {
		h.lz.log.Warn().Err(fmt.Errorf("step %s: %w", h.key[:12], err)).Msg("could not release a lease")
	}
}
