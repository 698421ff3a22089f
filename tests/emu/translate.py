#!/usr/bin/env python3
"""Turns native/ into a tree g++ can compile for the CUDA emulator (cuda_emu.h): a copy in which

  - every `kernel<<<grid, block[, smem[, stream]]>>>(args)` launch becomes `emu::launch("kernel", kernel, {...}, args)`,
  - every `extern __shared__ T name[];` becomes a pointer to the block's emulated dynamic shared memory,
  - the inline-PTX helpers of cp_async.cuh and mma_tf32.cuh get bodies that call emu_ptx.h,
  - the .cu files are renamed .cpp.

Only these mechanical rewrites: the kernels' own source is what runs.

  translate.py NATIVE_DIR OUT_DIR
"""
import pathlib
import re
import shutil
import sys

# Inline-PTX helper -> the emulator call that replaces its body (parameter names as in native/cuda).
PTX_BODIES = {
    'cp_async.cuh': {
        'cp_async4': 'emu::cp_async(smem, gmem, 4, src_bytes);',
        'cp_async16_cg': 'emu::cp_async(smem, gmem, 16, src_bytes);',
        'cp_async_commit_group': '',
        'cp_async_wait_group': '',
        'ldmatrix_x4': 'emu::fail("ldmatrix is not emulated");',
    },
    'mma_tf32.cuh': {
        'mma_m16n8k8_tf32': 'emu::mma_m16n8k8_tf32(d, a, b);',
    },
}


def matching(text, i, open_ch, close_ch, step):
    """Index of the bracket matching text[i], scanning by step (+1 forward, -1 backward)."""
    depth = 0
    while True:
        if text[i] == open_ch:
            depth += 1
        elif text[i] == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += step


def split_top(s):
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch in '(<[{':
            depth += 1
        elif ch in ')>]}':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur.strip())
            cur = ''
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def launches(text):
    out = ''
    while True:
        at = text.find('<<<')
        if at < 0:
            return out + text
        end = text.index('>>>', at)
        # the callable: an identifier (with :: and template arguments) just before <<<
        j = at - 1
        while text[j].isspace():
            j -= 1
        if text[j] == '>':
            j = matching(text, j, '>', '<', -1) - 1
        k = j
        while k >= 0 and (text[k].isalnum() or text[k] in '_:'):
            k -= 1
        callee = text[k + 1:at].strip()
        cfg = split_top(text[at + 3:end])
        paren = text.index('(', end)
        close = matching(text, paren, '(', ')', 1)
        args = text[paren + 1:close].strip()
        grid, block = cfg[0], cfg[1]
        smem = cfg[2] if len(cfg) > 2 else '0'
        name = re.sub(r'\s+', ' ', callee)
        call = f'emu::launch("{name}", {callee}, emu::Launch{{dim3({grid}), dim3({block}), static_cast<size_t>({smem})}}'
        out += text[:k + 1] + call + (', ' + args if args else '') + ')'
        text = text[close + 1:]


def shared_arrays(text):
    return re.sub(r'extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+)\s+(\w+)\s*\[\s*\]\s*;',
                  r'\1* \2 = reinterpret_cast<\1*>(emu::dynamic_smem());', text)


def ptx_bodies(text, bodies):
    for name, body in bodies.items():
        m = re.search(r'void\s+' + name + r'\s*\(', text)
        if not m:
            continue
        brace = text.index('{', matching(text, m.end() - 1, '(', ')', 1))
        close = matching(text, brace, '{', '}', 1)
        text = text[:brace + 1] + '\n    ' + body + '\n' + text[close:]
    return '#include "emu_ptx.h"\n' + text


def main():
    native, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(native, out / 'native')
    for f in sorted((out / 'native' / 'cuda').iterdir()):
        text = f.read_text()
        if f.name in PTX_BODIES:
            text = ptx_bodies(text, PTX_BODIES[f.name])
        text = shared_arrays(launches(text))
        if f.suffix == '.cu':
            f.unlink()
            f = f.with_suffix('.cpp')
        f.write_text(text)


if __name__ == '__main__':
    main()
