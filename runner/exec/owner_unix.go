//go:build unix

package exec

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ownerGone reports whether the lease owner (NewOwner's host:pid:random,
// perhaps with a suffix) is a process of this host that no longer exists:
// its leases can be taken over at once instead of waiting for them to
// expire. An owner on another host, or whose process exists (also a new
// process that reused the pid), or that cannot be parsed, is not gone.
func ownerGone(owner string) bool {
	host, rest, ok := strings.Cut(owner, ":")
	if !ok {
		return false
	}
	ps, _, _ := strings.Cut(rest, ":")
	pid, err := strconv.Atoi(ps)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	if h, err := os.Hostname(); err != nil || h != host {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
