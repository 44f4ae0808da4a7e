// Package all registers every environment kind hetalign ships: import it
// for its side effects, as a program imports database/sql drivers.
package all

import (
	_ "hetalign/envs/analytic"
	_ "hetalign/envs/circular"
	_ "hetalign/envs/comparisons"
	_ "hetalign/envs/lengthview"
	_ "hetalign/envs/random"
	_ "hetalign/envs/sequence"
	_ "hetalign/envs/survey"
)
