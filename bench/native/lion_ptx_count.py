#!/usr/bin/env python3
"""Static instruction estimate of the fused Lion step kernels, for machines without a GPU or cuobjdump.

Counts the PTX instructions of every lion_step_cuda instantiation in a PTX file, weighted by a rough SASS
expansion (64-bit integer ops 2-4, divisions 9-20, moves free), and prints them per element for LLaMA-7B's two
row lengths (4096 and 11008 columns) and their parameter-weighted mix. Static counts include per-row code that
only a few threads run, so they overstate; compare two builds, not absolute numbers (session 5 calibrated them
against ncu's measured 157 instructions per element of commit 1cc01f9: bench/results/lion-step-h100.md).

  nvcc -std=c++17 -ptx -Inative/include -DQFT4J_CUDA_TARGET='"sm90"' -DQFT4J_BUILD --default-stream per-thread \
       -O3 --expt-relaxed-constexpr -arch=sm_90a native/cuda/lion_step.cu -o /tmp/lion.ptx
  python3 bench/native/lion_ptx_count.py /tmp/lion.ptx
"""
import collections
import re
import sys

WEIGHT = {'div.rn.f32': 9, 'div.u32': 20, 'div.s32': 20, 'rem.s32': 20, 'rem.u32': 20, 'mul.lo.s64': 3, 'mul.lo.u64': 3,
          'mul.hi.u64': 4, 'mad.lo.s64': 3, 'shr.u64': 2, 'xor.b64': 2, 'shl.b64': 2, 'add.s64': 2, 'and.b64': 2,
          'or.b64': 2, 'sub.s64': 2}
FREE = ('ld.param', 'mov.', 'cvta', 'ret')
ROWS = {4096: 4 * 4096 * 4096 + 2 * 11008 * 4096, 11008: 11008 * 4096}  # elements per 7B layer by row length


def kernels(ptx):
    """(threads, chunks per thread, stochastic) -> weighted instruction count."""
    out = {}
    for m in re.finditer(r'\.entry\s+(\S+)\((.*?)\n\}', ptx, re.S):
        name = m.group(1)
        if 'lion_step_cuda' not in name or 'rows' in name:
            continue
        args = [int(x) for x in re.findall(r'Li(\d+)E', name)]
        stochastic = 'Lb0' not in name
        threads, chunks = (args[0], args[1]) if len(args) == 2 else (256, args[0])  # before session 5: <R>, 256 threads
        lines = [l.strip() for l in m.group(0).split('\n') if ';' in l and not l.strip().startswith(('.', '//', '{', '}'))]
        ops = collections.Counter((l.split()[1] if l.startswith('@') else l.split()[0]).rstrip(';') for l in lines)
        out[(threads, chunks, stochastic)] = sum(n * WEIGHT.get(op, 1) for op, n in ops.items() if not op.startswith(FREE))
    return out


def serving(ks, cols):
    """The smallest-footprint kernel whose threads x chunks x 16 covers the row (what the host picks)."""
    fits = [k for k in ks if k[2] and k[0] * k[1] * 16 >= cols]
    return min(fits, key=lambda k: (k[0] * k[1], k[0]))


def main():
    ks = kernels(open(sys.argv[1]).read())
    total = sum(ROWS.values())
    mix = 0.0
    for cols, elements in ROWS.items():
        k = serving(ks, cols)
        per_element = ks[k] / (cols / k[0])
        mix += per_element * elements / total
        print(f'{cols:6d} columns: {k[0]} threads x {k[1]} chunks, {per_element:6.1f} weighted PTX instructions per element')
    print(f'LLaMA-7B mix: {mix:.1f} per element')


if __name__ == '__main__':
    main()
