package spec

import (
	"strings"
	"testing"
)

// validClaims is valid with claims on its table and on a second
// experiment with seeds.
var validClaims = strings.Replace(valid, `	report: tables: t: {rows: "methods.dpo.beta", columns: "method", cell: "tv"}
}`, `	report: tables: t: {rows: "methods.dpo.beta", columns: "method", cell: "tv"}
	report: claims: {
		exact: {says: "π* is exact", cell: {table: "t", row: 1, column: "oracle"}, equals: 0}
		closer: {says: "closer", cell: {table: "t", row: 2, column: "dpo"}, less: {experiment: "y", table: "s", row: "mean", column: "dpo"}}
		order: {says: "order", order: [{table: "t", row: 1, column: "dpo"}, {table: "t", row: 2, column: "dpo"}]}
	}
}
experiments: y: {
	population: types: A: reward: {y1: 1, y2: 2}
	env: {kind: "analytic", alternatives: ["y1", "y2"]}
	data: anon: {regime: "anonymous", pairs: 100}
	methods: {
		oracle: {kind: "oracle"}
		dpo: {kind: "dpo", data: "anon"}
	}
	sweep: {}
	seeds: [0, 1]
	report: tables: s: {rows: "seed", columns: "method", cell: "tv"}
	report: claims: every: {says: "every seed", every: "seed", cell: {table: "s", column: "dpo"}, sign: "positive"}
}`, 1)

func TestClaimsValid(t *testing.T) {
	files, err := Load([]string{write(t, validClaims)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := files[0].Experiments[0]
	if got := strings.Join(x.ClaimOrder, " "); got != "exact closer order" {
		t.Errorf("ClaimOrder = %q", got)
	}
}

// A claim's address that names no cell is an error at its place.
func TestVetClaimErrors(t *testing.T) {
	tests := []struct{ name, from, to, marker, message string }{
		{"table", `cell: {table: "t", row: 1`, `cell: {table: "u", row: 1`, `table: "u"`, `experiment x has no table "u"`},
		{"row", `row: 1, column: "oracle"`, `row: 3, column: "oracle"`, `row: 3`, "table t has no row 3 (rows: 1, 2)"},
		{"column", `column: "oracle"}, equals`, `column: "nbc"}, equals`, `column: "nbc"`, `table t has no column nbc`},
		{"experiment", `experiment: "y"`, `experiment: "z"`, `experiment: "z"`, `no experiment "z"`},
		{"other experiment's row", `row: "mean", column: "dpo"`, `row: "median", column: "dpo"`, `row: "median"`, "table s has no row median"},
		{"order", `{table: "t", row: 2, column: "dpo"}]`, `{table: "t", row: 2, column: "ipo"}]`, `column: "ipo"`, "no column ipo"},
		{"no relation", `, equals: 0}`, `}`, `exact: {`, "states no relation"},
		{"two relations", `equals: 0}`, `equals: 0, sign: "positive"}`, `exact: {`, "states 2 relations"},
		{"no row", `{table: "t", row: 1, column: "oracle"}`, `{table: "t", column: "oracle"}`, `cell: {table: "t", column: "oracle"}`, "no row"},
		{"every on other rows", `every: "seed"`, `every: "method"`, `table: "s", column: "dpo"`, "rows of table s are seed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkMutation(t, validClaims, tc.from, tc.to, tc.marker, tc.message) })
	}
}
