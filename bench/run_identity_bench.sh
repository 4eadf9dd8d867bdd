#!/usr/bin/env bash
# Identity networks and the SimGAN refiner on the CPU (issue 16): facesynth (build/bench/bench_identity)
# against the official PyTorch code (bench/official_identity_cpu.py) on the same checkpoints, the same
# inputs and the same thread count, in this one run, rounds interleaved (ours, official, ours, ...),
# plus the machine's measured FMA peak:
#   1. build bench_identity and bench_fma_peak in $BUILD
#   2. checkpoints: Light CNN-9 at its released widths (tests/fixtures/lightcnn's checkpoint, 100
#      classes; only the feature is timed), ArcFace IR-SE-50 at full width (bench/work/arcface_full.pt,
#      made once by official_identity_cpu.py --make-arcface), the paper-size SimGAN refiner (F 64, B 4)
#      of tests/fixtures/simgan/rgb64x64_simgan.pt; inputs from --make-x (RandomState(0))
#   3. per net and batch: ROUNDS rounds of (ours: W warm-ups + R timed calls; official: the same);
#      the medians of each side's round medians; both save their outputs, compared (relative L2),
#      so the two sides are known to compute the same function
#   4. writes bench/results/identity.md and bench/results/identity.json
#
# Usage: bench/run_identity_bench.sh
# Environment (defaults in brackets):
#   PYTHON [bench/venv/bin/python]: a Python with torch and numpy (benchmark only; e.g.
#          `python3 -m venv bench/venv && bench/venv/bin/pip install torch numpy`)
#   FACESYNTH_LIGHTCNN [bench/third_party/LightCNN], FACESYNTH_E4E [bench/third_party/encoder4editing]:
#          the official code (git-ignored)
#   BATCHES [1 8]   REPS [3]   WARMUP [1]   ROUNDS [3]   THREADS [2]   SIMGAN_SIDE [64]
#   BUILD [build]   RESULTS [bench/results]
#   NICE [-10]: run in a session of its own whose autogroup gets nice NICE (root only), so that
#          other sessions on a shared machine take less of its CPU; 0 = leave it
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.." || exit 1
NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ -z "${FS_BENCH_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_BENCH_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
PYTHON=${PYTHON:-bench/venv/bin/python}
BATCHES=${BATCHES:-"1 8"}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
SIDE=${SIMGAN_SIDE:-64}
BUILD=${BUILD:-build}
RESULTS=${RESULTS:-bench/results}
WORK=bench/work
TMP=$(mktemp -d /tmp/identity_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
log() { echo "[identity_bench] $*" >&2; }
if [ "$NICE" != 0 ]; then
    if ! { [ -w /proc/self/autogroup ] && echo "$NICE" >/proc/self/autogroup 2>/dev/null; }; then
        log "cannot set the autogroup nice to $NICE; running at the default priority"; NICE=0
    fi
fi
"$PYTHON" -c 'import torch, numpy' 2>/dev/null || { log "$PYTHON has no torch/numpy (see PYTHON above)"; exit 1; }
LCNN=tests/fixtures/lightcnn/LightCNN_9Layers_checkpoint.pth.tar
[ -f "$LCNN" ] || { log "$LCNN is missing (see tests/fixtures/lightcnn/README.md)"; exit 1; }
SIMGAN=tests/fixtures/simgan/rgb64x64_simgan.pt
ARC=$WORK/arcface_full.pt
export B_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export B_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

log "build: make BUILD=$BUILD $BUILD/bench/bench_identity $BUILD/bench/bench_fma_peak"
make -j2 BUILD="$BUILD" "$BUILD/bench/bench_identity" "$BUILD/bench/bench_fma_peak" >"$TMP/make.log" 2>&1 ||
    { cat "$TMP/make.log" >&2; log "build failed"; exit 1; }
mkdir -p "$RESULTS" "$WORK"
[ -f "$ARC" ] || "$PYTHON" bench/official_identity_cpu.py --make-arcface "$ARC" >&2 || exit 1
for net in lightcnn arcface simgan; do
    X=$WORK/id_${net}_x.npy
    [ -f "$X" ] || "$PYTHON" bench/official_identity_cpu.py --make-x "$X" --net "$net" --n 16 --side "$SIDE" || exit 1
done
log "FMA peak, $THREADS threads"
"$BUILD/bench/bench_fma_peak" --threads "$THREADS" | tail -n 1 >"$TMP/peak.json" || exit 1

: >"$TMP/runs.jsonl"
for net in lightcnn arcface simgan; do
    case $net in lightcnn) CKPT=$LCNN ;; arcface) CKPT=$ARC ;; simgan) CKPT=$SIMGAN ;; esac
    X=$WORK/id_${net}_x.npy
    for B in $BATCHES; do
        for r in $(seq 1 "$ROUNDS"); do
            log "$net batch $B round $r: ours"
            "$BUILD/bench/bench_identity" --net "$net" --network "$CKPT" --x "$X" --batch "$B" \
                --reps "$REPS" --warmup "$WARMUP" --threads "$THREADS" --save-out "$TMP/ours.npy" |
                tail -n 1 | sed "s/^{/{\"side\": \"ours\", \"round\": $r, /" >>"$TMP/runs.jsonl" || exit 1
            log "$net batch $B round $r: official"
            "$PYTHON" bench/official_identity_cpu.py --time "$CKPT" --net "$net" --x "$X" --batch "$B" \
                --reps "$REPS" --warmup "$WARMUP" --threads "$THREADS" --save-out "$TMP/official.npy" |
                tail -n 1 | sed "s/^{/{\"side\": \"official\", \"round\": $r, /" >>"$TMP/runs.jsonl" || exit 1
        done
        "$PYTHON" -c "
import json, numpy as np
a, b = np.load('$TMP/ours.npy'), np.load('$TMP/official.npy')
print(json.dumps({'side': 'compare', 'net': '$net', 'batch': $B,
                  'rel_l2': float(np.linalg.norm(a - b) / np.linalg.norm(b))}))" >>"$TMP/runs.jsonl" || exit 1
    done
done
export B_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
export B_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
export B_NCPU=$(nproc)
export B_TORCH=$("$PYTHON" -c 'import torch; print(torch.__version__)')
"$PYTHON" - "$TMP/runs.jsonl" "$TMP/peak.json" "$RESULTS" "$THREADS" "$ROUNDS" "$REPS" "$WARMUP" "$NICE" "$SIDE" <<'PY'
import json, os, statistics, sys
runs_path, peak_path, out_dir, threads, rounds, reps, warmup, nice, side = sys.argv[1:]
runs = [json.loads(l) for l in open(runs_path)]
peak = json.loads(open(peak_path).read())
peak_gf = max(v for k, v in peak.items() if k.endswith('gflops') and isinstance(v, (int, float))) \
    if any(k.endswith('gflops') for k in peak) else None
names = {'lightcnn': 'Light CNN-9 (128² gray, the 256-d feature)',
         'arcface': 'ArcFace IR-SE-50 (112² RGB, the embedding)',
         'simgan': 'SimGAN refiner (F 64, B 4, %s² RGB)' % side}
rows, table = [], []
for net in ('lightcnn', 'arcface', 'simgan'):
    for b in sorted({r['batch'] for r in runs if r.get('net') == net and r['side'] == 'ours'}):
        ours = [r for r in runs if r['side'] == 'ours' and r['net'] == net and r['batch'] == b]
        off = [r for r in runs if r['side'] == 'official' and r['net'] == net and r['batch'] == b]
        cmp_ = [r for r in runs if r['side'] == 'compare' and r['net'] == net and r['batch'] == b]
        o = statistics.median(r['faces_per_s'] for r in ours)
        f = statistics.median(r['faces_per_s'] for r in off)
        gf = ours[0]['gflop_per_face']
        row = {'net': net, 'batch': b, 'ours_faces_per_s': o, 'official_faces_per_s': f,
               'speedup': o / f, 'gflop_per_face': gf, 'ours_gflop_per_s': o * gf,
               'official_gflop_per_s': f * gf,
               'ours_cpu_per_wall': statistics.median(r['cpu_per_wall'] for r in ours),
               'official_cpu_per_wall': statistics.median(r['cpu_per_wall'] for r in off),
               'rel_l2_vs_official': cmp_[0]['rel_l2'] if cmp_ else None}
        if peak_gf:
            row['ours_pct_peak'] = 100 * o * gf / peak_gf
        rows.append(row)
        table.append('| %s | %d | %.2f | %.2f | %.2fx | %.3f | %.1f%s | %.2f / %.2f | %.1e |' % (
            names[net], b, o, f, o / f, gf, o * gf,
            (' (%.0f%%)' % row['ours_pct_peak']) if peak_gf else '',
            row['ours_cpu_per_wall'], row['official_cpu_per_wall'], row['rel_l2_vs_official']))
meta = {'date': os.environ['B_DATE'], 'cpu': os.environ['B_CPU'], 'ncpu': os.environ['B_NCPU'],
        'torch': os.environ['B_TORCH'], 'threads': int(threads), 'rounds': int(rounds),
        'reps': int(reps), 'warmup': int(warmup), 'nice': int(nice),
        'load_start': os.environ['B_LOAD_START'], 'load_end': os.environ['B_LOAD_END'],
        'fma_peak': peak, 'rows': rows, 'runs': runs}
json.dump(meta, open(os.path.join(out_dir, 'identity.json'), 'w'), indent=1)
md = ['# Identity networks and the SimGAN refiner on the CPU', '',
      'Made by `bench/run_identity_bench.sh` (%s, %s, %s CPUs, %s threads each side, PyTorch %s from '
      'PyPI in a benchmark-only venv). Load average at the start %s, at the end %s; autogroup nice %s.' % (
          meta['date'], meta['cpu'], meta['ncpu'], threads, meta['torch'], meta['load_start'],
          meta['load_end'], nice), '',
      'Each row: %s interleaved rounds of (ours, official), each %s warm-up + %s timed calls; the '
      'median of the round medians. faces/s counts faces in, one forward per batch, host arrays in and '
      'out. GFLOP: 2 x multiply-adds of the convs and linear layers (see bench/bench_identity.c); %% of '
      'the measured FMA peak (bench_fma_peak, %s GFLOP/s with %s threads). cpu/wall: CPU seconds per '
      'wall second of each side (%s = every thread busy). The last column compares the two sides\' '
      'outputs of the last round (relative L2).' % (rounds, warmup, reps,
                                                  '%.0f' % peak_gf if peak_gf else '?', threads, threads), '',
      '| network | batch | facesynth faces/s | official faces/s | speedup | GFLOP/face | facesynth GFLOP/s (% peak) | cpu/wall ours / official | outputs vs official |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|'] + table + ['',
      'Checkpoints: Light CNN-9 at the released widths with 100 classes '
      '(tests/fixtures/lightcnn; the feature is timed, the classifier is not computed by ours and is '
      'negligible in the official forward); ArcFace IR-SE-50 at full width from torch\'s default '
      'initialisation with calibrated BatchNorm statistics (bench/work/arcface_full.pt); the SimGAN '
      'refiner of tests/fixtures/simgan/rgb64x64_simgan.pt. The official side: AlfredXiangWu/LightCNN '
      'light_cnn.py and omertov/encoder4editing models/encoders/model_irse.py, unmodified; SimGAN has no '
      'official code, so its "official" column is a PyTorch transcription of docs/simgan.md.', '',
      'Command: `bench/run_identity_bench.sh` (defaults: BATCHES="1 8" REPS=3 WARMUP=1 ROUNDS=3 THREADS=2).']
open(os.path.join(out_dir, 'identity.md'), 'w').write('\n'.join(md) + '\n')
print('\n'.join(md))
PY
