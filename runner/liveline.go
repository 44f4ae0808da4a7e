package runner

import (
	"fmt"
	"io"
	"sync"
)

// LiveLine is a terminal's status line: Set redraws it in place, and
// everything else written through it (the log) first clears the line and
// then redraws it below, so log lines and the status never overwrite each
// other.
type LiveLine struct {
	mu   sync.Mutex
	out  io.Writer
	line string
}

// NewLiveLine draws on out, a terminal.
func NewLiveLine(out io.Writer) *LiveLine { return &LiveLine{out: out} }

// Set replaces the status line ("" hides it).
func (l *LiveLine) Set(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = line
	fmt.Fprint(l.out, "\r\033[K"+line)
}

// Write writes p (whole lines, as a logger does) above the status line.
func (l *LiveLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line != "" {
		fmt.Fprint(l.out, "\r\033[K")
	}
	n, err := l.out.Write(p)
	if l.line != "" {
		fmt.Fprint(l.out, l.line)
	}
	return n, err
}
