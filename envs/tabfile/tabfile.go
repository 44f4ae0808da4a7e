// Package tabfile reads CSV and TSV data files with a header row and says
// where a problem is as file:line:col, for the environments that read
// data (survey answers, paired comparisons).
package tabfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Table is an open CSV (or, for a .tsv name, TSV) file positioned after
// its header.
type Table struct {
	path  string
	r     *csv.Reader
	names []string
	cols  map[string]int
}

// unquoteHeader strips one pair of quotes a header name may carry.
func unquoteHeader(h string) string {
	h = strings.TrimSpace(h)
	if len(h) >= 2 && (h[0] == '\'' && h[len(h)-1] == '\'' || h[0] == '"' && h[len(h)-1] == '"') {
		return h[1 : len(h)-1]
	}
	return h
}

// bom is the UTF-8 byte order mark that spreadsheet programs (Excel's
// "CSV UTF-8") write at the start of a file.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Open reads the header of in, a file named path (its extension picks the
// separator; path also names the file in errors). A UTF-8 byte order mark
// at the start is skipped: it is no part of the first column's name.
func Open(in io.Reader, path string) (*Table, error) {
	br := bufio.NewReader(in)
	if head, err := br.Peek(len(bom)); err == nil && bytes.Equal(head, bom) {
		br.Discard(len(bom))
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	if strings.EqualFold(filepath.Ext(path), ".tsv") {
		r.Comma = '\t'
	}
	t := &Table{path: path, r: r, cols: map[string]int{}}
	header, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, t.Fail(pe.StartLine, pe.Column, "%v", pe.Err)
		}
		return nil, fmt.Errorf("%s: reading the header: %w", path, err)
	}
	if r.Comma == ',' && len(header) == 1 && strings.Contains(header[0], "\t") {
		return nil, t.Fail(1, 1, "the header has tabs: name the file .tsv")
	}
	for i, h := range header {
		n := unquoteHeader(h)
		t.cols[n] = i
		t.names = append(t.names, n)
	}
	return t, nil
}

// Names are the header's column names.
func (t *Table) Names() []string { return t.names }

// Fail is an error at line:col of the file.
func (t *Table) Fail(line, col int, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", t.path, line, col, fmt.Sprintf(format, args...))
}

// Column finds a column by name; what says which column it is for.
func (t *Table) Column(name, what string) (int, error) {
	i, ok := t.cols[name]
	if !ok {
		return 0, t.Fail(1, 1, "no %s column %q (columns: %s)", what, name, strings.Join(t.names, ", "))
	}
	return i, nil
}

// Next returns the next row, or nil at the end; a row whose number of
// fields differs from the header's is an error (need, the largest column
// index the caller reads, names that column in the message). The row's
// slice is reused by the next call.
func (t *Table) Next(need int) ([]string, error) {
	rec, err := t.r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, t.Fail(pe.Line, pe.Column, "%v", pe.Err)
		}
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	if len(rec) != len(t.names) {
		line, _ := t.r.FieldPos(0)
		if len(rec) <= need {
			return nil, t.Fail(line, 1, "row has %d fields, the header %d; the %q column is field %d", len(rec), len(t.names), t.names[need], need+1)
		}
		return nil, t.Fail(line, 1, "row has %d fields, the header %d: every row needs one field per column", len(rec), len(t.names))
	}
	return rec, nil
}

// At is the line and column of field i of the last row.
func (t *Table) At(i int) (int, int) { return t.r.FieldPos(i) }
