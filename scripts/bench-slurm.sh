#!/usr/bin/env bash
# Wall time of runner/testdata/grid200.cue (201 steps) run locally and on
# the private one-node Slurm of test-slurm.sh with 20 steps per task, each
# into a fresh cache, ROUNDS times (default 3), and once with one step per
# task (about 4 minutes here; CHUNK1=0 skips it); prints every time and the
# medians. Run it as `go tool task bench-slurm`.
set -euo pipefail
cd "$(dirname "$0")/.."
B=$(mktemp -d /tmp/slurm-bench.XXXXXX)
trap 'rm -rf "$B"' EXIT
go build -o "$B"/hetalign ./cmd/hetalign
spec=runner/testdata/grid200.cue
declare -A times
run() { # name, flags...
	local name=$1; shift
	local c="$B/cache-$name-$r" start end
	start=$(date +%s.%N)
	"$B"/hetalign run --cache "$c" --out "$B/out-$name-$r" "$@" "$spec" >/dev/null 2>"$B/$name-$r.log" || { cat "$B/$name-$r.log"; exit 1; }
	end=$(date +%s.%N)
	t=$(echo "$end - $start" | bc)
	echo "$name round $r: $t s"
	times[$name]+="$t "
	if [[ $name != local ]]; then cmp -s "$B/out-$name-$r/grid200/report.json" "$B/out-local-$r/grid200/report.json" || { echo "report differs"; exit 1; }; fi
}
for r in $(seq "${ROUNDS:-3}"); do
	run local
	if [[ $r == 1 && ${CHUNK1:-1} == 1 ]]; then
		run slurm-chunk1 --executor slurm --slurm-poll 500ms --slurm-chunk 1
	fi
	run slurm-chunk20 --executor slurm --slurm-poll 500ms --slurm-chunk 20
done
for name in "${!times[@]}"; do
	m=$(echo ${times[$name]} | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
	echo "median $name: $m s ($(echo "scale=4; $m / 201 * 1000" | bc) ms per step)"
done
