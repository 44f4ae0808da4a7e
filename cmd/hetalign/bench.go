package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"hetalign/envs/sequence"
	"hetalign/methods/neural"
	"hetalign/runner/device"
)

// runBench measures transformer training throughput on a backend, the
// numbers the GPU check compares with PyTorch (bench/torchref).
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hetalign bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backend := fs.String("backend", "go", "compute backend (as for run)")
	head := fs.String("head", neural.RewardHead, neural.RewardHead+" (encoder, scalar head) or "+neural.PolicyHead+" (causal LM)")
	length := fs.Int("length", 512, "L: prompt + response tokens (sequences are L + 3)")
	width := fs.Int("width", 128, "model width")
	depth := fs.Int("depth", 4, "transformer blocks")
	heads := fs.Int("heads", 4, "attention heads")
	ff := fs.Int("ff", 4, "feed-forward expansion")
	batch := fs.Int("batch", 32, "pairs per step")
	steps := fs.Int("steps", 20, "timed steps")
	warmup := fs.Int("warmup", 3, "untimed steps first (compilation)")
	if _, err := parse(fs, args); err != nil {
		return exitInvalid
	}
	b, err := device.Resolve(*backend, device.OS())
	if err == nil {
		err = b.Apply()
	}
	if err != nil {
		fmt.Fprintln(stderr, "hetalign bench:", err)
		return exitInvalid
	}
	be, err := neural.Backend(b.Config)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign bench:", err)
		return exitFailed
	}
	arch := neural.SeqArch{Vocab: sequence.Vocab, Context: *length + 3, Width: *width, Depth: *depth, Heads: *heads, FF: *ff, Head: *head}
	tps, sps, err := neural.Throughput(be, arch, neural.Optim{LR: 1e-4, Batch: *batch, Steps: *steps}, *warmup, 1)
	if err != nil {
		fmt.Fprintln(stderr, "hetalign bench:", err)
		return exitFailed
	}
	out, _ := json.Marshal(map[string]any{"impl": "gomlx", "backend": b.Name, "device": be.Description(), "head": *head,
		"length": *length, "width": *width, "depth": *depth, "heads": *heads, "ff": *ff, "batch_pairs": *batch,
		"params": arch.Params(), "tokens_per_s": tps, "s_per_step": sps})
	fmt.Fprintln(stdout, string(out))
	return exitOK
}
