#!/usr/bin/env python3
"""PyTorch reference for hetalign's transformer training step (not part of
the Go build). Same model as methods/neural/transformer.go: token and
learned position embeddings, `depth` pre-LayerNorm blocks of multi-head
self-attention and a ReLU feed-forward layer of ff*width units, a final
LayerNorm; the reward head reads a scalar at EOS of a bidirectional
encoder (padding masked), the policy head is a causal LM scoring
log pi(y|x) as the sum of the response's and EOS's next-token
log-probabilities. One step = a batch of pairs (2*batch sequences of
length+3 tokens), the DPO/BT loss -log sigmoid(beta*z), Adam.

Prints one JSON line like `hetalign bench`:
  python3 bench/torchref/bench.py --head reward --length 512 --width 128 --depth 4
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, BOS, SEP, EOS, PAD = 260, 256, 257, 258, 259


class Block(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.ln1 = nn.LayerNorm(d, eps=1e-3)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d, eps=1e-3)
        self.ff = nn.Sequential(nn.Linear(d, ff * d), nn.ReLU(), nn.Linear(ff * d, d))

    def forward(self, h, attn_mask, key_padding_mask):
        x = self.ln1(h)
        a, _ = self.attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)
        h = h + a
        return h + self.ff(self.ln2(h))


class Model(nn.Module):
    def __init__(self, head, T, d, depth, heads, ff):
        super().__init__()
        self.head, self.T = head, T
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.randn(T, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, ff) for _ in range(depth)])
        self.ln = nn.LayerNorm(d, eps=1e-3)
        self.out = nn.Linear(d, 1 if head == "reward" else VOCAB)

    def scores(self, tok, lens, starts):
        n, T = tok.shape
        pos = torch.arange(T, device=tok.device).expand(n, T)
        h = self.tok(tok) + self.pos
        if self.head == "policy":
            causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=tok.device), 1)
            for b in self.blocks:
                h = b(h, causal, None)
        else:
            pad = pos >= lens[:, None]
            for b in self.blocks:
                h = b(h, None, pad)
        h = self.ln(h)
        if self.head == "reward":
            last = h[torch.arange(n, device=tok.device), lens - 1]
            return self.out(last).squeeze(-1)
        logp = F.log_softmax(self.out(h), -1)
        nxt = torch.cat([tok[:, 1:], torch.full((n, 1), PAD, device=tok.device)], 1)
        picked = logp.gather(-1, nxt[..., None]).squeeze(-1)
        target = pos + 1
        mask = (target >= starts[:, None]) & (target < lens[:, None])
        return (picked * mask).sum(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--head", default="reward", choices=["reward", "policy"])
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32, help="pairs per step")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    T, B = a.length + 3, a.batch
    model = Model(a.head, T, a.width, a.depth, a.heads, a.ff).to(dev)
    if a.compile:
        model.scores = torch.compile(model.scores)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    p = max(1, (T - 3) // 4)
    # The batch is built on the host and copied each step, as hetalign's
    # trainer feeds GoMLX (the same work per step on both sides).
    body = torch.randint(32, 127, (2 * B, T))
    body[:, 0], body[:, p + 1], body[:, T - 1] = BOS, SEP, EOS
    lens = torch.full((2 * B,), T)
    starts = torch.full((2 * B,), p + 2)
    labels = torch.randint(0, 2, (B,)).float()

    def step():
        tok, ln, st, lab = (x.to(dev) for x in (body, lens, starts, labels))
        sc = model.scores(tok, ln, st)
        z = sc[B:] - sc[:B]
        loss = F.binary_cross_entropy_with_logits(0.1 * z, lab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    loss.item()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    el = time.perf_counter() - t0
    params = sum(x.numel() for x in model.parameters())
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "device": str(torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"),
                      "head": a.head, "length": a.length, "width": a.width, "depth": a.depth, "heads": a.heads, "ff": a.ff,
                      "batch_pairs": B, "params": params, "compiled": a.compile, "threads": torch.get_num_threads(),
                      "tokens_per_s": a.steps * 2 * B * T / el, "s_per_step": el / a.steps}))


if __name__ == "__main__":
    main()
