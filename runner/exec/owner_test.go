package exec

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// goneOwner is the lease owner of a process of this host that has exited.
func goneOwner(t *testing.T) string {
	t.Helper()
	cmd := osexec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot start a process:", err)
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:deadbeef", host, cmd.Process.Pid)
}

// A resume after a SIGKILL: the killed run's leases name a process of
// this host that no longer exists, and are taken over at once instead of
// when they expire (2 minutes by default).
func TestGoneOwnerLeaseTakenOver(t *testing.T) {
	g := wideGraph(3)
	st := openStore(t)
	owner := goneOwner(t)
	if _, ok, err := st.TryLease(g.Steps[1].Key, owner, time.Hour); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	var log bytes.Buffer
	c := &counting{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outs := Execute(ctx, g, st, c.fn, Options{Jobs: 2, Log: zerolog.New(&log), LeaseFast: -1})
	for i, o := range outs {
		if o.Err != nil {
			t.Fatalf("step %d: %v (the gone run's lease was waited for)", i, o.Err)
		}
	}
	if c.n[g.Steps[1].Key] != 1 {
		t.Errorf("leased step computed %d times", c.n[g.Steps[1].Key])
	}
	if !strings.Contains(log.String(), "taking over the lease") || !strings.Contains(log.String(), owner) {
		t.Errorf("no line about the take-over:\n%s", log.String())
	}
}

// A lease of a live run (here: this test's parent process, on this host)
// is waited for, and the wait is logged with the owner and its expiry.
func TestLiveOwnerWaitIsLogged(t *testing.T) {
	g := wideGraph(1)
	st := openStore(t)
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s:%d:live", host, os.Getppid())
	if _, ok, err := st.TryLease(g.Steps[0].Key, owner, time.Hour); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c := &counting{}
	outs := Execute(ctx, g, st, c.fn, Options{Jobs: 1, Log: zerolog.New(&log), LeaseFast: -1})
	if outs[0].Err == nil || c.n[g.Steps[0].Key] != 0 {
		t.Fatalf("the live lease was not waited for: %v, %d computations", outs[0].Err, c.n[g.Steps[0].Key])
	}
	l := log.String()
	if !strings.Contains(l, "waiting for a step that another run computes") || !strings.Contains(l, owner) || !strings.Contains(l, `"until"`) {
		t.Errorf("the wait is not logged with its owner and expiry:\n%s", l)
	}
}
