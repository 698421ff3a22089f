#!/usr/bin/env python3
"""Rewrites CUDA sources into C++ for the emulator (tests/emu/README.md), mechanically:
  kernel<<<grid, block[, smem[, stream]]>>>(args)   ->  ::emu::launch(kernel, "kernel", ::emu::Config(grid, block, ...))(args)
  asm [volatile] ("ptx" : outs : ins)               ->  ::emu::ptx("ptx", outs..., ins...)   (operands in %0.. order)
  extern __shared__ T name[];                       ->  T* name = reinterpret_cast<T*>(::emu::dyn_smem());
  __shared__ T name[...];                           ->  static T name[...]; ::emu::poison_shared(&name, sizeof name);
Usage: transform.py SRC_DIR DST_DIR (every *.cu, *.cuh, *.h is copied, transformed)."""
import os
import re
import sys


def match_paren(s, i):
    """Index just past the bracket closing the one at s[i], skipping string and char literals."""
    open_c = s[i]
    close_c = {'(': ')', '<': '>', '[': ']', '{': '}'}[open_c]
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c in '"\'':
            j += 1
            while s[j] != c:
                j += 2 if s[j] == '\\' else 1
        elif c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError('unbalanced ' + open_c)


def split_top(s, sep):
    parts, depth, cur, j = [], 0, '', 0
    while j < len(s):
        c = s[j]
        if c in '"\'':
            k = j + 1
            while s[k] != c:
                k += 2 if s[k] == '\\' else 1
            cur += s[j:k + 1]
            j = k + 1
            continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += c
        j += 1
    parts.append(cur)
    return parts


def asm_stmts(s):
    out, pos = '', 0
    for m in re.finditer(r'\basm\s*(?:volatile\s*)?\(', s):
        if m.start() < pos:
            continue
        end = match_paren(s, m.end() - 1)
        body = s[m.end():end - 1]
        sections = split_top(body, ':')
        text = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', sections[0])).replace('\\n', ' ').replace('\\t', ' ').strip()
        operands = []
        for sec in sections[1:3]:
            for op in split_top(sec, ','):
                op = op.strip()
                if op:
                    mm = re.match(r'"[^"]*"\s*\((.*)\)\s*$', op, re.S)
                    operands.append(mm.group(1).strip())
        out += s[pos:m.start()] + '::emu::ptx("' + text.replace('"', '\\"') + '"' + ''.join(', ' + o for o in operands) + ')'
        pos = end
    return out + s[pos:]


def launches(s):
    out, pos = '', 0
    while True:
        i = s.find('<<<', pos)
        if i < 0:
            return out + s[pos:]
        # The kernel expression: an identifier (with ::) and optional template arguments, ending right before <<<.
        j = i
        while s[j - 1].isspace():
            j -= 1
        if s[j - 1] == '>':
            depth, k = 0, j - 1
            while True:
                if s[k] == '>':
                    depth += 1
                elif s[k] == '<':
                    depth -= 1
                    if depth == 0:
                        break
                k -= 1
            j = k
        while j > 0 and (s[j - 1].isalnum() or s[j - 1] in '_:'):
            j -= 1
        name = s[j:i].strip()
        close = s.find('>>>', i)
        cfg = s[i + 3:close]
        k = close + 3
        while s[k].isspace():
            k += 1
        assert s[k] == '(', 'launch without arguments at ' + name
        out += s[pos:j] + '::emu::launch(' + name + ', "' + name + '", ::emu::Config(' + cfg + '))'
        pos = k


def shared_decls(s):
    def ext(m):
        t = re.sub(r'__align__\s*\(\s*\d+\s*\)', '', m.group(1)).strip()
        return f'{t}* {m.group(2)} = reinterpret_cast<{t}*>(::emu::dyn_smem());'
    s = re.sub(r'extern\s+__shared__\s+([^;]*?)\s*(\w+)\s*\[\s*\]\s*;', ext, s)

    def st(m):
        t, name, dims = m.group(1), m.group(2), m.group(3)
        al = re.search(r'__align__\s*\(\s*(\d+)\s*\)', t)
        t = re.sub(r'__align__\s*\(\s*\d+\s*\)', '', t).strip()
        pre = f'alignas({al.group(1)}) ' if al else ''
        return f'{pre}static {t} {name}{dims}; ::emu::poison_shared(&{name}, sizeof {name});'
    return re.sub(r'__shared__\s+([^;]*?)\s*(\w+)\s*((?:\[[^\]]*\])*)\s*;', st, s)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for f in sorted(os.listdir(src)):
        if not f.endswith(('.cu', '.cuh', '.h')):
            continue
        s = open(os.path.join(src, f)).read()
        s = shared_decls(launches(asm_stmts(s)))
        open(os.path.join(dst, f), 'w').write(f'#line 1 "{os.path.join(src, f)}"\n' + s)


if __name__ == '__main__':
    main()
