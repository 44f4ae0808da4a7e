package tabfile

import (
	"strings"
	"testing"
)

// A file saved with a UTF-8 byte order mark (Excel's "CSV UTF-8") reads
// as the same file without it: the first column keeps its name, and a
// quoted first header field is still a quoted field.
func TestOpenSkipsBOM(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"plain.csv", "party,q1\n1,2\n"},
		{"quoted.csv", "\"party\",\"q1\"\n\"1\",\"2\"\n"},
		{"tabs.tsv", "party\tq1\n1\t2\n"},
	} {
		for _, prefix := range []string{"", "\ufeff"} {
			tb, err := Open(strings.NewReader(prefix+tc.body), tc.name)
			if err != nil {
				t.Fatalf("%s (BOM %v): %v", tc.name, prefix != "", err)
			}
			if got := strings.Join(tb.Names(), ","); got != "party,q1" {
				t.Errorf("%s (BOM %v): columns %q, want party,q1", tc.name, prefix != "", got)
			}
			if _, err := tb.Column("party", "group"); err != nil {
				t.Errorf("%s (BOM %v): %v", tc.name, prefix != "", err)
			}
			row, err := tb.Next(1)
			if err != nil || len(row) != 2 || row[0] != "1" || row[1] != "2" {
				t.Errorf("%s (BOM %v): first row %q, %v", tc.name, prefix != "", row, err)
			}
		}
	}
}
