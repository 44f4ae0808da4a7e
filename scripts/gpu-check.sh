#!/usr/bin/env bash
# GPU check (issue 6). Build the binary on any machine with Go and cgo
# (go tool task gpu-build), copy the repository with bin/ to the GPU
# machine, and run there:
#
#   bash scripts/gpu-check.sh              # or: go tool task gpu-check
#
# 1. runs specs/examples/gpucheck.cue on --backend go and --backend cuda
#    and compares the reports with hetalign diff within $TOL (default
#    0.05: float32 transformers on the GPU reduce in another order);
# 2. measures transformer training throughput at the paper size
#    (L = 512, 4 × 128) for the reward model and the policy, GoMLX
#    (hetalign bench) and PyTorch (bench/torchref/bench.py, if a Python
#    with torch is found), one after the other on the same GPU;
# 3. runs the paper profile of specs/paper/lengths.cue on cuda when
#    PAPER=1 (long: it writes reports/lengths with GPU provenance).
# Results go to $OUT (default gpucheck-out/), one JSON line per benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/hetalign}
OUT=${OUT:-gpucheck-out}
TOL=${TOL:-0.05}
PY=${PY:-}
mkdir -p "$OUT"
if [ -z "$PY" ]; then
  for c in python3 /opt/*/.venv/bin/python3 "$HOME"/.venv/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import torch' 2>/dev/null; then PY=$c; break; fi
  done
fi

echo "== reports: go vs cuda (tolerance $TOL)"
"$BIN" run --backend go --cache "$OUT/cache" --out "$OUT/go" specs/examples/gpucheck.cue > "$OUT/go.txt"
"$BIN" run --backend cuda --cache "$OUT/cache" --out "$OUT/cuda" specs/examples/gpucheck.cue > "$OUT/cuda.txt"
"$BIN" diff --tolerance "$TOL" "$OUT/go/gpucheck/report.json" "$OUT/cuda/gpucheck/report.json" | tee "$OUT/diff.txt"
grep -h '"device"' "$OUT/cuda/gpucheck/provenance.json"

echo "== throughput, paper size"
SIZE=(--length 512 --width 128 --depth 4 --heads 4 --ff 4 --batch 32)
: > "$OUT/bench.jsonl"
for head in reward policy; do
  "$BIN" bench --backend cuda --head "$head" "${SIZE[@]}" --steps "${STEPS:-20}" | tee -a "$OUT/bench.jsonl"
  if [ -n "$PY" ]; then
    "$PY" bench/torchref/bench.py --head "$head" "${SIZE[@]}" --steps "${STEPS:-20}" | tee -a "$OUT/bench.jsonl"
  else
    echo "no Python with torch found: set PY=/path/to/python" >&2
  fi
done

if [ "${PAPER:-0}" = 1 ]; then
  echo "== paper profile of lengths on cuda"
  time "$BIN" run --backend cuda -t profile=paper --out reports-paper specs/paper/lengths.cue
fi
