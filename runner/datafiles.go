package runner

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"hetalign/reports/page"
	"hetalign/runner/spec"
)

// dataFiles lists the data files the spec's experiments read, each with the
// SHA-256 of its bytes and its licence as the README.md of its folder
// states it (see readmeLicence).
func dataFiles(f *spec.File) []page.DataFile {
	var out []page.DataFile
	seen := map[string]bool{}
	for _, x := range f.Experiments {
		for _, p := range x.Base.Env.Params.DataFiles(x.Base.Dir) {
			if seen[p] {
				continue
			}
			seen[p] = true
			d := page.DataFile{Path: filepath.ToSlash(p), Licence: readmeLicence(filepath.Join(filepath.Dir(p), "README.md"))}
			if b, err := os.ReadFile(p); err == nil {
				s := sha256.Sum256(b)
				d.SHA256 = hex.EncodeToString(s[:])
			} else {
				d.SHA256 = "unreadable: " + err.Error()
			}
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b page.DataFile) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// licenceLine matches a README line "Licence: …" (or License, in any case,
// as a list item or in bold).
var licenceLine = regexp.MustCompile(`(?i)^[\s>*_-]*licen[cs]e[*_]*\s*:[*_]*\s*(.+?)\s*$`)

// readmeLicence is the text after "Licence:" on a line of the README, or
// "see <readme>" when the README has no such line.
func readmeLicence(readme string) string {
	fb := "see " + filepath.ToSlash(readme)
	f, err := os.Open(readme)
	if err != nil {
		return fb
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := licenceLine.FindStringSubmatch(sc.Text()); m != nil && m[1] != "" {
			return m[1]
		}
	}
	return fb
}
