#!/usr/bin/env python3
"""Static SASS profile of qft4j's CUDA kernels, for machines without a GPU (and a check beside ncu on one).

For every kernel of a cubin: its instruction count, branches, register spills (LDL/STL), the quarter-rate
conversions (F2I/I2F) and tensor-core instructions. With --lion it also prints, for the fused Lion step
(native/cuda/lion_step.cu), the static instructions per element of the kernel the host picks for each of
LLaMA-7B's row lengths and their parameter-weighted mix, and the step time that implies.

  nvcc -std=c++17 -cubin -Inative/include -DQFT4J_CUDA_TARGET='"sm90"' -DQFT4J_BUILD --default-stream per-thread \
       -O3 --expt-relaxed-constexpr -arch=sm_90 native/cuda/lion_step.cu -o /tmp/lion.cubin
  python3 bench/native/sass_count.py --lion /tmp/lion.cubin            # the toolkit's own cuobjdump (GPU host)
  python3 bench/native/sass_count.py --lion --legacy-cuobjdump /path/to/cuda-11.8/cuobjdump /tmp/lion.cubin

Without a GPU: nvcc 13 ships no cuobjdump here, but CUDA 11.8's (Debian bookworm non-free, package
nvidia-cuda-toolkit: `apt-get download` it and `dpkg-deb -x`) disassembles sm_80/sm_90 code once the ELF header
is restated in the pre-CUDA-12 layout (ABI version 7, architecture in the low byte of e_flags), which
--legacy-cuobjdump does on a copy. Instructions are counted from the 128-bit encodings, so the few opcodes that
11.8 prints without a mnemonic are counted too.

Static counts include per-row code that few threads run and paths that never run. They compare builds, not
absolute speed: session 3's kernel (commit 1cc01f9, compiled with its rounding mode fixed to the Weyl draws that
the bench ran, as today's kernels are specialised) has 204.8 static SASS instructions per element by this count;
ncu measured 157 executed per element and 44.2 ms per 7B step (bench/results/lion-step-h100.md). --lion scales by
that.
"""
import argparse
import collections
import re
import struct
import subprocess
import sys
import tempfile

ROWS = {4096: 4 * 4096 * 4096 + 2 * 11008 * 4096, 11008: 11008 * 4096}  # elements per 7B layer, by row length
CALIBRATION = (204.8, 157.0, 44.2)  # 1cc01f9: static per element (this count), ncu executed per element, ms


def disassemble(cubin, legacy):
    path = cubin
    if legacy:
        elf = bytearray(open(cubin, 'rb').read())
        flags = struct.unpack_from('<I', elf, 48)[0]
        sm = (flags >> 8) & 0xff                       # CUDA 12+: e_flags bits 8..15 hold the SM version
        elf[8] = 7                                     # EI_ABIVERSION of the pre-12 layout
        struct.pack_into('<I', elf, 48, sm | 0x500 | (sm << 16))  # SM, 64-bit addresses + unified textures, virtual SM
        tmp = tempfile.NamedTemporaryFile(suffix='.cubin', delete=False)
        tmp.write(elf)
        tmp.close()
        path = tmp.name
    return subprocess.run([legacy or 'cuobjdump', '-sass', path], check=True, capture_output=True, text=True).stdout


def kernels(sass):
    """name -> (instructions, Counter of mnemonics)."""
    out = {}
    for body in re.split(r'\t\tFunction : ', sass)[1:]:
        name = body.split('\n')[0].strip()
        words = re.findall(r'/\* 0x[0-9a-f]{16} \*/', body)
        ops = collections.Counter(m.split('.')[0] for m in
                                  re.findall(r'/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)', body))
        out[name] = (len(words) // 2 - ops['NOP'], ops)
    return out


def lion(ks):
    shapes = {}
    for name, (n, _) in ks.items():
        if 'lion_step_cuda' in name and 'rows' not in name and 'Lb0' not in name:  # stochastic rounding
            args = [int(x) for x in re.findall(r'Li(\d+)E', name)]
            shapes[tuple(args) if len(args) == 2 else (256, args[0])] = n  # before session 5: <R>, 256 threads
    total = sum(ROWS.values())
    mix = 0.0
    for cols, elements in ROWS.items():
        t, r = min((k for k in shapes if k[0] * k[1] * 16 >= cols), key=lambda k: (k[0] * k[1], k[0]))
        per = shapes[(t, r)] / (cols / t)
        mix += per * elements / total
        print(f'lion_step_cuda<{t},{r}> serves {cols:5d} columns: {per:6.1f} static SASS instructions per element')
    static, executed, ms = CALIBRATION
    print(f'LLaMA-7B mix: {mix:.1f} per element; scaled by 1cc01f9 (ncu): ~{mix * executed / static:.0f} executed, '
          f'~{mix / static * ms:.0f} ms per 7B step (goal 12)')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('cubin')
    p.add_argument('--legacy-cuobjdump', help="CUDA 11.8's cuobjdump, for cubins of CUDA 12 and later")
    p.add_argument('--lion', action='store_true', help='per-element figures of the fused Lion step')
    a = p.parse_args()
    ks = kernels(disassemble(a.cubin, a.legacy_cuobjdump))
    for name, (n, ops) in sorted(ks.items(), key=lambda kv: -kv[1][0]):
        print(f"{n:6d} instr  {ops['BRA']:4d} BRA  {ops['LDL'] + ops['STL']:3d} LDL/STL  "
              f"{ops['F2I'] + ops['I2F']:3d} F2I/I2F  {ops['HMMA'] + ops['IMMA']:3d} MMA  {name}")
    if a.lion:
        lion(ks)


if __name__ == '__main__':
    sys.exit(main())
