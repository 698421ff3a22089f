#!/usr/bin/env python3
"""Peak device memory of a DeviceQftTrainer step (TrainBench), from the allocation sizes in the code (issue 10).

A CPU step of a 7B model takes 15-20 minutes, a 1x2048 one hours, so large shapes are measured on the CPU backend at a
few tokens (`TrainBench --device cpu --seq 16`: the allocator is the same code on both backends) and projected to more
tokens here. The sum below follows the allocations of DeviceLlama, ChunkedClassifier, QftLinear.Workspace and
DeviceQftTrainer (and Int8Backward with --backward int8-input|int8); it matched the CPU allocator's peak within 0.1% at 1B (1x16, 1x32) and 7B (1x16), see
bench/results/train-h100.md. Keep it in step with those classes when their buffers change.

  python3 bench/memory_projection.py --model 7b --tokens 2048 --recompute segments --policy fused [--backward int8] [--outliers int8]
"""
import argparse
import math

# name: (dim, layers, heads, kv_heads, ffn, vocab), as TrainBench.Shape (untied classifier)
SHAPES = {"125m": (768, 12, 12, 12, 2048, 50304), "1b": (2048, 22, 32, 4, 5632, 32000), "7b": (4096, 32, 32, 32, 11008, 32000)}
CHUNK_BYTES = 32 << 20  # ChunkedClassifier.DEFAULT_CHUNK_BYTES


def hybrid_bytes(rows, cols):
    """Hybrid INT8 weight: codes, row scales, CSR row_ptr, 1% outliers as int32 column + fp32 value."""
    return rows * cols + 4 * rows + 4 * (rows + 1) + 8 * round(0.01 * rows * cols)


def int8_blocks(rows, cols):
    """INT8 gradient or momentum with one scale per row (TrainBench's block: the whole row)."""
    return rows * cols + 4 * rows


def project(model, n, recompute, policy, backward="fp32", outliers="fp32-sparse"):
    dim, layers, heads, kv_heads, h, vocab = SHAPES[model]
    kv = kv_heads * (dim // heads)
    block = [(dim, dim), (kv, dim), (kv, dim), (dim, dim), (h, dim), (dim, h), (h, dim)]  # wq wk wv wo w1 w2 w3
    norms = (2 * layers + 1) * dim
    params = layers * sum(r * c for r, c in block) + 2 * vocab * dim + norms
    weights = layers * sum(hybrid_bytes(r, c) for r, c in block) + 2 * hybrid_bytes(vocab, dim) + 4 * norms
    momentum = layers * sum(int8_blocks(r, c) for r, c in block) + 2 * int8_blocks(vocab, dim) + 4 * norms
    # INT8 gradients: fused shares one per linear kind and one for the vocabulary matrices; stash keeps every one.
    copies = 1 if policy == "fused" else layers
    gradients = copies * sum(int8_blocks(r, c) for r, c in block) + (1 if policy == "fused" else 2) * int8_blocks(vocab, dim) + 4 * norms
    chunk = vocab if n * vocab * 4 <= CHUNK_BYTES else max(64, CHUNK_BYTES // (4 * n) // 64 * 64)
    largest = max(dim * max(dim, h), chunk * dim)
    width = max(dim, h)
    k = math.ceil(math.sqrt(layers)) if recompute == "segments" else 1
    inputs = layers + 1 if k == 1 else (layers + k - 1) // k + 1 + (k - 1)
    rows = n * heads
    parts = {
        "persistent": weights + momentum + gradients,
        "fp32 staging": 4 * largest,
        # one dequantized block matrix (fp32 backward) or vocabulary chunk (the classifier's backward, always fp32)
        "dequantize scratch": 4 * (largest if backward == "fp32" else chunk * dim),
        "block inputs": 4 * inputs * n * dim,
        # xn1 q k v ao x2 xn2, h1 h3 g, rstd1 rstd2, lse: one set when recomputing, else one per layer
        "activations": (1 if recompute != "none" else layers) * 4 * (n * (5 * dim + 2 * kv + 3 * h + 2) + rows),
        "backward buffers": 4 * (2 * n * dim + rows),  # dx, dxn, delta
        # logits chunk; running max, fp64 sum, target logit, lse, losses; xf, rstd; ids, targets; INT8 activations + scales
        "logits chunk + misc": 4 * n * chunk + 4 * 6 * n + 4 * n * dim + 4 * n + 8 * n + n * max(dim, h) + 4 * n,
    }
    if backward != "fp32":
        # Int8Backward (the blocks): dY codes + scales, Wᵀ / Xᵀ codes, X's scales, Sᵀ (row pointers, the largest outlier set)
        nnz = max(round(0.01 * r * c) for r, c in block)
        parts["int8 backward scratch"] = (n * width + 4 * max(n, width) + max(dim * width, width * n) + 4 * width + 4 * (width + 1)
                                          + 8 * nnz + 8)
    if outliers == "int8":
        # QftLinear.Workspace's INT8 image of one matrix's outliers (the forward; Int8Backward reuses its Wᵀ scratch) + scales
        rows_img = max(max(r for r, c in block), chunk)
        parts["int8 outlier image"] = max(max(r * c for r, c in block), chunk * dim) + 4 * rows_img
    return params, parts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(SHAPES), default="7b")
    p.add_argument("--tokens", type=int, default=2048, help="batch x sequence")
    p.add_argument("--recompute", choices=["none", "blocks", "segments"], default="segments")
    p.add_argument("--policy", choices=["fused", "stash"], default="fused")
    p.add_argument("--backward", choices=["fp32", "int8-input", "int8"], default="fp32")
    p.add_argument("--outliers", choices=["fp32-sparse", "int8"], default="fp32-sparse")
    a = p.parse_args()
    params, parts = project(a.model, a.tokens, a.recompute, a.policy, a.backward, a.outliers)
    gib = 2 ** 30
    for name, b in parts.items():
        print(f"{name:22s} {b / gib:8.3f} GiB" + (f"  ({b / params:.3f} B/param)" if name == "persistent" else ""))
    total = sum(parts.values())
    print(f"{'peak':22s} {total / gib:8.3f} GiB = {total / 1e9:.2f} GB  ({a.model}, {a.tokens} tokens, {a.policy}, recompute {a.recompute}, {a.backward} backward, {a.outliers} outliers)")


if __name__ == "__main__":
    main()
