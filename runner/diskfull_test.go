package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// A full disk is named as such: the error of writing a report (here a
// plot) or a step's failure to store its output gives a last line that
// says the disk is full and where.
func TestDiskFull(t *testing.T) {
	plot := fmt.Errorf("report toy: plot gap: %w", &fs.PathError{Op: "write", Path: "/out/toy/gap.svg", Err: syscall.ENOSPC})
	for _, tc := range []struct {
		name     string
		err      error
		failures []string
		want     string
	}{
		{"report file", errors.Join(errors.New("other"), plot), nil, "the disk holding /out/toy/gap.svg is full"},
		{"step output", nil, []string{"eval x: storing output: write /c/tmp/w-1.tmp: no space left on device"}, "a disk is full (no space left on device): eval x"},
		{"no full disk", errors.New("boom"), []string{"eval x: boom"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := diskFull(tc.err, tc.failures)
			if tc.want == "" {
				if err != nil {
					t.Errorf("diskFull: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("diskFull: %v, want %q", err, tc.want)
			}
		})
	}
}
