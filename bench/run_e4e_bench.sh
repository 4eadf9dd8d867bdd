#!/usr/bin/env bash
# e4e encoder benchmark on the CPU: facesynth's engine (build/bench/bench_e4e) against the official
# omertov/encoder4editing Encoder4Editing (bench/official_e4e_cpu.py, PyTorch on the CPU), same random
# full-size checkpoint (IR-SE-50 full width, 256x256 input, 18 styles of 512), same inputs, same thread
# count, one after the other in this one run, plus the machine's measured FMA peak:
#   1. make bench (bench_e4e, bench_fma_peak), in $BUILD
#   2. bench/work/e4e_full.pt and bench/work/e4e_x.npy, made once by official_e4e_cpu.py --make
#      (torch's default initialisation, BatchNorm statistics calibrated on one random batch)
#   3. build/bench/bench_fma_peak: the float32 FMA peak with THREADS threads (AVX2 and AVX-512)
#   4. per batch: ours (the .pt converted in memory, W warm-ups + R timed batches), then the official
#      encoder (W + R); both save the codes of their batch, which are compared (relative L2), so the two
#      runs are known to compute the same function
#   5. writes bench/results/e4e_cpu.md and bench/results/e4e_cpu.json
#
# Usage: bench/run_e4e_bench.sh
# Environment (defaults in brackets):
#   PYTHON [bench/work/venv/bin/python]: a Python with torch and numpy (e.g. a venv made with
#          `python3 -m venv bench/work/venv && bench/work/venv/bin/pip install torch numpy`)
#   FACESYNTH_E4E [bench/third_party/encoder4editing]: the official code (git-ignored)
#   BATCHES [1 4]   REPS [3]   WARMUP [1]   THREADS [2]   RESULTS [bench/results]
#   BUILD [build]: the build directory (make BUILD=...)
#   NICE [-10]: run the whole benchmark in a session of its own whose scheduler autogroup gets nice NICE
#          (as bench/run_cpu_generator_bench.sh does), so that other sessions' work on a shared machine
#          takes less of its CPU; needs root for < 0; 0 = leave it alone. Each side reports the CPU
#          seconds it got per wall second (THREADS = all of its threads busy).
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.." || exit 1
NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ -z "${FS_BENCH_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_BENCH_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
PYTHON=${PYTHON:-bench/work/venv/bin/python}
BATCHES=${BATCHES:-"1 4"}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-2}
RESULTS=${RESULTS:-bench/results}
BUILD=${BUILD:-build}
WORK=bench/work
CKPT=$WORK/e4e_full.pt
X=$WORK/e4e_x.npy
TMP=$(mktemp -d /tmp/e4e_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
log() { echo "[e4e_bench] $*" >&2; }
if [ "$NICE" != 0 ]; then
    if ! { [ -w /proc/self/autogroup ] && echo "$NICE" >/proc/self/autogroup 2>/dev/null; }; then
        log "cannot set the autogroup nice to $NICE; running at the default priority"; NICE=0
    fi
fi
"$PYTHON" -c 'import torch, numpy' 2>/dev/null || { log "$PYTHON has no torch/numpy (see PYTHON above)"; exit 1; }
export B_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export B_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
export B_BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s%s %s%%", (NR>1?", ":""), $2, $1}')

log "build: make -j2 BUILD=$BUILD bench"
make -j2 BUILD="$BUILD" bench >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log" >&2; log "build failed"; exit 1; }
mkdir -p "$RESULTS" "$WORK"
if [ ! -f "$CKPT" ] || [ ! -f "$X" ]; then
    log "making $CKPT and $X"
    "$PYTHON" bench/official_e4e_cpu.py --make "$CKPT" --x "$X" >&2 || exit 1
fi
: >"$TMP/commands.txt"
peak="$BUILD/bench/bench_fma_peak --threads $THREADS"
echo "$peak" >>"$TMP/commands.txt"
log "peak: $peak"
$peak | tail -n 1 >"$TMP/peak.json" || exit 1
: >"$TMP/runs.jsonl"
STATUS=ok
for N in $BATCHES; do
    ours="$BUILD/bench/bench_e4e --network $CKPT --x $X --batch $N --reps $REPS --warmup $WARMUP --threads $THREADS"
    offi="$PYTHON bench/official_e4e_cpu.py --time $CKPT --x $X --batch $N --reps $REPS --warmup $WARMUP --threads $THREADS"
    echo "$ours" >>"$TMP/commands.txt"
    echo "$offi" >>"$TMP/commands.txt"
    log "ours:     $ours"
    $ours --label "b$N" --save-codes "$TMP/ours.npy" >"$TMP/ours.out" 2>&1 && tail -n 1 "$TMP/ours.out" >"$TMP/ours.json" ||
        { cat "$TMP/ours.out" >&2; STATUS="failed (b$N, ours)"; echo '{}' >"$TMP/ours.json"; }
    log "official: $offi"
    $offi --save-codes "$TMP/off.npy" >"$TMP/off.out" 2>&1 && tail -n 1 "$TMP/off.out" >"$TMP/off.json" ||
        { cat "$TMP/off.out" >&2; STATUS="failed (b$N, official)"; echo '{}' >"$TMP/off.json"; }
    "$PYTHON" - "$TMP" "$N" >>"$TMP/runs.jsonl" <<'PYEOF'
import json, os, sys
import numpy as np
tmp, n = sys.argv[1], int(sys.argv[2])
ours, off = (json.load(open(os.path.join(tmp, f))) for f in ('ours.json', 'off.json'))
cmp = None
if os.path.exists(os.path.join(tmp, 'ours.npy')) and os.path.exists(os.path.join(tmp, 'off.npy')):
    a = np.load(os.path.join(tmp, 'ours.npy')).astype(np.float64)
    b = np.load(os.path.join(tmp, 'off.npy')).astype(np.float64)
    cmp = {'rel_l2': float(np.linalg.norm(a - b) / np.linalg.norm(b)), 'max_abs': float(np.abs(a - b).max()),
           'max_abs_ref': float(np.abs(b).max())}
    for f in ('ours.npy', 'off.npy'):
        os.remove(os.path.join(tmp, f))
print(json.dumps({'batch': n, 'ours': ours, 'official': off, 'codes_diff': cmp}))
PYEOF
    log "  $(tail -n 1 "$TMP/runs.jsonl" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print("ours %.3f img/s, official %.3f img/s, codes rel L2 %s" % (d["ours"].get("img_per_s", 0), d["official"].get("img_per_s", 0), d["codes_diff"] and "%.2e" % d["codes_diff"]["rel_l2"]))')"
done
pcmd="$PYTHON bench/official_e4e_cpu.py --time $CKPT --x $X --batch 1 --reps 1 --warmup 1 --threads $THREADS --profile"
echo "$pcmd" >>"$TMP/commands.txt"
log "profile, official: $pcmd"
$pcmd 2>/dev/null | tail -n 1 >"$TMP/prof.json" || echo '{}' >"$TMP/prof.json"

export B_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg) B_NICE=$NICE B_STATUS=$STATUS B_TMP=$TMP B_RESULTS=$RESULTS
export B_REPS=$REPS B_WARMUP=$WARMUP B_THREADS=$THREADS
export B_CPU="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), family $(lscpu | sed -n 's/^CPU family:[[:space:]]*//p' | head -1) model $(lscpu | sed -n 's/^Model:[[:space:]]*//p' | head -1)"
export B_FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'avx2\|fma\|avx512f' | sort -u | paste -sd ' ')
export B_NPROC=$(nproc) B_MEM=$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)
export B_CC="$(${CC:-cc} --version | head -1)" B_GIT=$(git rev-parse --short HEAD 2>/dev/null)
# files of the engine that differed from that commit when the run was built (a shared working tree)
export B_DIRTY=$(git status --porcelain --untracked-files=no -- engine kernels weights_tools Makefile 2>/dev/null | awk '{print $2}' | paste -sd ' ')
export B_CFLAGS="$(make -s --no-print-directory --eval 'fs-print-cflags: ; @echo $(CFLAGS)' fs-print-cflags 2>/dev/null)"
"$PYTHON" - <<'PYEOF'
import json, os
E = os.environ
tmp = E['B_TMP']
runs = [json.loads(l) for l in open(os.path.join(tmp, 'runs.jsonl'))]
peak = json.load(open(os.path.join(tmp, 'peak.json')))
prof = json.load(open(os.path.join(tmp, 'prof.json'))) if os.path.getsize(os.path.join(tmp, 'prof.json')) else {}
cmds = open(os.path.join(tmp, 'commands.txt')).read().strip().splitlines()
best_peak = max(peak.get('avx2_gflops', 0), peak.get('avx512_gflops', 0))
doc = {'date': E['B_DATE'], 'git': E['B_GIT'], 'cpu': E['B_CPU'], 'flags': E['B_FLAGS'], 'nproc': E['B_NPROC'],
       'mem_gib': E['B_MEM'], 'load_start': E['B_LOAD_START'], 'load_end': E['B_LOAD_END'],
       'busy_start': E['B_BUSY_START'], 'nice': E['B_NICE'], 'status': E['B_STATUS'], 'cc': E['B_CC'],
       'cflags': E['B_CFLAGS'], 'dirty': E['B_DIRTY'], 'peak': peak, 'runs': runs, 'official_profile': prof.get('profile'), 'commands': cmds}
json.dump(doc, open(os.path.join(E['B_RESULTS'], 'e4e_cpu.json'), 'w'), indent=1)
L = []
L.append('# e4e encoder on the CPU: facesynth vs the official encoder4editing code\n')
L.append('- Date: %s, git %s%s; status: %s' % (doc['date'], doc['git'], ' with uncommitted changes to ' + doc['dirty'] if doc['dirty'] else '', doc['status']))
L.append('- Machine: %d x %s (%s), %s GiB RAM; load average at start %s, at end %s; busiest processes at start: %s'
         % (int(doc['nproc']), doc['cpu'], doc['flags'], doc['mem_gib'], doc['load_start'], doc['load_end'], doc['busy_start']))
L.append('- Scheduler: whole run in a session of its own with autogroup nice %s' % doc['nice'])
L.append('- Ours: `%s`, `CFLAGS = %s`, CPU backend, float32' % (doc['cc'], doc['cflags']))
o = runs[0]['official'] if runs else {}
L.append('- Official: omertov/encoder4editing 99ea505 (Encoder4Editing, unmodified), torch %s (CPU capability %s, oneDNN %s), '
         'float32, eval, no_grad; `encoder(x) + latent_avg`' % (o.get('torch'), o.get('cpu_capability'), o.get('mkldnn')))
L.append('- Network: random full-size e4e (IR-SE-50 64/128/256/512, SE 4/8/16/32, 18 styles of 512, 256x256 input), '
         'the same checkpoint and the same inputs on both sides; %s threads each' % E['B_THREADS'])
L.append('- Measured float32 FMA peak, %s threads: AVX2 %.1f GFLOP/s, AVX-512 %.1f GFLOP/s (build/bench/bench_fma_peak)\n'
         % (E['B_THREADS'], peak.get('avx2_gflops', 0), peak.get('avx512_gflops', 0)))
L.append('| batch | ours s/batch (min-max) | ours img/s | official s/batch (min-max) | official img/s | speedup | '
         'GFLOP/img | ours GFLOP/s (% of peak) | official GFLOP/s (% of peak) | CPU/wall ours, official | codes rel L2 |')
L.append('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for r in runs:
    a, b, d = r['ours'], r['official'], r['codes_diff']
    g = a.get('gflop_per_img', 0)
    og = g * b.get('img_per_s', 0)
    L.append('| %d | %.3f (%.3f-%.3f) | %.3f | %.3f (%.3f-%.3f) | %.3f | **%.2fx** | %.1f | %.1f (%.0f%%) | %.1f (%.0f%%) | %.2f, %.2f | %s |'
             % (r['batch'], a.get('median_s', 0), a.get('min_s', 0), a.get('max_s', 0), a.get('img_per_s', 0),
                b.get('median_s', 0), b.get('min_s', 0), b.get('max_s', 0), b.get('img_per_s', 0),
                a.get('img_per_s', 0) / b['img_per_s'] if b.get('img_per_s') else 0, g,
                a.get('gflop_per_s', 0), 100 * a.get('gflop_per_s', 0) / best_peak if best_peak else 0,
                og, 100 * og / best_peak if best_peak else 0, a.get('cpu_per_wall', 0), b.get('cpu_per_wall', 0),
                '%.1e' % d['rel_l2'] if d else 'n/a'))
L.append('\nSpeedup = official s/batch / ours. GFLOP/img: bench/bench_e4e.c\'s FLOP model (2 x MACs of every conv and '
         'linear layer). %% of peak: against the larger of the two measured FMA peaks. CPU/wall: CPU seconds each side '
         'got per wall second over its timed batches (%s = all its threads busy).' % E['B_THREADS'])
if doc['official_profile']:
    L.append('\nOfficial, self CPU time per torch op (batch 1, torch.profiler): ' + ', '.join(
        '%s %.1f%% (%d calls)' % (p['op'], 100 * p['self_cpu_share'], p['calls']) for p in doc['official_profile']))
L.append('\n## Commands\n\n```\n' + '\n'.join(cmds) + '\n```')
open(os.path.join(E['B_RESULTS'], 'e4e_cpu.md'), 'w').write('\n'.join(L) + '\n')
print('\n'.join(L))
PYEOF
