#!/usr/bin/env python3
"""The PyTorch peer of qft4j's GPU training benchmark (issue 10): trains the same LLaMA architecture at the same
shapes, batch and sequence length, and prints the figures qft4j's bench prints, one JSON object per run.

  python3 bench/gpu-host/torch_peer.py --model 1b --mode bf16-adamw --batch 1 --seq 2048 --steps 20
  python3 bench/gpu-host/torch_peer.py --model 7b --mode fp32-adamw ...      # reports "fits": false on 80 GB
  python3 bench/gpu-host/torch_peer.py --model 125m --mode bf16-adamw --tokens train.i32 --val-tokens val.i32 \
      --warmup 0 --steps 300 --lr 6e-4 --lr-warmup 30 --min-lr-fraction 0.1 --eval-every 25 --val-windows 16 --log loss.jsonl

With --tokens the batches are windows of the int32 token file in the order qft4j's TrainBench --tokens takes them
(windows.py, the formula is there and in TokenWindows.java), and the log has one line per step,
{"step", "loss", "lr"} (step 1-based, loss before the update), plus "val_loss" every --eval-every steps and at the
last: the mean loss over the first --val-windows windows of --val-tokens after that step's update, as qft4j's. With
--lr-warmup the learning rate follows qft4j's LrSchedule: linear warmup lr * s / W for s <= W, then cosine from lr to
min_lr_fraction * lr over steps W+1 .. S (s 1-based, S = warmup + steps); without it the learning rate is constant.

Architecture (as llama2.c / Hugging Face LlamaForCausalLM): token embedding, per block pre-norm RMSNorm ->
grouped-query causal attention with rotary embeddings (rotate-half layout) -> residual, RMSNorm -> SwiGLU FFN ->
residual; final RMSNorm; untied classifier; mean cross-entropy. Weights are random (normal, std 0.02): speed and
memory do not depend on their values. Modes:
  bf16-adamw   fp32 master weights, bf16 autocast, torch.optim.AdamW(fused=True)   (the usual mixed precision)
  fp32-adamw   fp32 everything, TF32 off, torch.optim.AdamW(fused=True)
  bf16-lion    as bf16-adamw with Lion (betas 0.9/0.99, below) instead of AdamW: the control that separates QFT's INT8
               state from the choice of optimizer in the loss curves (QFT trains with Lion)
AdamW's betas are 0.9/0.95; weight decay is --weight-decay (default 0.1) for either optimizer.
Attention uses F.scaled_dot_product_attention (flash kernels where they apply), so the peer is a strong one.

FLOPs per token, for model FLOPs utilisation (PaLM appendix B): 6 * N + 12 * layers * dim * seq, where N counts
every weight matrix but not the embedding lookup. Utilisation is against the H100 SXM dense bf16 peak, 989.4 TFLOPS,
for both modes, so the two are comparable.
"""
import argparse
import json
import sys
import time

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from windows import Windows  # noqa: E402  (beside this file; the order qft4j's TrainBench --tokens takes)

# name: (dim, layers, heads, kv_heads, ffn, vocab)
SHAPES = {
    "7b": (4096, 32, 32, 32, 11008, 32000),    # LLaMA-2-7B
    "1b": (2048, 22, 32, 4, 5632, 32000),      # TinyLlama-1.1B
    "125m": (768, 12, 12, 12, 2048, 50304),    # GPT-2 BPE vocabulary (50257) padded to a multiple of 64
    "tiny": (64, 2, 4, 2, 172, 512),           # a smoke test that runs on any GPU in seconds
    "small": (64, 2, 4, 4, 172, 50304),        # qft4j's CPU stand-in of the 125m loss curve
}
H100_BF16_DENSE_TFLOPS = 989.4


class RmsNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Normalise in fp32 as LLaMA does, whatever autocast chose for x.
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_tables(head_dim, seq, device, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim))
    ang = torch.outer(torch.arange(seq, device=device).float(), inv)  # (seq, head_dim/2)
    ang = torch.cat([ang, ang], dim=-1)                                # rotate-half layout
    return ang.cos(), ang.sin()


def rotate(x, cos, sin):
    # x: (B, H, T, hd); Hugging Face's rotate-half pairing (i, i + hd/2).
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, ffn):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        self.attention_norm = RmsNorm(dim)
        self.wq = nn.Linear(dim, heads * self.hd, bias=False)
        self.wk = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(heads * self.hd, dim, bias=False)
        self.ffn_norm = RmsNorm(dim)
        self.w1 = nn.Linear(dim, ffn, bias=False)
        self.w2 = nn.Linear(ffn, dim, bias=False)
        self.w3 = nn.Linear(dim, ffn, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        xn = self.attention_norm(x)
        q = self.wq(xn).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.wk(xn).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.wv(xn).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.kv_heads != self.heads)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, -1))
        xn = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(xn)) * self.w3(xn))


class Llama(nn.Module):
    def __init__(self, dim, layers, heads, kv_heads, ffn, vocab, recompute):
        super().__init__()
        self.recompute = recompute
        self.tok = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, kv_heads, ffn) for _ in range(layers))
        self.norm = RmsNorm(dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens, targets, cos, sin):
        x = self.tok(tokens)
        for blk in self.blocks:
            x = checkpoint(blk, x, cos, sin, use_reentrant=False) if self.recompute else blk(x, cos, sin)
        logits = self.out(self.norm(x))
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023, arXiv 2302.06675, Algorithm 2) with decoupled weight decay, as qft4j's fp32 Lion:
    w -= lr * (sign(b1 m + (1 - b1) g) + wd w), then m = b2 m + (1 - b2) g; fp32 momentum."""

    def __init__(self, params, lr, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "m" not in state:
                    state["m"] = torch.zeros_like(p)
                m = state["m"]
                update = torch.sign(m * b1 + p.grad * (1 - b1))
                p.mul_(1 - group["lr"] * group["weight_decay"]).add_(update, alpha=-group["lr"])
                m.mul_(b2).add_(p.grad, alpha=1 - b2)


def batches(args, vocab, device):
    """Random tokens, or windows of a little-endian int32 token file in qft4j's order (windows.py)."""
    g = torch.Generator(device="cpu").manual_seed(args.seed)
    if args.tokens is None:
        while True:
            t = torch.randint(0, vocab, (args.batch, args.seq + 1), generator=g)
            yield t[:, :-1].to(device), t[:, 1:].to(device)
    data = read_tokens(args.tokens, vocab)
    order = Windows(data.numel(), args.seq, args.seed)
    step = 0
    while True:
        step += 1
        t = torch.stack([data[w:w + args.seq + 1] for w in order.starts(step, args.batch)])
        yield t[:, :-1].to(device), t[:, 1:].to(device)


def read_tokens(path, vocab):
    size = os.path.getsize(path)
    if size % 4:
        sys.exit(f"{path}: {size} bytes is not a whole number of int32 tokens")
    data = torch.from_file(path, dtype=torch.int32, size=size // 4).long()
    if int(data.min()) < 0 or int(data.max()) >= vocab:
        sys.exit(f"{path}: tokens in [{int(data.min())}, {int(data.max())}] fall outside the vocabulary [0, {vocab})")
    return data


def validation_windows(args, vocab, device):
    """(val_windows, seq + 1) tokens: the first windows of --val-tokens in file order, as qft4j's firstWindows."""
    data = read_tokens(args.val_tokens, vocab)
    count = (data.numel() - 1) // args.seq
    if args.val_windows > count:
        sys.exit(f"{args.val_tokens}: {args.val_windows} validation windows of seq {args.seq} requested, the file holds {count}")
    return torch.stack([data[w * args.seq:w * args.seq + args.seq + 1] for w in range(args.val_windows)]).to(device)


@torch.no_grad()
def evaluate(model, windows, args, cos, sin):
    """Mean loss over the validation windows, batch at a time (every batch full: the mean of means is the token mean)."""
    losses = []
    for r in range(0, windows.shape[0], args.batch):
        t = windows[r:r + args.batch]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.mode.startswith("bf16")):
            losses.append(float(model(t[:, :-1], t[:, 1:], cos, sin)))
    return sum(losses) / len(losses)


def lr_factor(step, warmup, total, min_fraction):
    """qft4j's LrSchedule.at(step) / lr for 1-based step: linear warmup, then cosine to min_fraction."""
    if step <= warmup:
        return step / warmup
    decay = total - warmup
    if decay <= 1:
        return 1.0
    progress = (step - warmup - 1) / (decay - 1)
    return min_fraction + 0.5 * (1 - min_fraction) * (1 + math.cos(math.pi * progress))


def run(args):
    dim, layers, heads, kv_heads, ffn, vocab = SHAPES[args.model]
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(args.seed)
    report = {"peer": "pytorch " + torch.__version__, "gpu": torch.cuda.get_device_name(0), "model": args.model,
              "mode": args.mode, "batch": args.batch, "seq": args.seq, "recompute": args.recompute}
    torch.cuda.reset_peak_memory_stats()
    try:
        with torch.device(device):
            model = Llama(dim, layers, heads, kv_heads, ffn, vocab, args.recompute)
        n_params = sum(p.numel() for p in model.parameters())
        n_matmul = n_params - model.tok.weight.numel() - sum(p.numel() for p in model.parameters() if p.dim() == 1)
        opt = (Lion(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=args.weight_decay) if args.mode.endswith("lion")
               else torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=args.weight_decay, fused=True))
        cos, sin = rope_tables(dim // heads, args.seq, device)
        data = batches(args, vocab, device)
        val = validation_windows(args, vocab, device) if args.val_tokens else None
        log = open(args.log, "w") if args.log else None
        times, losses = [], []
        total = args.warmup + args.steps
        for step in range(total):
            lr = args.lr * (lr_factor(step + 1, args.lr_warmup, total, args.min_lr_fraction) if args.lr_warmup is not None else 1.0)
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = next(data)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.mode.startswith("bf16")):
                loss = model(x, y, cos, sin)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=False)
            torch.cuda.synchronize()
            if step >= args.warmup:
                times.append(time.perf_counter() - t0)
            losses.append(float(loss))
            if log:
                line = {"step": step + 1, "loss": losses[-1], "lr": lr}
                if val is not None and ((step + 1) % args.eval_every == 0 or step + 1 == total):
                    line["val_loss"] = report["final_val_loss"] = evaluate(model, val, args, cos, sin)
                log.write(json.dumps(line) + "\n")
                log.flush()
            if step == 0:
                # Weights, gradients (kept allocated) and AdamW's two moments: what lives between steps.
                state = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values() if torch.is_tensor(t))
                report["persistent_bytes_per_param"] = round((2 * 4 * n_params + state) / n_params, 3)
        if log:
            log.close()
    except torch.OutOfMemoryError as e:
        report.update({"fits": False, "error": str(e).splitlines()[0],
                       "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)})
        return report
    step_s = sorted(times)[len(times) // 2]
    tokens = args.batch * args.seq
    flops_per_token = 6 * n_matmul + 12 * layers * dim * args.seq
    free, total = torch.cuda.mem_get_info()
    report.update({
        "fits": True, "params": n_params, "step_ms_median": round(step_s * 1e3, 2),
        "tokens_per_s": round(tokens / step_s, 1),
        "mfu_pct_of_bf16_peak": round(100 * flops_per_token * tokens / step_s / (H100_BF16_DENSE_TFLOPS * 1e12), 2),
        "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3),
        "driver_used_gib_after": round((total - free) / 2**30, 3),
        "final_loss": round(float(loss), 4), f"mean_loss_last_{min(50, len(losses))}": round(sum(losses[-50:]) / len(losses[-50:]), 4),
        "timed_steps": len(times),
    })
    return report


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(SHAPES), required=True)
    p.add_argument("--mode", choices=["bf16-adamw", "fp32-adamw", "bf16-lion"], default="bf16-adamw")
    p.add_argument("--weight-decay", type=float, default=0.1, help="decoupled weight decay of AdamW or Lion")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--steps", type=int, default=10, help="timed steps, after the warm-up")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--recompute", action="store_true", help="activation checkpointing per block")
    p.add_argument("--tokens", help="int32 little-endian token file (random tokens without it)")
    p.add_argument("--log", help="write {step, loss, lr[, val_loss]} per step to this JSONL file")
    p.add_argument("--val-tokens", help="int32 token file whose first --val-windows windows are the validation set")
    p.add_argument("--val-windows", type=int, default=16)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--lr-warmup", type=int, help="warmup steps of qft4j's warmup + cosine schedule (constant lr without)")
    p.add_argument("--min-lr-fraction", type=float, default=0.1)
    args = p.parse_args()
    if args.batch <= 0 or args.seq <= 0 or args.steps <= 0 or args.warmup < 0:
        sys.exit("batch, seq and steps must be positive and warmup non-negative")
    if args.val_tokens and (not args.log or not args.tokens or args.val_windows <= 0 or args.val_windows % args.batch or args.eval_every <= 0):
        sys.exit("--val-tokens needs --tokens and --log, --eval-every > 0 and --val-windows a positive multiple of --batch")
    if args.lr_warmup is not None and not 0 <= args.lr_warmup <= args.warmup + args.steps:
        sys.exit(f"--lr-warmup {args.lr_warmup} must be in [0, warmup + steps]")
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: the peer runs on the GPU host")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
