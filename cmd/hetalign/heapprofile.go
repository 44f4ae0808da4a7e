package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// heapProfileEnv names the environment variable of the debug heap
// profile (docs/cli.md, "Debugging memory"): when set to a file path, the
// command writes a pprof heap profile there each time the live heap
// reaches a new high (by a quarter over the last one written) and once
// more when it ends, so the file describes the run near its peak.
const heapProfileEnv = "HETALIGN_HEAPPROFILE"

// heapLiveMetric is the runtime metric of the heap's live objects.
const heapLiveMetric = "/memory/classes/heap/objects:bytes"

// heapProfiler writes the debug heap profile (see heapProfileEnv).
type heapProfiler struct {
	path   string
	stderr io.Writer
	stop   chan struct{}
	done   chan struct{}
	peak   uint64 // live heap bytes when the profile was last written
}

// startHeapProfile starts the profiler when $HETALIGN_HEAPPROFILE is set;
// its stop method (safe on nil) writes the last profile if the heap was
// never higher.
func startHeapProfile(stderr io.Writer) *heapProfiler {
	path := os.Getenv(heapProfileEnv)
	if path == "" {
		return nil
	}
	h := &heapProfiler{path: path, stderr: stderr, stop: make(chan struct{}), done: make(chan struct{})}
	go h.watch()
	return h
}

func (h *heapProfiler) watch() {
	defer close(h.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	sample := []metrics.Sample{{Name: heapLiveMetric}}
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		if live := sample[0].Value.Uint64(); live > h.peak+h.peak/4 {
			h.peak = live
			h.write()
		}
	}
}

// write writes the heap profile through a temporary file renamed into
// place, so the file is always a whole profile.
func (h *heapProfiler) write() {
	tmp, err := os.CreateTemp(filepath.Dir(h.path), ".heapprofile-*")
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(tmp, 0)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), h.path)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		fmt.Fprintf(h.stderr, "hetalign: writing the heap profile %s: %v\n", h.path, err)
	}
}

// finish stops watching; the profile on disk stays the one of the highest
// live heap seen (written now if none was).
func (h *heapProfiler) finish() {
	if h == nil {
		return
	}
	close(h.stop)
	<-h.done
	if h.peak == 0 {
		h.write()
	}
}
