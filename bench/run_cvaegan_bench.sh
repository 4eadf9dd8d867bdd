#!/usr/bin/env bash
# CVAE-GAN benchmark: img/s of the generator G, the encoder E and the two discriminators D1+D2 of the
# paper-size model (width 64, z 256, 128x128, random weights; n_id 1000 identities) on the CPU backend or
# on the CUDA backend, with build/bench/bench_cvaegan (see the comment at its top for what is timed):
#   1. make -j2 && make bench
#   2. per batch: bench_cvaegan --batch N (W warm-ups + R timed calls of each network; medians)
#   3. writes RESULTS/cvaegan.md + cvaegan.json (DEVICE=cpu) or RESULTS/cvaegan_cuda.md +
#      cvaegan_cuda.json (DEVICE=cuda or cuda:N), so CPU and GPU results coexist; each report links the
#      other, and the CUDA one lists the CPU figures of cvaegan.json next to its own when that file exists.
#
# Usage: bench/run_cvaegan_bench.sh                # CPU
#        DEVICE=cuda bench/run_cvaegan_bench.sh    # GPU (needs a build with nvcc and a device)
# Environment (defaults in brackets):
#   DEVICE [cpu]: cpu, cuda or cuda:N
#   BATCHES [cpu: 1 8 32; cuda: 1 8 32 128]   REPS [cpu: 5; cuda: 20]   WARMUP [cpu: 1; cuda: 3]
#   THREADS [cpu: nproc; ignored on cuda]   SEED [0]
#   WIDTH [64]  ZDIM [256]  NID [1000]  RES [128]: the model (the paper's size by default)
#   NICE [-10]: on a shared machine, run the whole benchmark in a session of its own (setsid) whose scheduler
#              autogroup gets nice NICE (/proc/self/autogroup; with autogroup scheduling, per-process nice only
#              ranks processes within one session), so that other sessions' work takes less of the benchmark's
#              CPU. Needs root for < 0; 0 = leave it alone. Each row reports the CPU seconds it got per wall
#              second (CPU/wall; 2.0 = two busy cores).
#   PYTHON [/usr/bin/python3] (json only)   RESULTS [bench/results]
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.." || exit 1
NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ -z "${FS_BENCH_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_BENCH_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
DEVICE=${DEVICE:-cpu}
case "$DEVICE" in
    cpu) OUTNAME=cvaegan; D_BATCHES="1 8 32"; D_REPS=5; D_WARMUP=1 ;;
    cuda|cuda:[0-9]*) OUTNAME=cvaegan_cuda; D_BATCHES="1 8 32 128"; D_REPS=20; D_WARMUP=3 ;;
    *) echo "DEVICE must be cpu, cuda or cuda:N, not '$DEVICE'" >&2; exit 2 ;;
esac
BATCHES=${BATCHES:-$D_BATCHES}
REPS=${REPS:-$D_REPS}
WARMUP=${WARMUP:-$D_WARMUP}
THREADS=${THREADS:-$(nproc)}
SEED=${SEED:-0}
WIDTH=${WIDTH:-64}
ZDIM=${ZDIM:-256}
NID=${NID:-1000}
RES=${RES:-128}
PYTHON=${PYTHON:-/usr/bin/python3}
RESULTS=${RESULTS:-bench/results}
BIN=build/bench/bench_cvaegan
TMP=$(mktemp -d /tmp/cvaegan_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
log() { echo "[cvaegan_bench] $*" >&2; }
now() { date +%s.%N; }
if [ "$NICE" != 0 ]; then
    if ! { [ -w /proc/self/autogroup ] && echo "$NICE" >/proc/self/autogroup 2>/dev/null; }; then
        log "cannot set the autogroup nice to $NICE; running at the default priority"; NICE=0
    fi
fi
export B_SCHED=$(cat /proc/self/autogroup 2>/dev/null || echo 'no autogroup')
log "scheduler: $B_SCHED"

export B_START=$(now)
export B_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export B_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# Other processes using the CPU at the start (this machine may be shared): top 5 by %CPU.
export B_BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s%s %s%%", (NR>1?", ":""), $2, $1}')

log "build: make -j2 && make bench"
if ! { make -j2 >"$TMP/make.log" 2>&1 && make bench >>"$TMP/make.log" 2>&1; }; then
    cat "$TMP/make.log" >&2
    log "build failed"
    exit 1
fi
[ -x "$BIN" ] || { log "$BIN missing after make bench"; exit 1; }

mkdir -p "$RESULTS"
: >"$TMP/runs.jsonl"
: >"$TMP/commands.txt"
STATUS=ok
for N in $BATCHES; do
    cmd="$BIN --width $WIDTH --z-dim $ZDIM --n-id $NID --resolution $RES --batch $N --reps $REPS --warmup $WARMUP --device $DEVICE --seed $SEED"
    [ "$DEVICE" = cpu ] && cmd="$cmd --threads $THREADS"
    echo "$cmd" >>"$TMP/commands.txt"
    log "$cmd"
    la0=$(cut -d' ' -f1-3 /proc/loadavg)
    if $cmd --label "b$N" >"$TMP/out.txt" 2>"$TMP/err.txt"; then
        grep -v '^{' "$TMP/out.txt" | sed 's/^/    /' >&2
        tail -n 1 "$TMP/out.txt" >"$TMP/run.json"
    else
        cat "$TMP/out.txt" "$TMP/err.txt" >&2; STATUS="failed (batch $N)"; echo '{}' >"$TMP/run.json"
    fi
    la1=$(cut -d' ' -f1-3 /proc/loadavg)
    "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"batch": int(sys.argv[2]), "command": sys.argv[3], "loadavg_before": sys.argv[4], "loadavg_after": sys.argv[5], "result": d}))' \
        "$TMP/run.json" "$N" "$cmd" "$la0" "$la1" >>"$TMP/runs.jsonl"
done

export B_END=$(now)
export B_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
export B_NICE=$NICE B_DEVICE=$DEVICE B_OUTNAME=$OUTNAME B_WIDTH=$WIDTH B_ZDIM=$ZDIM B_NID=$NID B_RES=$RES
export B_STATUS=$STATUS B_TMP=$TMP B_RESULTS=$RESULTS
export B_REPS=$REPS B_WARMUP=$WARMUP B_THREADS=$THREADS B_SEED=$SEED
export B_CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
export B_CPU_FAMILY=$(lscpu | sed -n 's/^CPU family:[[:space:]]*//p' | head -1)
export B_CPU_MODEL=$(lscpu | sed -n 's/^Model:[[:space:]]*//p' | head -1)
export B_HYPERVISOR=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -1)
export B_CACHES=$(lscpu | sed -n 's/^\(L[123][di]* cache\):[[:space:]]*/\1 /p' | paste -sd ';' | sed 's/;/; /g')
export B_FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'avx2\|fma\|avx512f' | sort -u | paste -sd ' ')
export B_MHZ=$(grep -m1 'cpu MHz' /proc/cpuinfo | awk -F: '{printf "%.0f", $2}')
export B_NPROC=$(nproc)
export B_MEM=$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)
export B_KERNEL=$(uname -r)
export B_CC="$(${CC:-cc} --version | head -1)"
export B_CFLAGS="$(make -s --no-print-directory --eval 'fs-print-cflags: ; @echo $(CFLAGS)' fs-print-cflags 2>/dev/null)"
export B_NVCC="$( (command -v nvcc >/dev/null && nvcc --version | tail -n 2 | head -n 1) 2>/dev/null)"
export B_GPU="$( (command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader | head -n 1) 2>/dev/null)"
export B_GIT=$(git rev-parse --short HEAD 2>/dev/null)
export B_DIRTY=$(git status --porcelain --untracked-files=no -- engine kernels weights_tools Makefile 2>/dev/null | awk '{print $2}' | paste -sd ' ')

"$PYTHON" - <<'PYEOF'
import json, os
E = os.environ
tmp, dev, outname, resdir = E['B_TMP'], E['B_DEVICE'], E['B_OUTNAME'], E['B_RESULTS']
cuda = dev != 'cpu'
runs = [json.loads(l) for l in open(os.path.join(tmp, 'runs.jsonl')) if l.strip()]
commands = ['make -j2 && make bench'] + [l.rstrip('\n') for l in open(os.path.join(tmp, 'commands.txt'))]
NETS = [('G', 'G (generate)'), ('E', 'E (encode)'), ('D', 'D1+D2 (discriminate)')]

def g(d, *k):
    for x in k:
        if not isinstance(d, dict) or x not in d:
            return None
        d = d[x]
    return d

rows = []
for r in runs:
    o = r['result']
    for key, title in NETS:
        n = g(o, 'nets', key)
        rows.append({'net': key, 'title': title, 'batch': r['batch'],
                     'median_s': g(n, 'median_s'), 'min_s': g(n, 'min_s'), 'max_s': g(n, 'max_s'),
                     'img_per_s': g(n, 'img_per_s'), 'gflop_per_img': g(n, 'gflop_per_img'),
                     'gflops': g(n, 'gflops'), 'cpu_per_wall': g(n, 'cpu_per_wall'),
                     'output_finite': g(n, 'output_finite'),
                     'loadavg_before': r['loadavg_before'], 'loadavg_after': r['loadavg_after']})
o0 = next((r['result'] for r in runs if r['result']), {})
res = {
    'date': E['B_DATE'], 'git': E['B_GIT'], 'uncommitted_changes_built': E['B_DIRTY'].split(),
    'status': E['B_STATUS'], 'wall_s': float(E['B_END']) - float(E['B_START']), 'device': dev,
    'model': {'width': int(E['B_WIDTH']), 'z_dim': int(E['B_ZDIM']), 'n_id': int(E['B_NID']),
              'resolution': int(E['B_RES']), 'params': o0.get('params'),
              'weights': o0.get('init') or 'he-normal N(0, 2/fan_in), biases 0, norms 1/0, RandomState(seed)'},
    'machine': {'cpu': E['B_CPU'], 'cpu_family_model': f"{E['B_CPU_FAMILY']}/{E['B_CPU_MODEL']}",
                'hypervisor': E['B_HYPERVISOR'], 'cpu_mhz_reported': E['B_MHZ'], 'simd': E['B_FLAGS'],
                'caches': E['B_CACHES'], 'nproc': int(E['B_NPROC']), 'mem_gib': float(E['B_MEM']),
                'kernel': E['B_KERNEL'], 'cc': E['B_CC'], 'cflags': E['B_CFLAGS'], 'nvcc': E['B_NVCC'] or None,
                'gpu': E['B_GPU'] or None,
                'loadavg_start': E['B_LOAD_START'], 'loadavg_end': E['B_LOAD_END'],
                'busiest_processes_at_start': E['B_BUSY_START']},
    'settings': {'reps': int(E['B_REPS']), 'warmup': int(E['B_WARMUP']),
                 'threads': None if cuda else int(E['B_THREADS']), 'seed': int(E['B_SEED']),
                 'nice': int(E['B_NICE']), 'autogroup': E['B_SCHED'], 'timing': o0.get('timing')},
    'macs_per_img': o0.get('macs_per_img'), 'commands': commands, 'rows': rows, 'runs': runs,
}
m = res['machine']; st = res['settings']; md = res['model']
peak = None
try:
    fam, mod = (int(x, 0) for x in m['cpu_family_model'].split('/'))
except ValueError:
    fam = mod = None
# Nominal float32 peak only where the FLOP/cycle of the core is known: Zen 1 (family 23, models < 0x30),
# two 128-bit FMA pipes = 16 FLOP/cycle/core, at the clock /proc/cpuinfo reports (no turbo info in a VM).
if not cuda and fam == 23 and mod is not None and mod < 0x30 and m['cpu_mhz_reported']:
    peak = m['nproc'] * 16 * float(m['cpu_mhz_reported']) / 1000
    m['nominal_peak_gflops'] = peak
with open(os.path.join(resdir, outname + '.json'), 'w') as f:
    json.dump(res, f, indent=1); f.write('\n')

def f(x, p=3):
    return '—' if x is None else f'{x:.{p}f}'
def img_s(x):
    return '—' if x is None else (f'{x:.1f}' if x >= 10 else f'{x:.2f}')
gf = {k: g(o0, 'nets', k, 'gflop_per_img') for k, _ in NETS}
title = 'GPU (CUDA backend)' if cuda else 'CPU backend'
paper = (md['width'], md['z_dim'], md['resolution']) == (64, 256, 128)
what = 'the paper-size model' if paper else f"width {md['width']}, z {md['z_dim']}, {md['resolution']}²"
L = [f'# CVAE-GAN benchmark, {title}: G, E, D1+D2 of {what}', '',
     f"- Date: {res['date']}, git {res['git']}" + (f" + uncommitted changes in {', '.join(res['uncommitted_changes_built'])} (built as they were)" if res['uncommitted_changes_built'] else ''),
     f"- Model: width {md['width']}, z_dim {md['z_dim']}, {md['resolution']}×{md['resolution']}, n_id {md['n_id']} identities "
     f"({(md['params'] or 0)/1e6:.1f} M parameters, float32); random weights built in memory by the benchmark "
     f"({md['weights']}; docs/cvaegan.md layout via fs_cvaegan_for_each_tensor, written with fs_weights_writer, "
     f"opened with fs_weights_open_owned)",
     f"- Machine: {m['nproc']} × {m['cpu']} (family/model {m['cpu_family_model']}, {m['simd']}; {m['caches']}), "
     f"{m['hypervisor'] + ' VM, ' if m['hypervisor'] else ''}{m['mem_gib']} GiB RAM, kernel {m['kernel']}"
     + (f"; GPU: {m['gpu']}" if m['gpu'] else ''),
     f"- Load average at start {m['loadavg_start']}, at end {m['loadavg_end']} (per row below too); busiest processes at start: {m['busiest_processes_at_start']}",
     f"- Build: `{m['cc']}`, `CFLAGS = {m['cflags']}`" + (f"; nvcc {m['nvcc']}" if m['nvcc'] else ''),
     (f"- Run: device {dev} (our CUDA kernels, float32), " if cuda else
      f"- Run: CPU backend with {st['threads']} threads (im2col + blocked SGEMM, AVX2/FMA micro-kernel picked at run time), float32, ")
     + f"{st['warmup']} warm-up + {st['reps']} timed calls per network and batch, seed {st['seed']}; the whole run in a session of its own "
       f"with autogroup nice {st['nice']} (the machine may be shared; see CPU/wall); whole run {res['wall_s']/60:.1f} min; status: {res['status']}", '']
if not cuda:
    other = os.path.join(resdir, 'cvaegan_cuda.json')
    od = None
    if os.path.exists(other):
        try:
            od = json.load(open(other))
        except ValueError:
            pass
    if od and od.get('status') == 'ok':
        L += [f"GPU figures: [cvaegan_cuda.md](cvaegan_cuda.md) (run {od.get('date')} on {od.get('machine', {}).get('gpu') or od.get('device')}).", '']
    else:
        L += ['**GPU part: not run.** No GPU was lent to the session that ran this; on a machine with one, '
              '`DEVICE=cuda bench/run_cvaegan_bench.sh` writes `cvaegan_cuda.md` / `cvaegan_cuda.json` next to this file '
              '(this file is left alone).', '']
L += ['## Results', '',
      'Seconds per batch are medians of the timed calls of the whole public entry point (`fs_cvaegan_generate`, '
      '`fs_cvaegan_encode`, `fs_cvaegan_discriminate`: host input in, host output out), timed with '
      '`clock_gettime(CLOCK_MONOTONIC)`' + (' around each call; every call ends with a blocking device-to-host download of its '
      'outputs, so the time is end to end (H2D input and D2H output copies and launch overhead included; not CUDA events)' if cuda else '') +
      '. img/s = batch / median. GFLOP/img = 2 × MACs of the layers from their shapes (convs with padded taps, transposed convs '
      'at their input resolution H·W·cin·cout·k², linear layers; norms, activations, pooling not counted): '
      f"G {f(gf['G'], 3)}, E {f(gf['E'], 3)}, D1+D2 {f(gf['D'], 3)} GFLOP/img. "
      + ('' if cuda else '"CPU/wall" = CPU seconds the process got per wall second over its timed calls '
         f"({st['threads']}.00 = all {st['threads']} threads busy; less = serial parts or other work on the machine)."), '']
hdr = '| network | batch | s/batch (min–max) | img/s | GFLOP/s |' + ('' if cuda else ' CPU/wall |') + ' load avg before → after |'
L += [hdr, '|---|---:|---:|---:|---:|' + ('' if cuda else '---:|') + '---|']
for r in rows:
    L.append(f"| {r['title']} | {r['batch']} | {f(r['median_s'], 4)} ({f(r['min_s'], 4)}–{f(r['max_s'], 4)}) | "
             f"**{img_s(r['img_per_s'])}** | {f(r['gflops'], 1)} |" + ('' if cuda else f" {f(r['cpu_per_wall'], 2)} |")
             + f" {r['loadavg_before'].split()[0]} → {r['loadavg_after'].split()[0]} |")
L.append('')
if peak:
    best = max((r['gflops'] or 0) for r in rows) if rows else 0
    L += [f"Nominal float32 peak of this CPU: {m['nproc']} cores × 16 FLOP/cycle (Zen 1: two 128-bit FMA pipes) × "
          f"{float(m['cpu_mhz_reported'])/1000:.2f} GHz (reported clock; boost unknown in the VM) = {peak:.0f} GFLOP/s; "
          f"the best row reaches {best:.1f} GFLOP/s = {100*best/peak:.0f}% of it.", '']
if cuda:
    cpu_p = os.path.join(resdir, 'cvaegan.json')
    cj = None
    if os.path.exists(cpu_p):
        try:
            cj = json.load(open(cpu_p))
        except ValueError:
            pass
    if cj and cj.get('model', {}).get('width') == md['width'] and cj['model'].get('z_dim') == md['z_dim'] \
            and cj['model'].get('n_id') == md['n_id'] and cj['model'].get('resolution') == md['resolution']:
        try:
            cpu_rows = {(r['net'], r['batch']): r for r in cj.get('rows', [])}
            comp = []
            for r in rows:
                c = cpu_rows.get((r['net'], r['batch']))
                if c and c.get('img_per_s') and r['img_per_s']:
                    comp.append(f"| {r['title']} | {r['batch']} | {img_s(c['img_per_s'])} | {img_s(r['img_per_s'])} | {r['img_per_s']/c['img_per_s']:.1f}× |")
            if comp:
                L += [f"GPU vs the CPU figures of [cvaegan.md](cvaegan.md) ({cj.get('date')}, {cj['machine']['nproc']} × {cj['machine']['cpu']}; "
                      'different machines, same model, same batch):', '',
                      '| network | batch | CPU img/s | GPU img/s | GPU / CPU |', '|---|---:|---:|---:|---:|'] + comp + ['']
        except (ValueError, KeyError):
            pass
L += ['Per batch the benchmark also reports the set-up, not part of the timings: weights built '
      + ', '.join(f"{f(g(r['result'], 'build_s'), 2)} s" for r in runs) + ', opened (all CRCs checked) '
      + ', '.join(f"{f(g(r['result'], 'load_s'), 2)} s" for r in runs) + ', model init (weights to the backend) '
      + ', '.join(f"{f(g(r['result'], 'init_s'), 2)} s" for r in runs) + ' (batches ' + ', '.join(str(r['batch']) for r in runs) + ').', '',
      '## Commands', '', '```'] + commands + ['```', '']
with open(os.path.join(resdir, outname + '.md'), 'w') as fo:
    fo.write('\n'.join(L))
print('\n'.join(L))
PYEOF
rc=$?
[ $rc = 0 ] || exit $rc
[ "$STATUS" = ok ] || exit 1
exit 0
