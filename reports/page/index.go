package page

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
)

// Entry is one report in the index: its name (the directory under the
// reports directory), spec, claims held of total, steps and when and from
// which commit it was made.
type Entry struct {
	Name, Spec  string
	Held, Total int
	Steps       map[string]int
	Commit      string
	Dirty       bool
	Created     string
	Experiments int
	Tables      int
	// Page is true when the report directory has its index.html.
	Page bool
	// Error says why the report could not be read ("" when it could).
	Error string
}

// Scan lists the reports of dir: every subdirectory with a report.json,
// by name.
func Scan(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing the reports in %s: %w", dir, err)
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		sub := filepath.Join(dir, de.Name())
		if _, err := os.Stat(filepath.Join(sub, "report.json")); err != nil {
			continue
		}
		in, err := Load(sub)
		if err != nil {
			// Listed, with why it has no page.
			out = append(out, Entry{Name: de.Name(), Error: err.Error()})
			continue
		}
		e := Entry{Name: de.Name(), Experiments: len(in.Report.Experiments)}
		for _, x := range in.Report.Experiments {
			e.Tables += len(x.Tables)
			for _, c := range x.Claims {
				e.Total++
				if c.Holds {
					e.Held++
				}
			}
		}
		if p := in.Provenance; p != nil {
			e.Spec, e.Steps, e.Created = p.Spec, p.Steps, p.Created
			if p.Git != nil {
				e.Commit, e.Dirty = p.Git.Commit, p.Git.Dirty
			}
		}
		_, err = os.Stat(filepath.Join(sub, FileName))
		e.Page = err == nil
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type indexView struct {
	Entries     []Entry
	Held, Total int
	CSS         template.CSS
	JS          template.JS
	// Live adds the progress box that polls the server (run --serve).
	Live bool
}

// RenderIndex builds the page that lists the reports.
func RenderIndex(entries []Entry, live bool) ([]byte, error) {
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, err
	}
	js, err := assets.ReadFile("assets/page.js")
	if err != nil {
		return nil, err
	}
	v := indexView{Entries: entries, CSS: template.CSS(css), JS: template.JS(js), Live: live}
	for _, e := range entries {
		v.Held += e.Held
		v.Total += e.Total
	}
	return execute("index.html", v)
}

// WriteIndex writes dir/index.html listing the reports of dir.
func WriteIndex(dir string) error {
	es, err := Scan(dir)
	if err != nil {
		return err
	}
	b, err := RenderIndex(es, false)
	if err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dir, FileName), b)
}

// WriteAll renders the page of every report of dir from its files (see
// WriteDir), then dir/index.html.
func WriteAll(dir string) error {
	es, err := Scan(dir)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Error != "" {
			return fmt.Errorf("report %s: %s", e.Name, e.Error)
		}
		if err := WriteDir(filepath.Join(dir, e.Name)); err != nil {
			return err
		}
	}
	return WriteIndex(dir)
}
