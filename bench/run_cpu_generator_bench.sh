#!/usr/bin/env bash
# The CPU generator against the best CPU runtimes, side by side in one interleaved run (issue 9):
# facesynth's CPU backend (build-*/bench/bench_generator_cpu --serve), ONNX Runtime and OpenVINO running
# the official generator exported to ONNX with the official code, and the official PyTorch generator.
#
#   1. a benchmark-only virtual environment bench/venv (git-ignored) from PyPI: torch, onnx, onnxscript,
#      onnxruntime, openvino (+ numpy, click, requests, pillow for the official code). Never needed to
#      build or test facesynth. A package that cannot be installed is reported and its runtime skipped.
#   2. the official stylegan2-ada-pytorch code, unmodified, in the git-ignored bench/third_party (see
#      bench/_official.py; it is never committed)
#   3. make -j2 BUILD=$BUILD and the bench programs; the networks: random-weight config-f pickles made
#      with the official classes (bench/make_network_pkl.py), converted to .fsw by facesynth convert
#   4. per network and batch, the official G(z, c, psi, noise_mode='const', force_fp32=True) exported to
#      ONNX (torch.onnx.export, dynamo, static batch; cached in bench/work/onnx/)
#   5. the 2-thread FMA peak (bench_fma_peak), then per row every runtime loaded, warmed up, checked
#      against the official PyTorch output (relative L2), then ROUNDS interleaved rounds (order rotated),
#      then the FMA peak again
#   6. perf profiles of facesynth (256², channel_base 32768, batch 1), and of BASE's build when given
#   7. bench/results/cpu_generator.md and bench/results/cpu_generator.json
#
# Usage: bench/run_cpu_generator_bench.sh
# Environment (defaults in brackets):
#   ROWS ["cb16384:1 cb16384:4 cb32768:1 cb32768:4 f1024:1"]  network:batch pairs (cb16384 / cb32768:
#        256², channel_base 16384 / 32768; f1024: 1024² config-f)
#   ROUNDS [5]  WARMUP [2]  PER_ROUND [1] timed batches per runtime per round  THREADS [2]
#   RUNTIMES [facesynth,ort,ov,torch]
#   BASE: a git commit; its bench_generator_cpu (with this tree's bench source, for --serve) runs as a fifth
#        runtime "facesynth (base)" in the same rounds and is profiled too
#   BUILD [build-bench]  NICE [-10]  PROFILE [1]  RESULTS [bench/results]  VENV [bench/venv]
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.." || exit 1
NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ -z "${FS_BENCH_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_BENCH_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
ROWS=${ROWS:-"cb16384:1 cb16384:4 cb32768:1 cb32768:4 f1024:1"}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-2}
PER_ROUND=${PER_ROUND:-1}
THREADS=${THREADS:-2}
RUNTIMES=${RUNTIMES:-facesynth,ort,ov,torch}
BASE=${BASE:-}
BUILD=${BUILD:-build-bench}
PROFILE=${PROFILE:-1}
RESULTS=${RESULTS:-bench/results}
VENV=${VENV:-bench/venv}
WORK=bench/work
TMP=$(mktemp -d /tmp/cpu_gen_rt.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
log() { echo "[cpu_generator_bench] $*" >&2; }
now() { date +%s.%N; }
NOTES=()
if [ "$NICE" != 0 ]; then
    if ! { [ -w /proc/self/autogroup ] && echo "$NICE" >/proc/self/autogroup 2>/dev/null; }; then
        log "cannot set the autogroup nice to $NICE; running at the default priority"; NICE=0
    fi
fi
START=$(now)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s%s %s%%", (NR>1?", ":""), $2, $1}')
: >"$TMP/commands.txt"
cmdlog() { echo "$*" >>"$TMP/commands.txt"; }

# 1. the virtual environment
PY=$VENV/bin/python
PKGS="torch onnx onnxscript onnxruntime openvino numpy click requests pillow setuptools>=77"
if ! "$PY" -c 'import torch, onnx, onnxscript, onnxruntime, openvino' 2>/dev/null; then
    log "setting up $VENV from PyPI: $PKGS"
    cmdlog "python3 -m venv $VENV && $VENV/bin/pip install $PKGS"
    [ -x "$PY" ] || python3 -m venv "$VENV" || { log "python3 -m venv failed"; exit 1; }
    for p in $PKGS; do
        if ! "$VENV/bin/pip" install -q "$p" >"$TMP/pip.log" 2>&1; then
            msg="pip install $p failed: $(tail -n 3 "$TMP/pip.log" | tr '\n' ' ')"
            log "$msg"; NOTES+=("$msg")
        fi
    done
fi
have() { "$PY" -c "import $1" 2>/dev/null; }
RT=()
for r in ${RUNTIMES//,/ }; do
    case $r in
    ort) mod=onnxruntime ;; ov) mod=openvino ;; torch) mod=torch ;; *) mod= ;;
    esac
    if [ -n "$mod" ] && ! have "$mod"; then
        msg="runtime $r skipped: python -c 'import $mod' fails in $VENV"; log "$msg"; NOTES+=("$msg"); continue
    fi
    RT+=("$r")
done
have torch && have onnx && have onnxscript || { log "torch/onnx/onnxscript missing in $VENV: cannot export"; exit 1; }
[ -n "$BASE" ] && RT+=(facesynth_base)
RUNTIMES=$(IFS=,; echo "${RT[*]}")
log "runtimes: $RUNTIMES"

# 2. the official code
"$PY" -c 'import sys; sys.path.insert(0, "bench"); import _official; _official.add_official_to_path()' || exit 1

# 3. builds and networks
log "build: make -j2 BUILD=$BUILD && make BUILD=$BUILD bench programs"
cmdlog "make -j2 BUILD=$BUILD && make BUILD=$BUILD $BUILD/bench/bench_generator_cpu $BUILD/bench/bench_fma_peak"
if ! { make -j2 BUILD="$BUILD" >"$TMP/make.log" 2>&1 &&
       make BUILD="$BUILD" "$BUILD/bench/bench_generator_cpu" "$BUILD/bench/bench_fma_peak" >>"$TMP/make.log" 2>&1; }; then
    cat "$TMP/make.log" >&2; log "build failed"; exit 1
fi
BIN=$BUILD/bench/bench_generator_cpu
BASE_BIN=
if [ -n "$BASE" ]; then
    BASE_DIR=$TMP/base
    log "base build: $BASE in $BASE_DIR (this tree's bench/bench_generator_cpu.c, for --serve)"
    cmdlog "git worktree add $BASE_DIR $BASE && cp bench/bench_generator_cpu.c bench/bench_util.h $BASE_DIR/bench/ && NVCC= make -C $BASE_DIR -j2 BUILD=build build/bench/bench_generator_cpu"
    git worktree add -f --detach "$BASE_DIR" "$BASE" >/dev/null 2>&1 || { log "git worktree add $BASE failed"; exit 1; }
    cp bench/bench_generator_cpu.c bench/bench_util.h "$BASE_DIR/bench/"
    NVCC= make -C "$BASE_DIR" -j2 BUILD=build build/bench/bench_generator_cpu >"$TMP/make_base.log" 2>&1 || { cat "$TMP/make_base.log" >&2; exit 1; }
    BASE_BIN=$BASE_DIR/build/bench/bench_generator_cpu
    trap 'git worktree remove --force "$BASE_DIR" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
fi
mkdir -p "$WORK/onnx" "$RESULTS"
net_pkl() { case $1 in cb16384) echo "$WORK/ffhq-cbase16384-256-random.pkl" ;; cb32768) echo "$WORK/ffhq-configf-256-random.pkl" ;;
                       f1024) echo "$WORK/ffhq-configf-1024-random.pkl" ;; *) return 1 ;; esac; }
net_args() { case $1 in cb16384) echo "--resolution 256 --channel-base 16384" ;; cb32768) echo "--resolution 256 --channel-base 32768" ;;
                        f1024) echo "--resolution 1024 --channel-base 32768" ;; esac; }
net_cfg() { case $1 in cb16384) echo "256², channel_base 16384" ;; cb32768) echo "256², channel_base 32768" ;;
                       f1024) echo "1024², config-f" ;; esac; }
: >"$TMP/exports.jsonl"
ROWS_JSON="["
for rb in $ROWS; do
    net=${rb%%:*}; batch=${rb##*:}
    pkl=$(net_pkl "$net") || { log "unknown network $net"; exit 1; }
    fsw=${pkl%.pkl}.fsw
    if [ ! -f "$pkl" ]; then
        log "making $pkl"; cmdlog "$PY bench/make_network_pkl.py -o $pkl $(net_args "$net")"
        "$PY" bench/make_network_pkl.py -o "$pkl" $(net_args "$net") >&2 || exit 1
    fi
    if [ ! -f "$fsw" ] || [ "$fsw" -ot "$pkl" ]; then
        cmdlog "$BUILD/facesynth convert $pkl -o $fsw"
        "$BUILD/facesynth" convert "$pkl" -o "$fsw" >&2 || exit 1
    fi
    onnx=$WORK/onnx/$(basename "${pkl%.pkl}")-b$batch.onnx
    if [ ! -f "$onnx" ] || [ "$onnx" -ot "$pkl" ]; then
        log "export $onnx"; cmdlog "$PY bench/cpu_generator_runtimes.py export --network $pkl --batch $batch --out $onnx"
        "$PY" bench/cpu_generator_runtimes.py export --network "$pkl" --batch "$batch" --out "$onnx" \
            2>"$TMP/export.log" | tail -n 1 >>"$TMP/exports.jsonl" || { tail -n 20 "$TMP/export.log" >&2; exit 1; }
        [ -s "$onnx" ] || { tail -n 20 "$TMP/export.log" >&2; log "export failed"; exit 1; }
    else
        "$PY" -c 'import json,os,sys,onnx; m=onnx.load(sys.argv[1], load_external_data=False); ops={}
for n in m.graph.node: ops[n.op_type]=ops.get(n.op_type,0)+1
print(json.dumps({"onnx": sys.argv[1], "exporter": "dynamo (cached)", "opset": [o.version for o in m.opset_import if o.domain in ("","ai.onnx")], "bytes": os.path.getsize(sys.argv[1]), "ops": ops}))' "$onnx" >>"$TMP/exports.jsonl"
    fi
    ROWS_JSON+="{\"label\": \"$net b$batch\", \"config\": \"$(net_cfg "$net")\", \"pkl\": \"$pkl\", \"fsw\": \"$fsw\", \"onnx\": \"$onnx\", \"batch\": $batch},"
done
ROWS_JSON="${ROWS_JSON%,}]"

# 5. peak, the interleaved rounds, peak again
: >"$TMP/peaks.jsonl"
peak() {
    "$BUILD/bench/bench_fma_peak" --threads "$THREADS" | tail -n 1 |
        "$PY" -c "import json,sys; d=json.loads(sys.stdin.read()); d['when']='$1'; print(json.dumps(d))" >>"$TMP/peaks.jsonl"
}
cmdlog "$BUILD/bench/bench_fma_peak --threads $THREADS"
peak "start"
DRIVE=("$PY" bench/cpu_generator_runtimes.py drive --rows "$ROWS_JSON" --facesynth-bin "$BIN" --threads "$THREADS"
       --warmup "$WARMUP" --rounds "$ROUNDS" --batches-per-round "$PER_ROUND" --runtimes "$RUNTIMES" --tmp "$TMP"
       --out-json "$TMP/drive.json")
[ -n "$BASE_BIN" ] && DRIVE+=(--base-bin "$BASE_BIN")
cmdlog "$PY bench/cpu_generator_runtimes.py drive --rows '$ROWS_JSON' --facesynth-bin $BIN --threads $THREADS --warmup $WARMUP --rounds $ROUNDS --batches-per-round $PER_ROUND --runtimes $RUNTIMES${BASE_BIN:+ --base-bin BASE_BIN}"
STATUS=ok
"${DRIVE[@]}" || STATUS=failed
peak "end"

# 6. profiles
PROFILES="[]"
if [ "$PROFILE" = 1 ] && perf record -e cpu-clock -o "$TMP/probe.data" -- true >/dev/null 2>&1; then
    PROFILES="["
    prof() {
        local bin=$1 what=$2 tag=$3
        local net=$WORK/ffhq-configf-256-random.fsw
        cmdlog "perf record -e cpu-clock -F 999 -o PERF.DATA -- $bin --network $net --batch 1 --reps 3 --warmup 1 --threads $THREADS; perf report --no-children --sort symbol --stdio"
        perf record -e cpu-clock -F 999 -o "$TMP/$tag.data" -- "$bin" --network "$net" --batch 1 --reps 3 --warmup 1 \
            --threads "$THREADS" >/dev/null 2>&1
        perf report -i "$TMP/$tag.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' |
            head -n 20 >"$TMP/$tag.txt"
        PROFILES+="{\"what\": \"$what\", \"report\": \"$TMP/$tag.txt\"},"
    }
    [ -n "$BASE_BIN" ] && prof "$BASE_BIN" "facesynth (base, $BASE), 256² channel_base 32768, batch 1" base
    prof "$BIN" "facesynth ($(git rev-parse --short HEAD)), 256² channel_base 32768, batch 1" ours
    PROFILES="${PROFILES%,}]"
else
    [ "$PROFILE" = 1 ] && NOTES+=("perf cannot sample cpu-clock here: no profiles")
fi

# 7. the report
export E_DATE=$DATE E_START=$START E_LOAD_START=$LOAD_START E_BUSY_START=$BUSY_START E_NICE=$NICE E_STATUS=$STATUS
export E_BASE=$BASE E_TMP=$TMP E_PY=$PY
export E_DIRTY=$(git status --porcelain --untracked-files=no -- engine bench Makefile 2>/dev/null | awk '{print $2}' | paste -sd ' ')
export E_CFLAGS="$(make -s --no-print-directory --eval 'fs-print-cflags: ; @echo $(CFLAGS)' fs-print-cflags 2>/dev/null)"
printf '%s\n' "${NOTES[@]}" >"$TMP/notes.txt"
"$PY" - >"$TMP/env.json" <<'PYEOF'
import json, os, platform, subprocess, sys, time
E = os.environ
def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
def ver(m):
    try:
        return __import__(m).__version__
    except Exception as e:
        return f'unavailable ({type(e).__name__})'
sys.path.insert(0, 'bench')
import _official
lscpu = lambda k: sh(f"lscpu | sed -n 's/^{k}:[[:space:]]*//p' | head -1")
env = {
    'date': E['E_DATE'], 'git': sh('git rev-parse --short HEAD'), 'dirty': E['E_DIRTY'], 'status': E['E_STATUS'],
    'nice': int(E['E_NICE']), 'wall_min': (time.time() - float(E['E_START'])) / 60,
    'loadavg_start': E['E_LOAD_START'], 'loadavg_end': open('/proc/loadavg').read().split()[:3], 'busy_start': E['E_BUSY_START'],
    'machine': {'cpu': lscpu('Model name'), 'family_model': f"{lscpu('CPU family')}/{lscpu('Model')}",
                'hypervisor': lscpu('Hypervisor vendor'), 'nproc': os.cpu_count(),
                'simd': ' '.join(sorted({f for f in open('/proc/cpuinfo').read().split() if f in ('avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_tile')})),
                'caches': sh("lscpu | sed -n 's/^\\(L[123][di]* cache\\):[[:space:]]*/\\1 /p' | paste -sd ';' | sed 's/;/; /g'"),
                'mem_gib': round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30, 1), 'kernel': platform.release()},
    'cc': sh('${CC:-cc} --version | head -1'), 'cflags': E['E_CFLAGS'],
    'versions': {m: ver(m) for m in ('torch', 'onnx', 'onnxscript', 'onnxruntime', 'openvino', 'numpy')} | {'python': platform.python_version()},
    'torch_note': "PyPI's Linux torch wheel is the CUDA build (the CPU-only wheels live on the PyTorch index, which this "
                  "machine cannot reach); it runs here on the CPU with its own CPU kernels (MKL, oneDNN).",
    'official_commit': _official.official_commit(),
    'base_desc': E['E_BASE'],
    'exports': [json.loads(l) for l in open(os.path.join(E['E_TMP'], 'exports.jsonl')) if l.strip().startswith('{')],
    'notes': [l.strip() for l in open(os.path.join(E['E_TMP'], 'notes.txt')) if l.strip()],
    'commands': ['bench/run_cpu_generator_bench.sh'] + [l.rstrip('\n') for l in open(os.path.join(E['E_TMP'], 'commands.txt'))],
}
print(json.dumps(env))
PYEOF
[ -s "$TMP/drive.json" ] || { log "no results"; exit 1; }
"$PY" bench/cpu_generator_runtimes.py report --drive-json "$TMP/drive.json" --env-json "$TMP/env.json" \
    --peaks "$TMP/peaks.jsonl" --profiles "$PROFILES" --out-json "$RESULTS/cpu_generator.json" \
    --out-md "$RESULTS/cpu_generator.md" || exit 1
[ "$STATUS" = ok ] || exit 1
