package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"hetalign/reports/page"
	"hetalign/runner"
)

// liveServer serves the reports of --out while a run goes on (run
// --serve): a live index at / that shows the progress line's facts and
// refreshes itself, /_status (the progress as JSON), and the files under
// --out, nothing else.
type liveServer struct {
	out  string
	root *os.Root
	srv  *http.Server
	ln   net.Listener
	mu   sync.Mutex
	prog runner.Progress
	done bool
}

// serveAddr binds a bare port or ":port" to the loopback interface: a
// live view is for this machine unless the address names a host.
func serveAddr(addr string) string {
	if !strings.Contains(addr, ":") {
		return "127.0.0.1:" + addr
	}
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// startServe listens on addr and serves out until stop.
func startServe(addr, out string) (*liveServer, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("--serve: %w", err)
	}
	root, err := os.OpenRoot(out)
	if err != nil {
		return nil, fmt.Errorf("--serve: %w", err)
	}
	ln, err := net.Listen("tcp", serveAddr(addr))
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("--serve: %w", err)
	}
	s := &liveServer{out: out, root: root, ln: ln}
	mux := http.NewServeMux()
	files := http.FileServerFS(root.FS())
	mux.HandleFunc("/_status", s.status)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			s.index(w)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		files.ServeHTTP(w, r)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is where the server listens.
func (s *liveServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// observe records the run's progress.
func (s *liveServer) observe(p runner.Progress) {
	s.mu.Lock()
	s.prog = p
	s.mu.Unlock()
}

func (s *liveServer) index(w http.ResponseWriter) {
	es, err := page.Scan(s.out)
	var b []byte
	if err == nil {
		b, err = page.RenderIndex(es, true)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// status writes the progress and a token that changes when a report page
// is written (the page then reloads its table).
func (s *liveServer) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, done := s.prog, s.done
	s.mu.Unlock()
	pages, _ := filepath.Glob(filepath.Join(s.out, "*", page.FileName))
	sort.Strings(pages)
	var token strings.Builder
	for _, f := range pages {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&token, "%s@%d;", filepath.Base(filepath.Dir(f)), fi.ModTime().UnixNano())
		}
	}
	if p.Running == nil {
		p.Running = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		runner.Progress
		Reports  string `json:"reports"`
		Finished bool   `json:"finished"`
	}{p, token.String(), done})
}

// stop ends the server: the run is over.
func (s *liveServer) stop() error {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return errors.Join(err, s.root.Close())
}
