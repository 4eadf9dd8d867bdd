#!/usr/bin/env bash
# CPU generator benchmark: facesynth's CPU StyleGAN2 generator (build/bench/bench_generator_cpu) against
# the official stylegan2-ada-pytorch generator (bench/official_generator_cpu.py, torch on the CPU), same
# network pickle, same z, same batch, same thread count, one after the other in this one run:
#   1. make -j2 && make bench
#   2. per network: `build/facesynth convert PKL -o bench/work/<name>.fsw`, timed once (not part of the
#      per-image timings; the C bench then opens the .fsw, and reports that load time apart too)
#   3. per network and batch: ours (W warm-ups + R timed synthesis batches, mapping timed apart), then the
#      official G(z, c, truncation_psi, noise_mode='const', force_fp32=True) (W + R); both dump their
#      last output batch and the two images are compared (relative L2), so the runs are known to compute
#      the same function
#   4. writes bench/results/cpu_generator.md and bench/results/cpu_generator.json
#
# Usage: bench/run_cpu_generator_bench.sh
# Environment (defaults in brackets):
#   NETWORKS   space-separated pickles [bench/work/ffhq-configf-256-random.pkl
#              bench/work/ffhq-cbase16384-256-random.pkl]; missing ones are generated with
#              bench/make_network_pkl.py when their name says which (ffhq-configf-<res>-random.pkl,
#              ffhq-cbase<N>-<res>-random.pkl)
#   BATCHES [1 4]   REPS [3]   WARMUP [1]   THREADS [2]   PSI [1]   SEED [0]
#   NICE [-10]: on a shared machine, run the whole benchmark (ours and the official one alike) in a session
#              of its own (setsid) whose scheduler autogroup gets nice NICE (/proc/self/autogroup; with
#              autogroup scheduling, per-process nice only ranks processes within one session), so that other
#              sessions' work takes less of the benchmark's CPU. Needs root for < 0; 0 = leave it alone.
#              Each side reports the CPU seconds it got per wall second (2.0 = both cores busy).
#   PROFILE [1]: per network, one extra untimed batch-1 profile of each side: the official one under
#              torch.profiler (self CPU time per torch op), ours under `perf record -e cpu-clock` (self
#              samples per function; skipped when perf cannot sample here); 0 = skip
#   PYTHON [/usr/bin/python3]   RESULTS [bench/results]
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.." || exit 1
NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ -z "${FS_BENCH_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_BENCH_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
ROOT=$(pwd)
NETWORKS=${NETWORKS:-"bench/work/ffhq-configf-256-random.pkl bench/work/ffhq-cbase16384-256-random.pkl"}
BATCHES=${BATCHES:-"1 4"}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-2}
PSI=${PSI:-1}
SEED=${SEED:-0}
PROFILE=${PROFILE:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
RESULTS=${RESULTS:-bench/results}
BIN=build/bench/bench_generator_cpu
WORK=bench/work
TMP=$(mktemp -d /tmp/cpu_gen_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
log() { echo "[cpu_generator_bench] $*" >&2; }
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

mkdir -p "$RESULTS" "$WORK"
: >"$TMP/runs.jsonl"
: >"$TMP/converts.jsonl"
: >"$TMP/commands.txt"
: >"$TMP/profiles.jsonl"
STATUS=ok
for PKL in $NETWORKS; do
    if [ ! -f "$PKL" ]; then
        base=$(basename "$PKL")
        if [[ $base =~ ^ffhq-(configf|cbase([0-9]+))-([0-9]+)-random\.pkl$ ]]; then
            cb=${BASH_REMATCH[2]:-32768}; res=${BASH_REMATCH[3]}
            log "generating $PKL (resolution $res, channel_base $cb)"
            "$PYTHON" bench/make_network_pkl.py -o "$PKL" --resolution "$res" --channel-base "$cb" >&2 || exit 1
        else
            log "$PKL: not found"; exit 1
        fi
    fi
    name=$(basename "$PKL" .pkl)
    FSW="$WORK/$name.fsw"
    cmd="build/facesynth convert $PKL -o $FSW"
    echo "$cmd" >>"$TMP/commands.txt"
    log "convert: $cmd"
    t0=$(now)
    build/facesynth convert "$PKL" -o "$FSW" >"$TMP/convert.log" 2>&1 || { cat "$TMP/convert.log" >&2; exit 1; }
    t1=$(now)
    "$PYTHON" -c 'import json,sys; print(json.dumps({"network": sys.argv[1], "fsw": sys.argv[2], "command": sys.argv[3], "seconds": float(sys.argv[5]) - float(sys.argv[4]), "pkl_bytes": int(sys.argv[6]), "fsw_bytes": int(sys.argv[7])}))' \
        "$PKL" "$FSW" "$cmd" "$t0" "$t1" "$(stat -c %s "$PKL")" "$(stat -c %s "$FSW")" >>"$TMP/converts.jsonl"
    for N in $BATCHES; do
        label="$name b$N"
        ours="$BIN --network $FSW --batch $N --reps $REPS --warmup $WARMUP --threads $THREADS --psi $PSI --seed $SEED"
        offi="$PYTHON bench/official_generator_cpu.py --network $PKL --batch $N --reps $REPS --warmup $WARMUP --threads $THREADS --psi $PSI --seed $SEED"
        echo "$ours" >>"$TMP/commands.txt"
        echo "$offi" >>"$TMP/commands.txt"
        log "ours:     $ours"
        if $ours --label "$label" --dump "$TMP/ours.f32" >"$TMP/ours.out" 2>"$TMP/ours.err"; then
            sed -n '1,10p' "$TMP/ours.out" | sed 's/^/    /' >&2
            tail -n 1 "$TMP/ours.out" >"$TMP/ours.json"
        else
            cat "$TMP/ours.out" "$TMP/ours.err" >&2; STATUS="failed ($label, ours)"; echo '{}' >"$TMP/ours.json"
        fi
        log "official: $offi"
        if $offi --label "$label" --dump "$TMP/off.f32" >"$TMP/off.out" 2>"$TMP/off.err"; then
            sed -n '1,7p' "$TMP/off.out" | sed 's/^/    /' >&2
            tail -n 1 "$TMP/off.out" >"$TMP/off.json"
        else
            cat "$TMP/off.out" "$TMP/off.err" >&2; STATUS="failed ($label, official)"; echo '{}' >"$TMP/off.json"
        fi
        "$PYTHON" - "$TMP" "$label" "$PKL" "$N" >>"$TMP/runs.jsonl" <<'PYEOF'
import json, os, sys
import numpy as np
tmp, label, pkl, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ours = json.load(open(os.path.join(tmp, 'ours.json')))
off = json.load(open(os.path.join(tmp, 'off.json')))
cmp = None
a_p, b_p = os.path.join(tmp, 'ours.f32'), os.path.join(tmp, 'off.f32')
if os.path.exists(a_p) and os.path.exists(b_p):
    a = np.fromfile(a_p, '<f4').astype(np.float64); b = np.fromfile(b_p, '<f4').astype(np.float64)
    if a.size == b.size:
        cmp = {'rel_l2': float(np.linalg.norm(a - b) / np.linalg.norm(b)), 'max_abs': float(np.abs(a - b).max()),
               'max_abs_ref': float(np.abs(b).max()), 'elements': int(a.size)}
    for p in (a_p, b_p):
        os.remove(p)
print(json.dumps({'label': label, 'network': pkl, 'batch': n, 'ours': ours, 'official': off, 'output_diff': cmp}))
PYEOF
        d=$(tail -n 1 "$TMP/runs.jsonl" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin)["output_diff"]; print("n/a" if d is None else "rel L2 %.2e, max |diff| %.2e" % (d["rel_l2"], d["max_abs"]))')
        log "  ours vs official output: $d"
    done
    if [ "$PROFILE" = 1 ]; then
        pcmd="$PYTHON bench/official_generator_cpu.py --network $PKL --batch 1 --reps 1 --warmup 1 --threads $THREADS --psi $PSI --seed $SEED --profile"
        log "profile, official: $pcmd"
        echo "$pcmd" >>"$TMP/commands.txt"
        $pcmd >"$TMP/offprof.out" 2>"$TMP/offprof.err" && tail -n 1 "$TMP/offprof.out" >"$TMP/offprof.json" || echo '{}' >"$TMP/offprof.json"
        : >"$TMP/perf_top.txt"; perfcmd=
        if perf record -q -e cpu-clock -o "$TMP/probe.data" true >/dev/null 2>&1; then
            perfcmd="perf record -e cpu-clock -F 999 -o PERF.DATA -- $BIN --network $FSW --batch 1 --reps 2 --warmup 1 --threads $THREADS --psi $PSI --seed $SEED"
            log "profile, ours: $perfcmd"
            echo "$perfcmd" >>"$TMP/commands.txt"
            perf record -q -e cpu-clock -F 999 -o "$TMP/perf.data" -- $BIN --network "$FSW" --batch 1 --reps 2 --warmup 1 \
                --threads "$THREADS" --psi "$PSI" --seed "$SEED" >/dev/null 2>&1 &&
                perf report -i "$TMP/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
                grep -v '^#' | grep '%' | head -n 15 >"$TMP/perf_top.txt"
            rm -f "$TMP/perf.data" "$TMP/probe.data"
        else
            log "perf cannot sample cpu-clock here; no profile of ours"
        fi
        "$PYTHON" - "$TMP" "$PKL" "$pcmd" "$perfcmd" >>"$TMP/profiles.jsonl" <<'PYEOF'
import json, os, re, sys
tmp, pkl, pcmd, perfcmd = sys.argv[1:5]
off = json.load(open(os.path.join(tmp, 'offprof.json')))
top = []
for line in open(os.path.join(tmp, 'perf_top.txt')):
    m = re.match(r'\s*([0-9.]+)%\s+\[(.)\]\s+(\S+)', line)
    if m:
        top.append({'share': float(m.group(1)) / 100, 'space': 'kernel' if m.group(2) == 'k' else 'user', 'symbol': m.group(3)})
print(json.dumps({'network': pkl, 'official_command': pcmd, 'official_top_ops': off.get('profile_top_ops'),
                  'official_cpu_per_wall': off.get('cpu_per_wall'), 'ours_command': perfcmd or None, 'ours_perf_top': top}))
PYEOF
    fi
done

export B_END=$(now)
export B_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
export B_NICE=$NICE
export B_STATUS=$STATUS B_TMP=$TMP B_RESULTS=$RESULTS B_PYTHON=$PYTHON
export B_REPS=$REPS B_WARMUP=$WARMUP B_THREADS=$THREADS B_PSI=$PSI B_SEED=$SEED
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
export B_GIT=$(git rev-parse --short HEAD 2>/dev/null)
export B_DIRTY=$(git status --porcelain --untracked-files=no -- engine weights_tools Makefile 2>/dev/null | awk '{print $2}' | paste -sd ' ')
export B_TORCH=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)

"$PYTHON" - <<'PYEOF'
import json, os, statistics
E = os.environ
tmp = E['B_TMP']
runs = [json.loads(l) for l in open(os.path.join(tmp, 'runs.jsonl')) if l.strip()]
converts = [json.loads(l) for l in open(os.path.join(tmp, 'converts.jsonl')) if l.strip()]
commands = [l.rstrip('\n') for l in open(os.path.join(tmp, 'commands.txt'))]
profiles = [json.loads(l) for l in open(os.path.join(tmp, 'profiles.jsonl')) if l.strip()]
off0 = next((r['official'] for r in runs if r['official']), {})

def g(d, *k):
    for x in k:
        if not isinstance(d, dict) or x not in d:
            return None
        d = d[x]
    return d

rows = []
for r in runs:
    o, f = r['ours'], r['official']
    ours_s = g(o, 'generator_median_s'); off_s = g(f, 'generator', 'median_s')
    row = {
        'label': r['label'], 'network': r['network'], 'batch': r['batch'],
        'resolution': g(o, 'resolution'), 'channel_base': g(o, 'channel_base'),
        'ours_synthesis_median_s': g(o, 'synthesis', 'median_s'), 'ours_mapping_median_s': g(o, 'mapping', 'median_s'),
        'ours_median_s': ours_s, 'ours_min_s': None, 'ours_max_s': None,
        'ours_img_per_s': g(o, 'img_per_s'),
        'official_median_s': off_s, 'official_min_s': g(f, 'generator', 'min_s'), 'official_max_s': g(f, 'generator', 'max_s'),
        'official_mapping_median_s': g(f, 'mapping', 'median_s'), 'official_img_per_s': g(f, 'img_per_s'),
        'speedup': (off_s / ours_s) if (ours_s and off_s) else None,
        'gflop_per_img_effective': g(o, 'gflop_per_img_effective'), 'gflop_per_img_total': g(o, 'gflop_per_img_total'),
        'ours_gflops_effective': g(o, 'gflops_effective'),
        'official_gflops_effective': (g(o, 'gflop_per_img_effective') * r['batch'] / off_s) if (off_s and g(o, 'gflop_per_img_effective')) else None,
        'output_diff': r['output_diff'],
        'ours_cpu_per_wall': g(o, 'cpu_per_wall'), 'official_cpu_per_wall': g(f, 'cpu_per_wall'),
    }
    if g(o, 'synthesis', 'min_s') is not None:
        row['ours_min_s'] = o['synthesis']['min_s'] + o['mapping']['min_s']
        row['ours_max_s'] = o['synthesis']['max_s'] + o['mapping']['max_s']
    rows.append(row)

res = {
    'date': E['B_DATE'], 'git': E['B_GIT'], 'uncommitted_changes_built': E['B_DIRTY'].split(),
    'status': E['B_STATUS'], 'wall_s': float(E['B_END']) - float(E['B_START']),
    'machine': {'cpu': E['B_CPU'], 'cpu_family_model': f"{E['B_CPU_FAMILY']}/{E['B_CPU_MODEL']}", 'hypervisor': E['B_HYPERVISOR'],
                'cpu_mhz_reported': E['B_MHZ'], 'simd': E['B_FLAGS'], 'caches': E['B_CACHES'], 'nproc': int(E['B_NPROC']),
                'mem_gib': float(E['B_MEM']), 'kernel': E['B_KERNEL'], 'cc': E['B_CC'], 'cflags': E['B_CFLAGS'],
                'loadavg_start': E['B_LOAD_START'], 'loadavg_end': E['B_LOAD_END'], 'busiest_processes_at_start': E['B_BUSY_START']},
    'software': {'torch': E['B_TORCH'], 'python': off0.get('python'), 'numpy': off0.get('numpy'), 'mkldnn': off0.get('mkldnn'), 'torch_blas': off0.get('torch_blas'),
                 'official_commit': off0.get('official_commit')},
    'settings': {'reps': int(E['B_REPS']), 'warmup': int(E['B_WARMUP']), 'threads': int(E['B_THREADS']), 'psi': float(E['B_PSI']),
                 'seed': int(E['B_SEED']), 'noise_mode': 'const', 'nice': int(E['B_NICE']), 'autogroup': E['B_SCHED']},
    'converts': converts, 'commands': ['make -j2 && make bench'] + commands,
    'rows': rows, 'runs': runs, 'profiles': profiles,
}
os.makedirs(E['B_RESULTS'], exist_ok=True)
with open(os.path.join(E['B_RESULTS'], 'cpu_generator.json'), 'w') as f:
    json.dump(res, f, indent=1); f.write('\n')

def f(x, p=3):
    return '—' if x is None else f'{x:.{p}f}'
m = res['machine']; sw = res['software']; st = res['settings']
L = ['# CPU generator benchmark: facesynth vs official stylegan2-ada-pytorch', '',
     f"- Date: {res['date']}, git {res['git']}" + (f" + uncommitted changes in {', '.join(res['uncommitted_changes_built'])} (built as they were)" if res['uncommitted_changes_built'] else ''),
     f"- Machine: {m['nproc']} × {m['cpu']} (family/model {m['cpu_family_model']}, {m['simd']}; {m['caches']}), "
     f"{m['hypervisor'] + ' VM, ' if m['hypervisor'] else ''}{m['mem_gib']} GiB RAM, kernel {m['kernel']}",
     f"- Load average at start {m['loadavg_start']}, at end {m['loadavg_end']}; busiest processes at start: {m['busiest_processes_at_start']}",
     f"- Ours: `{m['cc']}`, `CFLAGS = {m['cflags']}`; CPU backend with {st['threads']} threads (im2col + blocked SGEMM, AVX2/FMA micro-kernel picked at run time), float32 throughout",
     f"- Official: stylegan2-ada-pytorch {sw['official_commit']}, Python {sw['python']}, torch {sw['torch']} (oneDNN {'on' if sw['mkldnn'] else 'off'}, BLAS_INFO={sw['torch_blas']}), numpy {sw['numpy']}; "
     f"`torch.set_num_threads({st['threads']})`, `G_ema.eval()`, CPU, float32, `torch.no_grad()`",
     f"- Both: same pickle, same z (`RandomState(seed + i).randn(512)`, seed {st['seed']}), psi {st['psi']:g}, noise_mode const, "
     f"{st['warmup']} warm-up + {st['reps']} timed batches per row; the whole run in a session of its own with autogroup nice {st['nice']} "
     f"(the machine is shared; see CPU/wall below); whole run {res['wall_s']/60:.1f} min; status: {res['status']}", '',
     '## Results', '',
     'Seconds per batch are medians of the timed batches. Ours = mapping + synthesis medians (timed apart with '
     '`clock_gettime(CLOCK_MONOTONIC)`); official = the whole `G(z, c, ...)` call (`time.perf_counter()`). '
     'Speedup = official / ours. GFLOP/s on the effective FLOP of the network (2 × MACs of every conv with the '
     'up-sampling conv counted as a transposed conv at its input resolution, ToRGB and affines; docs/stylegan2.md §1.10/§5). '
     '"out diff" = relative L2 distance between our last output batch and the official one. '
     '"CPU/wall" = CPU seconds the process got per wall second over its timed batches (2.00 = both cores; '
     'lower means other work on the machine took some; torch\'s OpenMP threads also count their spin-waiting).', '',
     '| config | batch | ours s/batch (min–max) | ours img/s | official s/batch (min–max) | official img/s | speedup | ours GFLOP/s | official GFLOP/s | CPU/wall ours, official | out diff |',
     '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
for r in rows:
    cfgname = f"{r['resolution']}², channel_base {r['channel_base']} ({f(r['gflop_per_img_effective'], 1)} GFLOP/img)" if r['resolution'] else r['label']
    d = r['output_diff']
    L.append(f"| {cfgname} | {r['batch']} | {f(r['ours_median_s'])} ({f(r['ours_min_s'])}–{f(r['ours_max_s'])}) | {f(r['ours_img_per_s'])} | "
             f"{f(r['official_median_s'])} ({f(r['official_min_s'])}–{f(r['official_max_s'])}) | {f(r['official_img_per_s'])} | "
             f"**{f(r['speedup'], 2)}×** | {f(r['ours_gflops_effective'], 1)} | {f(r['official_gflops_effective'], 1)} | "
             f"{f(r['ours_cpu_per_wall'], 2)}, {f(r['official_cpu_per_wall'], 2)} | "
             f"{'—' if d is None else format(d['rel_l2'], '.1e')} |")
L += ['', 'Mapping alone (median s/batch): ' + '; '.join(
    f"{r['label']}: ours {f(r['ours_mapping_median_s'], 4)}, official {f(r['official_mapping_median_s'], 4)}" for r in rows), '']
if converts:
    L += ['Weight conversion, once per network, not part of the timings above (the C bench opens the .fsw; '
          'its open + CRC check and generator init are reported in the JSON as load_s / init_s):', '']
    for c in converts:
        L.append(f"- `{c['command']}`: {c['seconds']:.2f} s ({c['pkl_bytes']/2**20:.0f} MiB pickle → {c['fsw_bytes']/2**20:.0f} MiB .fsw)")
    L.append('')
if profiles:
    L += ['## Where the time goes (batch 1; one extra untimed run per side)', '',
          'Official: self CPU time per torch op under `torch.profiler` (`--profile`). Ours: share of `perf record -e cpu-clock` '
          'samples per function (self; whole process, so the .fsw open and init are in it too; inlined helpers count in their caller).', '']
    for p in profiles:
        name = os.path.basename(p['network'])
        ops = p.get('official_top_ops') or []
        L.append(f"- `{name}`, official: " + (', '.join(f"{o['op']} {100*o['share']:.1f}% ({o['calls']} calls)" for o in ops[:5]) or 'not profiled'))
        top = [t for t in p.get('ours_perf_top') or [] if t['share'] >= 0.005]
        L.append(f"- `{name}`, ours: " + (', '.join(f"{t['symbol']}{' [kernel]' if t['space'] == 'kernel' else ''} {100*t['share']:.1f}%" for t in top[:10]) or 'not profiled'))
    L.append('')
# Nominal peak, only where the FLOP/cycle of the core is known: Zen 1 (family 23, models < 0x30) has two
# 128-bit FMA pipes = 16 float32 FLOP/cycle/core; the clock is the one /proc/cpuinfo reports (no turbo info in a VM).
try:
    fam, mod = (int(x, 0) for x in m['cpu_family_model'].split('/'))
except ValueError:
    fam = mod = None
peak = None
if fam == 23 and mod is not None and mod < 0x30 and m['cpu_mhz_reported']:
    peak = m['nproc'] * 16 * float(m['cpu_mhz_reported']) / 1000
    res['machine']['nominal_peak_gflops'] = peak
    best = max((r['ours_gflops_effective'] or 0) for r in rows) if rows else 0
    L += [f"Nominal float32 peak of this CPU: {m['nproc']} cores × 16 FLOP/cycle (Zen 1: two 128-bit FMA pipes) × "
          f"{float(m['cpu_mhz_reported'])/1000:.2f} GHz (reported clock; boost unknown in the VM) = {peak:.0f} GFLOP/s; "
          f"our best row reaches {best:.1f} GFLOP/s = {100*best/peak:.0f}% of it.", '']
    with open(os.path.join(E['B_RESULTS'], 'cpu_generator.json'), 'w') as fj:
        json.dump(res, fj, indent=1); fj.write('\n')
tshare = [o['share'] for p in profiles for o in (p.get('official_top_ops') or []) if o['op'] == 'aten::slow_conv_transpose2d']
if tshare or sw.get('torch_blas') == 'generic':
    L += ['## Caveat: the torch build', '',
          f"The official numbers are for this torch build (BLAS_INFO={sw.get('torch_blas')}). "
          + (f"Its time goes mostly to `aten::slow_conv_transpose2d` ({', '.join(f'{100*x:.0f}%' for x in tshare)} of its CPU time in the profiles above): "
             "torch 1.13 runs the up-sampling layers' stride-2 transposed convolution through its generic im2col/col2im + BLAS path, not "
             "oneDNN, while the 3×3 convolutions go to oneDNN (`aten::mkldnn_convolution`). " if tshare else '')
          + "A torch build with an optimised BLAS (the PyPI/conda wheels link MKL) would likely run that transposed convolution much "
            "faster, so these speedups describe this machine's Python stack, not the official code at its best; it was not measured here.", '']
L += ['## What runs', '',
      '- Official: `legacy.load_network_pkl(f)[\'G_ema\']`, then `G(z, c, truncation_psi=psi, noise_mode=\'const\', force_fp32=True)`. '
      'On the CPU the official custom ops never load their CUDA plugins (bias_act and upfirdn2d check `x.device.type == \'cuda\'`, '
      'conv2d_gradfix only patches CUDA), so it runs their reference implementations: `_bias_act_ref`, `_upfirdn2d_ref` '
      '(pad + depthwise `F.conv2d`) and plain `F.conv2d` / `F.conv_transpose2d`. With float32 in eval mode every block takes '
      'the fused-modconv path (grouped convolution, groups = batch).',
      '- fp16: these config-f pickles have `num_fp16_res = 4`; ADA\'s `SynthesisBlock.forward` uses float16 for those blocks '
      'whenever `use_fp16 and not force_fp32`, without looking at the device, and on the CPU the default call then fails in torch 1.13 '
      '(`"slow_conv_transpose2d_out_cpu" not implemented for \'Half\'`). `force_fp32=True` (passed by `G.forward` to every block) '
      'keeps all blocks in float32; the script records that the output and every parameter are float32. facesynth\'s CPU '
      'backend ignores `num_fp16_res` and computes everything in float32, so both sides do the same float32 work.',
      '- Ours: the .fsw from `facesynth convert`, `fs_sg2_generator_mapping` timed in a W + R loop of its own, then '
      '`fs_sg2_generator_synthesis` W + R times on those ws (noise const); each modulated conv split into '
      '(sample, row tile, output-channel chunk) tasks over the threads (engine/cpu/modconv.c).', '',
      '## Commands', '', '```'] + res['commands'] + ['```', '']
with open(os.path.join(E['B_RESULTS'], 'cpu_generator.md'), 'w') as fo:
    fo.write('\n'.join(L))
print('\n'.join(L))
PYEOF
rc=$?
[ $rc = 0 ] || exit $rc
[ "$STATUS" = ok ] || exit 1
exit 0
