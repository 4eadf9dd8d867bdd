#!/usr/bin/env bash
# Static checks of the CUDA kernels that need no GPU (issue 14):
#   1. every kernels/*.cu compiled with the Makefile's NVCCFLAGS plus -Xptxas -v
#      (sm_80 and sm_90a, as CUDA_ARCHS says): per function the registers, static
#      shared memory, stack frame and spill stores/loads, written to
#      bench/results/ptxas.md and ptxas.json; any spill fails the run (listed).
#   2. the SASS of the kernels matching PATTERN (default modconv_v2) in the objects
#      of $BUILD/obj/kernels (when BUILD is given and built), else in the objects
#      step 1 just compiled with the same flags: the main loop must hold LDGSTS
#      (cp.async), LDSM (ldmatrix) and HMMA (mma.sync) and no integer division
#      (bench/sass_check.py states the loop and division rules), written to
#      bench/results/sass_check.md. BASELINE (default igemm_kernel_tc1, the v1
#      tensor-core kernel) is checked too and recorded as the reference that must
#      fail; it does not change the exit status. Before both, the checker's own
#      self-test (sass_check.py --selftest: a good loop must pass, one with a
#      runtime division must fail).
# cuobjdump and nvdisasm are not in every CUDA image; when missing from PATH and
# CUDA_HOME they are fetched once as the PyPI wheels nvidia-cuda-cuobjdump and
# nvidia-cuda-nvdisasm into bench/work/cudatools (git-ignored).
# The sources are the working tree's, or with REF=<commit> that commit's kernels/
# and engine/ (git archive into bench/work), so a result can name its commit while
# others edit the tree. A file that does not compile is listed and the rest go on.
# Usage: bench/check_kernels.sh [--no-ptxas] [--no-sass]
#   env: BUILD=build-x  REF=HEAD  PATTERN=regex  EXCLUDE=regex  BASELINE=regex  OUTDIR=bench/results
#        JOBS=2
# Exit: 0 clean, 1 a spill or a failing SASS check, 2 a tool or build problem.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2
DO_PTXAS=1 DO_SASS=1
for a in "$@"; do
    case $a in
        --no-ptxas) DO_PTXAS=0 ;;
        --no-sass) DO_SASS=0 ;;
        *) echo "usage: $0 [--no-ptxas] [--no-sass]" >&2; exit 2 ;;
    esac
done
PATTERN=${PATTERN:-modconv_v2}
# modconv_v2's VEC=false instantiations are its fallback for cin % 8 != 0
# (synchronous 16-bit loads, no cp.async by design; config-f never takes it):
# reported in a section of their own that does not change the exit status.
EXCLUDE=${EXCLUDE-', false>\('}
BASELINE=${BASELINE:-igemm_kernel_tc1}
OUTDIR=${OUTDIR:-bench/results}
JOBS=${JOBS:-$(nproc)}
WORK=bench/work/check_kernels
mkdir -p "$WORK/obj" "$OUTDIR"
log() { echo "[check_kernels] $*" >&2; }

# The Makefile's own values (no copy of them here that could drift).
mkvar() { make -s --no-print-directory --eval='fs-print-%: ; @echo $($*)' "fs-print-$1"; }
NVCC=$(mkvar NVCC)
[ -n "$NVCC" ] || { log "no nvcc"; exit 2; }
CUDA_HOME=$(mkvar CUDA_HOME)
NVCCFLAGS=$(mkvar NVCCFLAGS)
SRC=.
if [ -n "${REF:-}" ]; then
    SRC=$WORK/src
    rm -rf "$SRC" && mkdir -p "$SRC" && git archive "$REF" kernels engine | tar -x -C "$SRC" || exit 2
    GIT=$(git rev-parse --short "$REF")
    DIRTY=
else
    GIT=$(git rev-parse --short HEAD)
    DIRTY=$(git status --porcelain -- kernels engine | awk '{print $2}' | tr '\n' ' ')
fi
NVCC_VER=$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\), \(V[0-9.]*\).*/\1 (\2)/p')
status=0

# ---- 1. ptxas -v ---------------------------------------------------------------------
if [ "$DO_PTXAS" = 1 ]; then
    log "ptxas -v over kernels/*.cu ($JOBS at a time): $NVCCFLAGS"
    rm -f "$WORK"/obj/*.ptxas "$WORK"/obj/*.o
    O=$(cd "$WORK/obj" && pwd)
    # shellcheck disable=SC2086
    (cd "$SRC" && ls kernels/*.cu | xargs -P "$JOBS" -I{} sh -c \
        'f={}; b=$(basename "$f" .cu); '"$NVCC"' '"$NVCCFLAGS"' -Xptxas -v -c "$f" -o '"$O"'/$b.o \
         > '"$O"'/$b.ptxas 2>&1 || { echo "FAILED $f" >> '"$O"'/$b.ptxas; rm -f '"$O"'/$b.o; }')
    FAILED=$(grep -l '^FAILED' "$WORK"/obj/*.ptxas 2>/dev/null | xargs -r -n1 basename | sed 's/\.ptxas$/.cu/' | tr '\n' ' ')
    [ -z "$FAILED" ] || { log "did not compile: $FAILED"; status=2; }
    python3 - "$WORK/obj" "$OUTDIR" "$GIT" "$NVCC_VER" "$NVCCFLAGS -Xptxas -v" "$DIRTY" "$FAILED" <<'EOF'
import glob, json, os, re, subprocess, sys, time
objdir, outdir, git, nvcc, flags, dirty, failed = sys.argv[1:8]
rows = []
for path in sorted(glob.glob(os.path.join(objdir, '*.ptxas'))):
    src = 'kernels/' + os.path.basename(path)[:-6] + '.cu'
    cur = None
    for line in open(path):
        m = re.search(r"Compiling entry function '(\S+)' for '(\w+)'", line)
        if m:
            cur = {'file': src, 'mangled': m.group(1), 'arch': m.group(2), 'entry': True}
            rows.append(cur)
            continue
        m = re.search(r'Function properties for (\S+)', line)
        if m:
            if not (cur and cur['mangled'] == m.group(1) and 'stack_frame' not in cur):
                # a non-inlined device function (its arch: the last entry's)
                cur = {'file': src, 'mangled': m.group(1), 'entry': False,
                       'arch': rows[-1]['arch'] if rows else '?'}
                rows.append(cur)
            continue
        m = re.search(r'(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads', line)
        if m and cur:
            cur['stack_frame'], cur['spill_stores'], cur['spill_loads'] = map(int, m.groups())
            continue
        m = re.search(r'Used (\d+) registers', line)
        if m and cur:
            cur['registers'] = int(m.group(1))
            b = re.search(r'used (\d+) barriers', line)
            s = re.search(r'(\d+) bytes smem', line)
            c = re.search(r'(\d+) bytes cmem\[0\]', line)
            cur['barriers'] = int(b.group(1)) if b else 0
            cur['smem_static'] = int(s.group(1)) if s else 0
            cur['cmem0'] = int(c.group(1)) if c else None
names = sorted({r['mangled'] for r in rows})
try:
    dem = subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True, text=True).stdout.split('\n')
except OSError:
    dem = names
for r in rows:
    i = names.index(r['mangled'])
    r['kernel'] = dem[i] if i < len(dem) and dem[i] else r['mangled']
    for k in ('stack_frame', 'spill_stores', 'spill_loads', 'registers', 'barriers', 'smem_static'):
        r.setdefault(k, 0)
rows.sort(key=lambda r: (r['file'], r['kernel'], r['arch']))
spills = [r for r in rows if r['spill_stores'] or r['spill_loads']]
date = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
json.dump({'date': date, 'git': git, 'uncommitted_kernels': dirty.split(), 'nvcc': nvcc,
           'did_not_compile': failed.split(),
           'flags': flags, 'command': 'bench/check_kernels.sh', 'functions': rows,
           'spilling': [{'arch': r['arch'], 'kernel': r['kernel']} for r in spills]},
          open(os.path.join(outdir, 'ptxas.json'), 'w'), indent=1)
with open(os.path.join(outdir, 'ptxas.md'), 'w') as f:
    f.write('# ptxas resource usage of kernels/*.cu\n\n')
    f.write('Generated by `bench/check_kernels.sh` on %s at commit %s%s, nvcc %s, flags `%s`.\n'
            'Registers per thread, static shared memory (dynamic shared memory is set at launch and\n'
            'not shown), stack frame and spill bytes as ptxas reports them; functions marked * are\n'
            'device functions ptxas kept out of line. Any spill fails the check.\n\n'
            % (date, git, ' (uncommitted: %s)' % dirty.strip() if dirty.strip() else '', nvcc, flags))
    archs = sorted({r['arch'] for r in rows})
    f.write('One row per function; a/b = the value for %s.\n\n' % ' / '.join(archs))
    f.write('| file | function | regs | smem B | stack B | spill st/ld B | barriers |\n')
    f.write('|---|---|---:|---:|---:|---:|---:|\n')
    groups = {}
    for r in rows:
        groups.setdefault((r['file'], r['kernel'], r['entry']), {})[r['arch']] = r
    def per(g, fn):
        v = [fn(g[a]) if a in g else '-' for a in archs]
        return v[0] if len(set(v)) == 1 else '/'.join(v)
    for (file, kernel, entry), g in groups.items():
        k = kernel if len(kernel) <= 80 else kernel[:kernel.find('(')] + '(...)'
        f.write('| %s | `%s`%s | %s | %s | %s | %s | %s |\n' % (
            file[8:], k, '' if entry else ' *', per(g, lambda r: str(r['registers'])),
            per(g, lambda r: str(r['smem_static'])), per(g, lambda r: str(r['stack_frame'])),
            per(g, lambda r: '%d/%d' % (r['spill_stores'], r['spill_loads'])),
            per(g, lambda r: str(r['barriers']))))
    if failed.strip():
        f.write('\nDid not compile (no rows above): %s.\n' % failed.strip())
    f.write('\n%d functions (%d entries), %d spilling%s.\n' % (
        len(rows), sum(r['entry'] for r in rows), len(spills),
        ': ' + ', '.join('%s (%s)' % (r['kernel'], r['arch']) for r in spills) if spills else ''))
for r in spills:
    print('SPILL %s %s: %d B stores, %d B loads' % (r['arch'], r['kernel'], r['spill_stores'], r['spill_loads']),
          file=sys.stderr)
print('ptxas: %d functions, %d spilling' % (len(rows), len(spills)), file=sys.stderr)
sys.exit(1 if spills else 0)
EOF
    rc=$?
    [ $rc = 0 ] || { log "spills (see $OUTDIR/ptxas.md)"; [ $status = 2 ] || status=1; }
fi

# ---- 2. SASS --------------------------------------------------------------------------
find_tool() { # name wheel
    local t
    t=$(command -v "$1" 2>/dev/null) && { echo "$t"; return; }
    [ -x "$CUDA_HOME/bin/$1" ] && { echo "$CUDA_HOME/bin/$1"; return; }
    t=$(ls bench/work/cudatools/nvidia/*/bin/"$1" 2>/dev/null | head -n 1)
    [ -n "$t" ] && { echo "$t"; return; }
    mkdir -p bench/work/cudatools
    local pip=pip3
    [ -x bench/work/venv/bin/pip ] && pip=bench/work/venv/bin/pip
    log "fetching $2 (wheel) into bench/work/cudatools"
    (cd bench/work/cudatools && $pip download -q --no-deps "$2" >&2 &&
        for w in "${2//-/_}"-*.whl; do python3 -m zipfile -e "$w" .; done) || return 1
    t=$(ls bench/work/cudatools/nvidia/*/bin/"$1" 2>/dev/null | head -n 1)
    [ -n "$t" ] && chmod +x "$t" && echo "$t"
}
if [ "$DO_SASS" = 1 ]; then
    CUOBJDUMP=$(find_tool cuobjdump nvidia-cuda-cuobjdump) || CUOBJDUMP=
    NVDISASM=$(find_tool nvdisasm nvidia-cuda-nvdisasm) || NVDISASM=
    if [ -z "$CUOBJDUMP" ]; then
        log "no cuobjdump"; exit 2
    fi
    if [ -n "${BUILD:-}" ] && ls "$BUILD"/obj/kernels/*.o >/dev/null 2>&1; then
        OBJS=$BUILD/obj/kernels
    else
        OBJS=$WORK/obj
        ls "$OBJS"/*.o >/dev/null 2>&1 || { log "no objects: run without --no-ptxas or give BUILD"; exit 2; }
    fi
    # one SASS dump per object, read by every check below
    rm -rf "$WORK/sass" && mkdir -p "$WORK/sass"
    for o in "$OBJS"/*.o; do
        "$CUOBJDUMP" -sass "$o" > "$WORK/sass/$(basename "$o" .o).sass" 2>/dev/null ||
            log "cuobjdump failed on $o"
    done
    SASS=("$WORK"/sass/*.sass)
    MD=$OUTDIR/sass_check.md
    TOOLVER=$("$CUOBJDUMP" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
    {
        echo "# SASS checks of the implicit-GEMM main loops"
        echo
        echo "Generated by \`$(echo "${BUILD:+BUILD=$BUILD }${REF:+REF=$REF }PATTERN='$PATTERN' EXCLUDE='$EXCLUDE' BASELINE='$BASELINE'") bench/check_kernels.sh\`"
        echo "on $(date -u +%Y-%m-%dT%H:%M:%SZ) at commit $GIT${DIRTY:+ (uncommitted: $DIRTY)}, objects in \`$OBJS\`"
        echo "(nvcc $NVCC_VER, flags \`$NVCCFLAGS\`), SASS from cuobjdump $TOOLVER (PyPI wheel)."
        echo
        echo "The rules (bench/sass_check.py): the main loop is the innermost backward-branch span"
        echo "that holds an HMMA; it must hold LDGSTS (cp.async), LDSM (ldmatrix) and HMMA (mma.sync),"
        echo "and no integer division: an I2F with .RP rounding whose result feeds a MUFU.RCP within"
        echo "8 instructions, followed by an IMAD.HI within 24 (the expansion of a 32-bit division by"
        echo "a runtime value), or a CALL into a subroutine that holds one. Counts are instructions"
        echo "in the loop body (static: every instruction between the loop's first and last address"
        echo "plus its out-of-line blocks, executed or not); addresses are those of the I2F.RP."
        echo
        echo "\"insns per MMA\" is the loop's instruction count over its MMA count. One SM sub-partition"
        echo "issues at most one instruction per clock, and at the dense fp16 peak an m16n8k16 HMMA keeps"
        echo "its tensor core busy for about 8 clocks on an A100 and 4 on an H100 (2048 multiply-adds"
        echo "against 256 and 512 per clock); all warps run the same loop, so a loop with more"
        echo "instructions per HMMA than that is issue-bound at about (clocks per HMMA) / (insns per"
        echo "MMA) of the peak, before any memory stall: an estimate, since not every instruction in the"
        echo "span runs every iteration."
        echo
    } > "$MD"
    log "SASS checker self-test"
    echo "### Self-test of the checker (a good loop and one with a runtime division, built-in)" >> "$MD"
    echo >> "$MD"
    NVCC=$NVCC CUDA_ARCHS=$(mkvar CUDA_ARCHS) python3 bench/sass_check.py --selftest \
        --cuobjdump "$CUOBJDUMP" --md "$MD" >/dev/null || { log "the checker's self-test failed"; status=2; }
    log "SASS check: $PATTERN"
    python3 bench/sass_check.py --cuobjdump "$CUOBJDUMP" ${NVDISASM:+--nvdisasm "$NVDISASM"} \
        --pattern "$PATTERN" ${EXCLUDE:+--exclude "$EXCLUDE"} \
        --title "The v2 kernels (\`$PATTERN\`${EXCLUDE:+ but not \`$EXCLUDE\`}): must pass" --md "$MD" \
        --json "$WORK/sass_check.json" "${SASS[@]}"
    rc=$?
    case $rc in
        0) ;;
        2) log "no kernel matches $PATTERN (not landed yet?)"; [ $status = 2 ] || status=1 ;;
        *) log "SASS check failed for $PATTERN"; [ $status = 2 ] || status=1 ;;
    esac
    if [ -n "$EXCLUDE" ]; then
        log "SASS check (informational): $PATTERN and $EXCLUDE"
        python3 bench/sass_check.py --cuobjdump "$CUOBJDUMP" ${NVDISASM:+--nvdisasm "$NVDISASM"} \
            --pattern "^(?=.*$PATTERN)(?=.*$EXCLUDE)" \
            --title "Fallback variants (\`$PATTERN\` and \`$EXCLUDE\`): informational" \
            --md "$MD" "${SASS[@]}" >/dev/null
        echo "These do not change the exit status." >> "$MD"
        echo >> "$MD"
    fi
    if [ -n "$BASELINE" ]; then
        log "SASS baseline: $BASELINE (expected to fail)"
        python3 bench/sass_check.py --cuobjdump "$CUOBJDUMP" ${NVDISASM:+--nvdisasm "$NVDISASM"} \
            --pattern "$BASELINE" --title "Baseline: the v1 tensor-core kernel (\`$BASELINE\`): expected to fail" \
            --md "$MD" "${SASS[@]}" >/dev/null
        brc=$?
        [ $brc = 1 ] || log "note: the baseline did not fail (rc $brc)"
        echo "Baseline exit status $brc (1 = the checker rejects v1, as it must)." >> "$MD"
    fi
fi
log "done, status $status"
exit $status
