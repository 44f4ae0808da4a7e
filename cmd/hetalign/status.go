package main

import (
	"errors"

	"hetalign/runner/store"
)

// exitStatus is the exit status of a command that failed with err: a
// cache that cannot be opened (a bad location, an unreachable bucket, no
// credentials) is bad usage, anything else a failure.
func exitStatus(err error) int {
	var oe *store.OpenError
	if errors.As(err, &oe) {
		return exitInvalid
	}
	return exitFailed
}
