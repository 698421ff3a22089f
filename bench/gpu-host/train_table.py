#!/usr/bin/env python3
"""Issue 10's training table: qft4j's TrainBench and the PyTorch peer at the same shapes, from the JSON lines that
run.sh train collects (one per run, each with "driver_peak_gib" added from nvidia-smi). Ratios are qft4j over the
PyTorch bf16-autocast + fused AdamW run of the same model, batch and sequence (with activation recomputation when
qft4j recomputed and the peer ran that way too, else the peer without it).

  train_table.py table FILE.jsonl            prints the table
  train_table.py annotate KEY VALUE          stdin JSON line -> stdout with KEY: VALUE (a float) added
"""
import json
import sys


def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def ratio(a, b):
    return None if a is None or not b else a / b


def peer_for(r, rows):
    same = [p for p in rows if p.get("peer") and p.get("mode") == "bf16-adamw" and p.get("fits")
            and (p["model"], p["batch"], p["seq"]) == (r["model"], r["batch"], r["seq"])]
    matched = [p for p in same if p.get("recompute") == r.get("recompute")]
    return (matched or same or [None])[0]


def table(path):
    rows = [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    head = ("model", "BxT", "run", "tokens/s", "x torch", "MFU %", "alloc GiB", "driver GiB", "mem x torch", "B/param",
            "fwd ms", "bwd ms", "quant ms", "opt ms", "loss")
    out = [head]
    for r in rows:
        name = (r.get("impl") or "torch") + " " + r["mode"] + (" +recompute" if r.get("recompute") else "") + ("-segments" if r.get("recompute_mode") == "segments" else "")
        name += " bwd=" + r["backward"] if r.get("backward", "fp32") != "fp32" else ""
        name += " tf32" if r.get("fp32_math") == "tf32" else ""
        name += " out=int8" if r.get("outliers") == "int8" else ""
        shape = f'{r["batch"]}x{r["seq"]}'
        if not r.get("fits"):
            peak = r.get("peak_allocated_gib")
            out.append((r["model"], shape, name, "does not fit" + (f" (allocator peak {peak} GiB when it failed)" if peak else "")
                        + ": " + str(r.get("error", "?"))[:70]))
            continue
        p = peer_for(r, rows) if r.get("impl") == "qft4j" else None
        alloc = r.get("peak_allocated_gib")
        out.append((r["model"], shape, name, fmt(r.get("tokens_per_s"), "{:.0f}"),
                    fmt(ratio(r.get("tokens_per_s"), p and p.get("tokens_per_s"))),
                    fmt(r.get("mfu_pct_of_bf16_peak")), fmt(alloc), fmt(r.get("driver_peak_gib")),
                    fmt(ratio(alloc, p and p.get("peak_allocated_gib"))), fmt(r.get("persistent_bytes_per_param")),
                    fmt(r.get("forward_ms"), "{:.0f}"), fmt(r.get("backward_ms"), "{:.0f}"),
                    fmt(r.get("quantize_ms"), "{:.0f}"), fmt(r.get("optimizer_ms"), "{:.0f}"),
                    fmt(r.get("final_loss"), "{:.3f}")))
    widths = [max(len(row[i]) for row in out if i < len(row) and len(row) == len(head)) for i in range(len(head))]
    for row in out:
        if len(row) < len(head):
            print("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
        else:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print("tokens/s: median timed step; MFU: (6 N + 12 L d T) FLOPs per token over the H100 SXM dense bf16 peak (989.4 TFLOPS)"
          " for every row; alloc: the framework allocator's peak (qft4j: qft_memory_stats, torch: max_memory_allocated);"
          " driver: nvidia-smi memory.used peak during the run (whole GPU); B/param: persistent training state"
          " (qft4j: INT8 weights+outliers, INT8 momentum, INT8 gradients, fp32 small tensors; not its fp32 staging"
          " gradients); x torch: over PyTorch bf16 autocast + fused AdamW at the same shape; time split (qft4j): one"
          " step with the device synchronised at each split point")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "annotate":
        line = sys.stdin.read().strip()
        d = json.loads(line) if line.startswith("{") else {}
        d[sys.argv[2]] = round(float(sys.argv[3]), 3) if sys.argv[3] else None
        print(json.dumps(d))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
