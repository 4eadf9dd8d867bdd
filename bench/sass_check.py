#!/usr/bin/env python3
"""Checks the SASS main loop of the implicit-GEMM kernels (bench/check_kernels.sh runs it).

For every kernel whose name (mangled or demangled) matches --pattern (and not
--exclude) and that holds an MMA instruction at all (helper kernels of the same
file are listed as not checked) in the given
objects (host objects with an embedded fat binary, dumped with cuobjdump -sass;
or .cubin files, dumped with nvdisasm), for every architecture in them:
  1. the loops are found from the backward branches: a BRA at address b whose
     target t <= b closes the span [t, b] (several back edges to one header make
     one loop, to the last of them). Code the compiler moved out of line (a
     forward branch from inside the span to past its end, whose block branches
     back into the span) is counted as part of the loop. Indirect branches (BRX)
     have no static target and close no span; BRA to itself (the idle loop after
     EXIT) is not a loop.
  2. the main loop is the innermost span that contains an HMMA (or another --mma
     opcode), i.e. the K loop around the tensor-core steps; when the compiler
     splits it into sibling loops (an unrolled loop and its remainder), each
     innermost HMMA span is a main loop and is checked (one table row each).
  3. every main loop must contain every --require opcode (default LDGSTS = cp.async,
     LDSM = ldmatrix, HMMA = mma.sync) and no integer division.
Integer division rule: ptxas expands a 32-bit integer division or remainder by a
value not known at compile time into a reciprocal-based sequence that starts with
a conversion of the divisor to float rounded toward +inf (I2F...RP; I2F.U32.RP on
sm_80, I2F.RP on sm_90), then MUFU.RCP of that register and IMAD.HI for the
quotient estimate. We flag an I2F whose modifiers include RP when a MUFU.RCP reading
its destination follows within 8 instructions and an IMAD.HI within 24. A 64-bit
division is a CALL to a subroutine; a CALL inside the loop is flagged as division
when the called code (to its RET) contains that sequence, else reported as a call
(a CALL.REL.NOINC whose target reaches EXIT before any RET is ptxas's jump out of
the loop, not a call).
Division by a constant (IMAD.HI by a magic number, shifts) is not flagged: it is a
multiply, which is the cheap form.
Standard library only. Exit status: 0 all matched kernels pass, 1 a kernel fails,
2 no kernel matches the pattern or a tool is missing.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

INSN = re.compile(r'^\s*/\*([0-9a-fA-F]{4,})\*/\s+(.*?)\s*;')
LABEL = re.compile(r'^\s*(\.L_\w+):')
FUNC = re.compile(r'Function\s*:\s*(\S+)')
NVDISASM_FUNC = re.compile(r'^\s*\.text\.(\S+):')
ARCH = re.compile(r'(?:arch\s*=|^\s*\.target)\s*(sm_\w+)')  # cuobjdump / nvdisasm
PRED = re.compile(r'^(@!?U?P[T0-9]+\s+)?(\S+)\s*(.*)$')
REG = re.compile(r'\bR(\d+)\b')


def demangle(names):
    """Demangled names through c++filt when present (else the names as they are)."""
    cxxfilt = shutil.which('c++filt')
    if not cxxfilt or not names:
        return {n: n for n in names}
    out = subprocess.run([cxxfilt], input='\n'.join(names), capture_output=True, text=True).stdout
    dem = out.split('\n')
    return {n: (dem[i] if i < len(dem) and dem[i] else n) for i, n in enumerate(names)}


class Insn:
    __slots__ = ('addr', 'pred', 'op', 'args', 'text', 'target')

    def __init__(self, addr, text):
        self.addr = addr
        self.text = text
        m = PRED.match(text)
        self.pred = (m.group(1) or '').strip()
        self.op = m.group(2)
        self.args = m.group(3)
        self.target = None
        base = self.op.split('.')[0]
        if base in ('BRA', 'CALL', 'JMP') or self.op.startswith('CALL'):
            lab = re.search(r'`\((\.L_\w+)\)', self.args)
            hexes = re.findall(r'0x[0-9a-fA-F]+', self.args)
            if lab:
                self.target = ('label', lab.group(1))
            elif hexes:
                self.target = int(hexes[-1], 16)

    def base(self):
        return self.op.split('.')[0]


def parse_dump(text):
    """{(arch, function): [Insn]} from cuobjdump -sass or nvdisasm output."""
    funcs, labels = {}, {}
    arch = '?'
    cur = None
    pending = []
    for line in text.splitlines():
        m = ARCH.search(line)
        if m and 'Function' not in line:
            arch = m.group(1)
            continue
        m = FUNC.search(line) or NVDISASM_FUNC.match(line)
        if m:
            key = (arch, m.group(1))
            cur = funcs.setdefault(key, [])
            labels[key] = {}
            pending = []
            continue
        if cur is None:
            continue
        m = LABEL.match(line)
        if m:
            pending.append(m.group(1))
            continue
        m = INSN.match(line)
        if m:
            ins = Insn(int(m.group(1), 16), m.group(2))
            for lab in pending:
                labels[key][lab] = ins.addr
            pending = []
            cur.append(ins)
    # nvdisasm names branch targets by label: resolve them once all are known
    for key, insns in funcs.items():
        for ins in insns:
            if isinstance(ins.target, tuple):
                ins.target = labels[key].get(ins.target[1])
    return funcs


def loops(insns):
    """[(header, end)] address spans closed by backward branches (one per header)."""
    last = {}
    for ins in insns:
        if ins.base() == 'BRA' and ins.target is not None and ins.target < ins.addr:
            last[ins.target] = max(last.get(ins.target, ins.addr), ins.addr)
    return sorted(last.items())


def body(insns, span):
    """The instructions of loop span [h, e] plus its out-of-line blocks."""
    h, e = span
    inside = [i for i in insns if h <= i.addr <= e]
    extra = []
    for ins in inside:
        f = ins.target
        if ins.base() != 'BRA' or f is None or f <= e:
            continue
        # a block at f past the loop end that branches back into [h, e]
        for j in insns:
            if j.addr < f:
                continue
            if j.base() == 'BRA' and j.target is not None and h <= j.target <= e and not j.pred:
                extra.extend(k for k in insns if f <= k.addr <= j.addr)
                break
            if j.base() in ('EXIT', 'RET') and not j.pred:
                break
            if j.base() == 'BRA' and not j.pred:
                break
    seen = set()
    out = []
    for ins in sorted(inside + extra, key=lambda i: i.addr):
        if ins.addr not in seen:
            seen.add(ins.addr)
            out.append(ins)
    return out


def divisions(seq):
    """Addresses where the integer-division sequence starts (rule in the module doc)."""
    hits = []
    for k, ins in enumerate(seq):
        if ins.base() != 'I2F' or 'RP' not in ins.op.split('.')[1:]:
            continue
        regs = REG.findall(ins.args)
        if not regs:
            continue
        dst = 'R' + regs[0]
        rcp = next((j for j in range(k + 1, min(k + 9, len(seq)))
                    if seq[j].op.startswith('MUFU.RCP') and
                    re.search(r'\b%s\b' % dst, seq[j].args.split(',', 1)[-1])), None)
        if rcp is None:
            continue
        if any(seq[j].op.startswith('IMAD.HI') for j in range(rcp + 1, min(rcp + 25, len(seq)))):
            hits.append(ins.addr)
    return hits


def subroutine(insns, addr):
    """The instructions from addr to the first RET; None when an EXIT comes first:
    ptxas also uses a predicated CALL.REL.NOINC as the jump out of a loop (into the
    epilogue, which ends in EXIT), and that is no call."""
    out = []
    for ins in insns:
        if ins.addr < addr:
            continue
        out.append(ins)
        if ins.base() == 'RET':
            return out
        if ins.base() == 'EXIT' and not ins.pred:
            return None
    return None


def check_loop(insns, span, b, require, mma):
    """The verdict on one main-loop candidate (span, its body b)."""
    res = {'start': '0x%x' % span[0], 'end': '0x%x' % span[1], 'insns': len(b), 'counts': {},
           'mma': sum(1 for i in b if i.base() in mma),
           'divisions': ['0x%x' % a for a in divisions(b)], 'calls': [], 'why': []}
    for op in require:
        res['counts'][op] = sum(1 for i in b if i.base() == op)
    for i in b:
        if i.base() == 'CALL' and i.target is not None:
            sub = subroutine(insns, i.target)
            if sub is None:
                continue
            if divisions(sub):
                res['divisions'].append('0x%x (call to 0x%x)' % (i.addr, i.target))
            else:
                res['calls'].append('0x%x' % i.addr)
    missing = [op for op in require if res['counts'][op] == 0]
    if missing:
        res['why'].append('lacks ' + ', '.join(missing))
    if res['divisions']:
        res['why'].append('integer division at ' + ', '.join(res['divisions']))
    res['pass'] = not res['why']
    return res


def check(insns, require, mma):
    """Every innermost loop that holds an MMA is a main loop (the compiler may split
    the K loop into an unrolled loop and a remainder loop, which are siblings);
    each must pass."""
    spans = loops(insns)
    res = {'loops': len(spans), 'main_loops': [], 'pass': False, 'why': []}
    cands = []
    for span in spans:
        b = body(insns, span)
        if any(i.base() in mma for i in b):
            cands.append((span, b))
    inner = [(sp, b) for sp, b in cands
             if not any(o != sp and sp[0] <= o[0] and o[1] <= sp[1] for o, _ in cands)]
    if not inner:
        res['why'].append('no loop contains %s' % '/'.join(sorted(mma)))
        return res
    for sp, b in inner:
        res['main_loops'].append(check_loop(insns, sp, b, require, mma))
    for ml in res['main_loops']:
        res['why'] += ['loop %s-%s %s' % (ml['start'], ml['end'], w) for w in ml['why']]
    res['pass'] = not res['why']
    return res


# --selftest: a known-good main loop (3-stage cp.async pipeline into ldmatrix and
# mma.sync, indices by constant modulo only) and the same loop with one division by
# a runtime value per step. The first must pass and the second fail, on every arch,
# or the checker itself is wrong.
SELFTEST_CU = r'''#include <cuda_fp16.h>
#include <stdint.h>
/* A 3-stage cp.async pipeline feeding ldmatrix + mma.sync; DIV adds a runtime division per step. */
template <int DIV>
__global__ void selftest_mainloop(const __half *__restrict__ a, float *__restrict__ c, int nk, int q)
{
    __shared__ __align__(128) __half s[3][16 * 16];
    const int lane = threadIdx.x;
    float acc[4] = {0, 0, 0, 0};
    auto issue = [&](int k) {
        int off = k * 256 + lane * 8;
        if (DIV)
            off += (k * 7 + lane) / q; /* the integer division the checker must find */
        uint32_t d = (uint32_t)__cvta_generic_to_shared(&s[k % 3][lane * 8]);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(a + off));
        asm volatile("cp.async.commit_group;\n" ::);
    };
    issue(0);
    issue(1);
    for (int k = 0; k < nk; k++) {
        if (k + 2 < nk)
            issue(k + 2);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncwarp();
        uint32_t r0, r1, r2, r3, b0, b1;
        uint32_t p = (uint32_t)__cvta_generic_to_shared(&s[k % 3][(lane % 16) * 16 + (lane / 16) * 8]);
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(p));
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                     : "=r"(b0), "=r"(b1) : "r"(p));
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                     : "r"(r0), "r"(r1), "r"(r2), "r"(r3), "r"(b0), "r"(b1));
        __syncwarp();
    }
    for (int i = 0; i < 4; i++)
        c[lane * 4 + i] = acc[i];
}
template __global__ void selftest_mainloop<0>(const __half *, float *, int, int);
template __global__ void selftest_mainloop<1>(const __half *, float *, int, int);
'''


def selftest(a):
    import tempfile
    nvcc = os.environ.get('NVCC') or shutil.which('nvcc') or '/usr/local/cuda/bin/nvcc'
    arch = os.environ.get('CUDA_ARCHS', '-gencode arch=compute_80,code=sm_80 '
                          '-gencode arch=compute_90a,code=sm_90a').split()
    with tempfile.TemporaryDirectory() as d:
        cu, obj = os.path.join(d, 'selftest.cu'), os.path.join(d, 'selftest.o')
        open(cu, 'w').write(SELFTEST_CU)
        p = subprocess.run([nvcc, '-O3', '-std=c++20'] + arch + ['-c', cu, '-o', obj],
                           capture_output=True, text=True)
        if p.returncode:
            sys.exit('sass_check: selftest compile failed: ' + p.stderr)
        funcs = parse_dump(dump(obj, a.cuobjdump, a.nvdisasm))
    ok = bool(funcs)
    lines = ['| arch | self-test kernel | expected | got |', '|---|---|---|---|']
    for (arch_, fn), insns in sorted(funcs.items()):
        r = check(insns, ['LDGSTS', 'LDSM', 'HMMA'], {'HMMA'})
        want = 'ILi0E' in fn
        ok &= r['pass'] == want
        lines.append('| %s | %s | %s | %s |' % (arch_, 'no division' if want else 'runtime division',
                     'PASS' if want else 'FAIL', 'PASS' if r['pass'] else 'FAIL: ' + '; '.join(r['why'])))
    lines += ['', 'Self-test: %s.' % ('the checker passes the good loop and rejects the division'
                                     if ok else 'WRONG VERDICT: the checker is broken'), '']
    return ok, '\n'.join(lines)


def dump(path, cuobjdump, nvdisasm):
    if path.endswith('.cubin'):
        cmd = [nvdisasm, '-c', path]
    elif path.endswith('.sass') or path.endswith('.txt'):
        return open(path).read()
    else:
        cmd = [cuobjdump, '-sass', path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit('sass_check: %s failed: %s' % (' '.join(cmd), p.stderr.strip()))
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--selftest', action='store_true',
                    help='compile the built-in good/bad loops with nvcc and check the verdicts')
    ap.add_argument('files', nargs='*', help='.o (fat binary), .cubin or saved .sass dumps')
    ap.add_argument('--pattern', default='modconv_v2', help='regex on the kernel name (default modconv_v2)')
    ap.add_argument('--exclude', help='regex on the kernel name: matching kernels are left out')
    ap.add_argument('--require', default='LDGSTS,LDSM,HMMA', help='opcodes the main loop must hold')
    ap.add_argument('--mma', default='HMMA,HGMMA,IMMA', help='opcodes that mark the main loop')
    ap.add_argument('--cuobjdump', default=os.environ.get('CUOBJDUMP', 'cuobjdump'))
    ap.add_argument('--nvdisasm', default=os.environ.get('NVDISASM', 'nvdisasm'))
    ap.add_argument('--md', help='append a markdown table here')
    ap.add_argument('--json', help='write the results as JSON here')
    ap.add_argument('--title', default='', help='heading of the markdown section')
    a = ap.parse_args()
    if a.selftest:
        ok, text = selftest(a)
        print(text)
        if a.md:
            with open(a.md, 'a') as fh:
                fh.write(text + '\n')
        return 0 if ok else 1
    if not a.files:
        ap.error('no files')
    require = [s for s in a.require.split(',') if s]
    mma = set(s for s in a.mma.split(',') if s)
    pat = re.compile(a.pattern)
    rows, skipped = [], []
    for f in a.files:
        funcs = parse_dump(dump(f, a.cuobjdump, a.nvdisasm))
        names = demangle(sorted({fn for _, fn in funcs}))
        for (arch, fn), insns in sorted(funcs.items()):
            if not (pat.search(fn) or pat.search(names[fn])):
                continue
            if a.exclude and (re.search(a.exclude, fn) or re.search(a.exclude, names[fn])):
                continue
            if not any(i.base() in mma for i in insns):
                skipped.append('%s `%s`' % (arch, names[fn]))
                continue
            r = check(insns, require, mma)
            r.update(file=f, arch=arch, kernel=names[fn], mangled=fn)
            rows.append(r)
    lines = []
    if a.title:
        lines += ['### ' + a.title, '']
    if not rows:
        where = ', '.join(a.files) if len(a.files) < 4 else '%d files in %s' % (
            len(a.files), os.path.commonpath(a.files))
        lines += ['No kernel matches `%s` in %s.' % (a.pattern, where), '']
    else:
        lines += ['| arch | kernel | loops | main loop(s) (insns) | %s | insns per MMA | int div in loop | verdict |' %
                  ' | '.join(require), '|' + '---|' * (7 + len(require))]
        for r in rows:
            mls = r['main_loops'] or [None]
            for k, ml in enumerate(mls):
                span = '%s-%s (%d)' % (ml['start'], ml['end'], ml['insns']) if ml else '-'
                cnt = ' | '.join(str(ml['counts'].get(op, '-')) if ml else '-' for op in require)
                div = (', '.join(ml['divisions']) or 'none') if ml else '-'
                per = '%.1f' % (ml['insns'] / ml['mma']) if ml and ml['mma'] else '-'
                if ml:
                    verdict = 'PASS' if ml['pass'] else 'FAIL: ' + '; '.join(ml['why'])
                else:
                    verdict = 'FAIL: ' + '; '.join(r['why'])
                lines.append('| %s | `%s` | %s | %s | %s | %s | %s | %s |' %
                             (r['arch'], r['kernel'], r['loops'] if k == 0 else '', span, cnt, per, div,
                              verdict))
        lines.append('')
    if skipped:
        lines += ['Matched but not checked (no MMA instruction anywhere, so no main loop): ' +
                  ', '.join(skipped) + '.', '']
    text = '\n'.join(lines)
    print(text)
    if a.md:
        with open(a.md, 'a') as fh:
            fh.write(text + '\n')
    if a.json:
        with open(a.json, 'w') as fh:
            json.dump({'pattern': a.pattern, 'require': require, 'kernels': rows}, fh, indent=1)
    if not rows:
        return 2
    return 0 if all(r['pass'] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
