package survey

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzFile writes data to a temporary .csv or .tsv file.
func fuzzFile(t *testing.T, data []byte, tsv bool) string {
	name := "s.csv"
	if tsv {
		name = "s.tsv"
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkErr fails unless err is nil or a message that names the file.
func checkErr(t *testing.T, err error, path string) {
	t.Helper()
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file %s: %v", path, err)
	}
}

// FuzzRead: Read never panics on any bytes, and its errors name the file.
func FuzzRead(f *testing.F) {
	f.Add([]byte("'party'\t'q'\t'w'\n0\t1\t2\n0\t2\t1\n1\t3.0\t1\n1\t9\t1\n1\tNA\t1\n5\t1\t1\n1\t2\t3\n"), true, true)
	f.Add([]byte("party,q,w\n0,1,1\n1,2,0.5\n0,3,2\n"), false, true)
	f.Add([]byte("party,q\n0,1\n1,2\n0,x\n"), false, false)
	f.Add([]byte("party,q\n0,\"1\n"), false, false)
	f.Add([]byte("party\tq\n0\t1\n"), false, false)
	f.Add([]byte("party,q,w\n0,1,NaN\n1,2,-1\n"), false, true)
	f.Fuzz(func(t *testing.T, data []byte, tsv, weighted bool) {
		src := source(fuzzFile(t, data, tsv))
		if weighted {
			src.Weight = "w"
		}
		c, err := Read(src)
		checkErr(t, err, src.Path)
		if err == nil && (len(c.N) != len(src.Types) || len(c.Shares) != len(src.Types)) {
			t.Errorf("counts for %d types: %+v", len(src.Types), c)
		}
	})
}

// FuzzReadShares: ReadShares never panics on any bytes, and its errors
// name the file.
func FuzzReadShares(f *testing.F) {
	f.Add([]byte("party,question,option,share\n0,q,1,0.5\n0,q,2,0.5\n1,q,3,0.7\n1,q,2,0.3\n0,other,1,1\n1,q,9,0.2\n"), false)
	f.Add([]byte("party\tquestion\toption\tshare\n0\tq\t1\t3\n1\tq\t2\t4\n"), true)
	f.Add([]byte("party,question,option,share\n0,q,1,x\n"), false)
	f.Add([]byte("\"party\",\"question\",\"option\",\"share\"\n0,q,1,Inf\n1,q,,1\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, tsv bool) {
		src := source(fuzzFile(t, data, tsv))
		c, err := ReadShares(src, SharesColumns{Question: "question", Option: "option", Value: "share"})
		checkErr(t, err, src.Path)
		if err == nil && len(c.N) != len(src.Types) {
			t.Errorf("counts for %d types: %+v", len(src.Types), c)
		}
	})
}
