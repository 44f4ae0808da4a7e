#!/usr/bin/env python3
"""Side by side: hetalign's transformer training step (GoMLX) against the
same model in PyTorch on the CPU (bench.py), at the quick and medium sizes,
both heads, alternating the programs `--rounds` times; PyTorch on 1 and on
2 threads (OPENBLAS_NUM_THREADS=1: the Debian build's OpenBLAS pool
otherwise fights OpenMP). Prints the median tokens/s of each and the ratio
PyTorch / hetalign. Run through `go tool task bench-torch`.

  /usr/bin/python3 bench/torchref/compare.py --hetalign bin/hetalign
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

SIZES = {
    # name: (length, width, depth, heads, ff, batch)
    "quick": (32, 16, 1, 2, 2, 32),
    "medium": (128, 64, 2, 4, 4, 16),
}


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"{' '.join(cmd)} printed no JSON line:\n{out.stdout[-2000:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hetalign", default="bin/hetalign")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sizes", default="quick,medium")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    rows = []
    for size in a.sizes.split(","):
        L, W, D, H, F, B = SIZES[size]
        common = ["--length", str(L), "--width", str(W), "--depth", str(D), "--heads", str(H), "--ff", str(F),
                  "--batch", str(B), "--steps", str(a.steps)]
        for head in ("reward", "policy"):
            res = {"hetalign": [], "torch1": [], "torch2": []}
            for r in range(a.rounds):
                res["hetalign"].append(run([a.hetalign, "bench", "--head", head] + common)["tokens_per_s"])
                for t in (1, 2):
                    res[f"torch{t}"].append(run([sys.executable, os.path.join(here, "bench.py"), "--device", "cpu",
                                                 "--threads", str(t), "--head", head] + common, env)["tokens_per_s"])
                print(f"{size} {head} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in res.items()),
                      file=sys.stderr, flush=True)
            med = {k: statistics.median(v) for k, v in res.items()}
            rows.append((size, head, med))
    print(f"{'size':8} {'head':7} {'hetalign tok/s':>15} {'torch 1T tok/s':>15} {'torch 2T tok/s':>15} {'ratio 1T':>9} {'ratio 2T':>9}")
    for size, head, m in rows:
        print(f"{size:8} {head:7} {m['hetalign']:15.0f} {m['torch1']:15.0f} {m['torch2']:15.0f} "
              f"{m['torch1'] / m['hetalign']:9.2f} {m['torch2'] / m['hetalign']:9.2f}")
    print(f"medians of {a.rounds} alternating rounds; ratio = PyTorch tokens/s ÷ hetalign tokens/s")


if __name__ == "__main__":
    main()
