#!/usr/bin/env bash
# Everything that needs a GPU, in one prepared run for a machine with an NVIDIA
# device (issue 14's verification list), in order of value, each stage bounded
# in time so that the whole fits a short device loan (BUDGET_S, default 540 s
# after the start: the device tool allows 600 s per command; to give every
# stage more room, split the run into two calls on a warm machine, e.g.
# "check,sanitize" then "layers,e2e": the second reuses the build), and no
# stage's failure stops the later ones:
#   build     the library, the benches and the test binaries for this GPU's
#             architecture only (BUILD, default build-gpu; make -j all cores);
#   check     the gpu-tagged Check cases (CK_INCLUDE_TAGS=gpu) of test_backend_ops,
#             test_cuda_backend, test_cuda_cast, test_sg2_precision, test_stylegan2_g
#             and test_sg2_pipeline, and test_modconv_v2_sim (CPU) whole, each suite
#             that exists, through make check-run T=...;
#   sanitize  compute-sanitizer memcheck, racecheck and synccheck on the CUDA op
#             tests (test_backend_ops, case gpu, FS_TEST_HEAVY=0);
#   layers    bench_cuda_layers at batch 32 and 64: every modconv layer of
#             config-f 1024 with v1 (fp32 NCHW) against cuDNN fp32, and every 3x3
#             layer with v2 (fp16 NHWC) against cuDNN fp16 NHWC (tensor ops),
#             CUDA events, medians, TFLOP/s and % of peak; layers.md puts the
#             performance model's prediction (bench/results/perf_model.json)
#             next to each v2 time;
#   e2e       the generator end to end at 256/512/1024, batch sweep E2E_BATCHES,
#             precision fp32/fp16/mixed (ours where bench_generator_cpu takes
#             --precision, else fp32 only), against the official PyTorch
#             generator on the same GPU (bench/official_generator_gpu.py: fp32 =
#             --fp32, mixed = its default num_fp16_res = 4; it has no all-fp16
#             mode); needs torch and the official code in bench/third_party/
#             (carry bench/third_party/stylegan2-ada-pytorch, 1.6 MB), else ours
#             alone on a random network from make_random_sg2.
# Usage: bench/run_on_gpu.sh [all|check|sanitize|layers|e2e|a,b,...] (default all;
#        build always runs first)
# Output: $OUT if set (the device tool's folder), else bench/results/gpu/: device.txt,
# build.log, check-*.log, sanitizer-*.log, layers-b*.{txt,json}, layers.md,
# e2e.jsonl, e2e.md, e2e.json, summary.md, summary.json. Exit 1 if a stage failed.
# Env: BUDGET_S (540), BUILD (build-gpu), E2E_BATCHES ("32 64 8"), E2E_RES
# ("1024 512 256"), REPS (10).
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
STAGE=${1:-all}
DEST=${OUT:-bench/results/gpu}
BUILD=${BUILD:-build-gpu}
BUDGET_S=${BUDGET_S:-540}
# most valuable first, since the budget may end the sweep
E2E_BATCHES=${E2E_BATCHES:-32 64 8}
E2E_RES=${E2E_RES:-1024 512 256}
REPS=${REPS:-10}
mkdir -p "$DEST"
T0=$(date +%s)
log() { echo "[run_on_gpu +$(($(date +%s) - T0))s] $*" >&2; }
left() { echo $((BUDGET_S - ($(date +%s) - T0))); }
want() { [ "$STAGE" = all ] || [[ ",$STAGE," == *",$1,"* ]]; }
# bounded SECONDS CMD...: CMD under a timeout of SECONDS or what is left of the
# budget, whichever is less; 124 without running it when under 10 s are left.
bounded() {
    local s=$1 l
    shift
    l=$(left)
    [ "$l" -lt "$s" ] && s=$l
    [ "$s" -lt 10 ] && return 124
    timeout --kill-after=10 "$s" "$@"
}
SUMMARY=()
record() { SUMMARY+=("$1	$2	$3"); log "$1: $2${3:+ ($3)}"; } # stage, ok|FAILED|skipped, note
FAILED=0

# ---- the device ---------------------------------------------------------------------
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv \
    > "$DEST/device.txt" 2>&1
cat "$DEST/device.txt" >&2
CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')
case $CAP in
    90) ARCHS="-gencode arch=compute_90a,code=sm_90a" ;;
    [0-9][0-9]|[0-9][0-9][0-9]) ARCHS="-gencode arch=compute_$CAP,code=sm_$CAP" ;;
    *) ARCHS= ;; # the Makefile's default (sm_80 + sm_90a)
esac
MK=(make --no-print-directory BUILD="$BUILD" ${ARCHS:+CUDA_ARCHS="$ARCHS"})
CUDA_HOME=$("${MK[@]}" -s --eval='fs-print-%: ; @echo $($*)' fs-print-CUDA_HOME 2>/dev/null)
SANITIZER=$(command -v compute-sanitizer || ls "$CUDA_HOME"/bin/compute-sanitizer \
    /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -n 1)

# ---- build --------------------------------------------------------------------------
SUITES=(backend_ops cuda_backend cuda_cast sg2_precision stylegan2_g sg2_pipeline modconv_v2_sim)
TESTS=()
for t in "${SUITES[@]}"; do [ -f "tests/test_$t.c" ] && TESTS+=("$BUILD/tests/test_$t"); done
# the library and benches first, then the test binaries (they also need Check):
# a machine without libcheck still gets the layer and e2e stages
build_step() { # name target...
    local name=$1 rc
    shift
    log "build $name ($BUILD, ${ARCHS:-default archs})"
    bounded 360 "${MK[@]}" -j"$(nproc)" "$@" >> "$DEST/build.log" 2>&1
    rc=$?
    case $rc in
        0) record "build $name" ok ""; return 0 ;;
        124|137) record "build $name" FAILED "timed out (build.log)" ;;
        *) record "build $name" FAILED "rc $rc: $(grep -m1 -E 'error:|Error [0-9]' "$DEST/build.log" | cut -c1-160)" ;;
    esac
    FAILED=1
    return 1
}
: > "$DEST/build.log"
BUILT=0 TESTS_BUILT=0
build_step core all "$BUILD/bench/bench_cuda_layers" "$BUILD/bench/bench_generator_cpu" \
    "$BUILD/bench/make_random_sg2" && BUILT=1
if [ $BUILT = 1 ] && { want check || want sanitize; }; then
    build_step tests "${TESTS[@]}" && TESTS_BUILT=1
fi

# ---- (a) tests ----------------------------------------------------------------------
if want check; then
    if [ "$TESTS_BUILT" = 0 ]; then
        record check skipped "no build"
    else
        for t in "${SUITES[@]}"; do
            [ -f "tests/test_$t.c" ] || { record "check $t" skipped "no tests/test_$t.c"; continue; }
            tagenv=(CK_INCLUDE_TAGS=gpu)
            [ "$t" = modconv_v2_sim ] && tagenv=(-u CK_INCLUDE_TAGS) # CPU only: every case
            log "check $t (${tagenv[*]})"
            limit=120
            [ "$t" = backend_ops ] && limit=240 # every op case, the heavy ones too, on the GPU
            bounded $limit env "${tagenv[@]}" FS_TEST_VERBOSE=1 "${MK[@]}" check-run T="$t" \
                > "$DEST/check-$t.log" 2>&1
            rc=$?
            res=$(grep -E '^[0-9]+%: Checks' "$DEST/check-$t.log" | tail -n 1)
            if [ $rc = 0 ]; then
                record "check $t" ok "$res"
            else
                FAILED=1
                record "check $t" FAILED "rc $rc${res:+, $res}; $(grep -m2 -E ':[FE]:' "$DEST/check-$t.log" | cut -c1-160 | tr '\n' ' ')"
            fi
        done
    fi
fi

# ---- (b) compute-sanitizer ------------------------------------------------------------
if want sanitize; then
    if [ "$TESTS_BUILT" = 0 ]; then
        record sanitize skipped "no build"
    elif [ -z "$SANITIZER" ]; then
        record sanitize skipped "no compute-sanitizer"
    else
        for tool in memcheck racecheck synccheck; do
            log "compute-sanitizer $tool"
            # every op case but the heavy ones, CUDA against the CPU
            bounded 150 env CK_FORK=no CK_RUN_CASE=gpu FS_TEST_HEAVY=0 "$SANITIZER" --tool "$tool" \
                --error-exitcode 9 "$BUILD/tests/test_backend_ops" > "$DEST/sanitizer-$tool.log" 2>&1
            rc=$?
            tail -n 3 "$DEST/sanitizer-$tool.log" >&2
            summary=$(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$DEST/sanitizer-$tool.log")
            case $rc in
                0) record "sanitize $tool" ok "$summary" ;;
                124|137) FAILED=1; record "sanitize $tool" FAILED "timed out${summary:+; $summary}" ;;
                *) FAILED=1; record "sanitize $tool" FAILED "rc $rc; $summary" ;;
            esac
        done
    fi
fi

# ---- (c) layers against cuDNN ---------------------------------------------------------
if want layers; then
    if [ "$BUILT" = 0 ]; then
        record layers skipped "no build"
    else
        for batch in 32 64; do
            log "layers batch $batch (v1 fp32, v2 fp16)"
            bounded 200 "$BUILD/bench/bench_cuda_layers" --batch "$batch" --reps "$REPS" \
                --json "$DEST/layers-b$batch.json" > "$DEST/layers-b$batch.txt" 2>&1
            rc=$?
            cat "$DEST/layers-b$batch.txt" >&2
            if [ $rc = 0 ]; then
                record "layers b$batch" ok "$(grep -E '^# v2 3x3' "$DEST/layers-b$batch.txt" | cut -c3-)"
            else
                FAILED=1
                record "layers b$batch" FAILED "rc $rc; $(tail -n 1 "$DEST/layers-b$batch.txt" | cut -c1-160)"
            fi
        done
        # layers.md: both batches with the model's v2 prediction beside each layer
        python3 - "$DEST" bench/results/perf_model.json > "$DEST/layers.md" <<'EOF' || log "layers.md failed"
import json, os, sys
dest, model_path = sys.argv[1], sys.argv[2]
model = {}
try:
    m = json.load(open(model_path))
    for net in m['networks']:
        if net['resolution'] == 1024:
            for l in net['layers']:
                model[(l['block'], l['layer'])] = l['us_per_img']
except (OSError, ValueError, KeyError):
    pass
print('# CUDA modconv layers of config-f 1024 against cuDNN\n')
print('Generated by `bench/run_on_gpu.sh layers` from layers-b*.json. ms per layer call; TFLOP/s '
      'count useful FLOPs (no inserted zeros); model = bench/perf_model.c\'s v2 prediction for the '
      'layer at peak rates (docs/cuda_perf_model.md), scaled to the batch.\n')
for b in (32, 64):
    p = os.path.join(dest, 'layers-b%d.json' % b)
    if not os.path.exists(p):
        continue
    try:
        r = json.load(open(p))
    except ValueError:
        print('layers-b%d.json unreadable\n' % b)
        continue
    pk = r['peak_tflops']['fp16'] or 0
    dev = 'H200' if 'H200' in r['device'] else 'H100 SXM'
    print('## batch %d, %s, cuDNN %s\n' % (b, r['device'], r['cudnn']))
    print('| layer | GFLOP | v1 ms | cuDNN fp32 ms | v2 ms | v2 TFLOP/s | v2 %% peak | model v2 ms (%s) | '
          'cuDNN fp16 ms | cuDNN conv-only ms | cuDNN fp16 / v2 |' % dev)
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    v1 = {x['layer']: x for x in r.get('v1', [])}
    for x in r.get('v2', []):
        blk, lay = x['layer'].split('.', 1)
        lay = 'conv0 up' if lay == 'conv0' else lay
        us = model.get((blk, lay), {}).get(dev + ' v2 fp16')
        tf = x['gflop'] / x['ours_ms']
        a = v1.get(x['layer'])
        ms = lambda v: '%.3f' % v if isinstance(v, (int, float)) else '-'
        dn = x.get('cudnn_ms')
        print('| %s | %.2f | %s | %s | %.3f | %.1f | %s | %s | %s | %s | %s |' % (
            x['layer'], x['gflop'], ms(a['ours_ms']) if a else '-', ms(a.get('cudnn_ms')) if a else '-',
            x['ours_ms'], tf, '%.1f%%' % (100 * tf / pk) if pk else '-',
            ms(us * b / 1000) if us is not None else '-', ms(dn), ms(x.get('cudnn_conv_only_ms')),
            '%.2f' % (dn / x['ours_ms']) if isinstance(dn, (int, float)) else '-'))
    print()
EOF
    fi
fi

# ---- (d) end to end ---------------------------------------------------------------------
if want e2e; then
    if [ "$BUILT" = 0 ]; then
        record e2e skipped "no build"
    else
        GEN=$BUILD/bench/bench_generator_cpu
        PRECS=fp32
        help=$("$GEN" --help 2>&1) # (a pipe into grep -q would take --help's exit status)
        if [[ $help == *--precision* ]]; then
            PRECS="fp32 fp16 mixed"
        else
            record "e2e ours fp16/mixed" skipped "bench_generator_cpu has no --precision"
        fi
        HAVE_TORCH=0
        python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null &&
            [ -d bench/third_party/stylegan2-ada-pytorch ] && HAVE_TORCH=1
        [ $HAVE_TORCH = 1 ] || record "e2e official" skipped "no torch with CUDA or no bench/third_party/stylegan2-ada-pytorch"
        mkdir -p bench/work
        : > "$DEST/e2e.jsonl"
        e2e_fail=0
        for res in $E2E_RES; do
            pkl=bench/work/ffhq-configf-$res-random.pkl
            fsw=bench/work/ffhq-configf-$res-random.fsw
            if [ $HAVE_TORCH = 1 ] && [ ! -f "$pkl" ]; then
                bounded 120 python3 bench/make_network_pkl.py --resolution "$res" -o "$pkl" >&2 || rm -f "$pkl"
            fi
            net=$pkl
            if [ ! -f "$net" ]; then
                net=$fsw
                [ -f "$net" ] || bounded 60 "$BUILD/bench/make_random_sg2" --out "$net" --resolution "$res" \
                    --channel-base 32768 >&2 || { e2e_fail=1; record "e2e $res" FAILED "no network"; continue; }
            fi
            for batch in $E2E_BATCHES; do
                for prec in $PRECS; do
                    log "e2e $res batch $batch $prec: ours"
                    popt=()
                    [ "$PRECS" = fp32 ] || popt=(--precision "$prec")
                    line=$(bounded 120 "$GEN" --network "$net" --device cuda --batch "$batch" "${popt[@]}" \
                        --reps "$REPS" --warmup 3 --label "config-f-$res" 2>>"$DEST/e2e.log" | tail -n 1)
                    if [ "${line:0:1}" = "{" ]; then
                        echo "{\"who\": \"ours\", \"res\": $res, \"batch\": $batch, \"precision\": \"$prec\", \"result\": $line}" >> "$DEST/e2e.jsonl"
                    else
                        e2e_fail=1
                        echo "{\"who\": \"ours\", \"res\": $res, \"batch\": $batch, \"precision\": \"$prec\", \"result\": null}" >> "$DEST/e2e.jsonl"
                    fi
                    [ $HAVE_TORCH = 1 ] && [ "${net%.pkl}" != "$net" ] || continue
                    case $prec in fp32) oopt=(--fp32) ;; mixed) oopt=() ;; *) continue ;; esac
                    log "e2e $res batch $batch $prec: official"
                    line=$(bounded 180 python3 bench/official_generator_gpu.py --network "$net" --batch "$batch" \
                        --reps "$REPS" "${oopt[@]}" 2>>"$DEST/e2e.log" | tail -n 1)
                    if [ "${line:0:1}" = "{" ]; then
                        echo "{\"who\": \"official\", \"res\": $res, \"batch\": $batch, \"precision\": \"$prec\", \"result\": $line}" >> "$DEST/e2e.jsonl"
                    else
                        e2e_fail=1
                    fi
                done
            done
        done
        python3 - "$DEST" <<'EOF' || log "e2e.md failed"
import json, os, sys
dest = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(dest, 'e2e.jsonl')) if l.strip()]
def ips(r):
    x = r['result'] or {}
    for k in ('img_per_s', 'synthesis_img_per_s', 'img_s'):
        if isinstance(x.get(k), (int, float)):
            return x[k]
    return None
json.dump(rows, open(os.path.join(dest, 'e2e.json'), 'w'), indent=1)
with open(os.path.join(dest, 'e2e.md'), 'w') as f:
    f.write('# Generator end to end on the GPU: ours against the official PyTorch generator\n\n')
    f.write('Generated by `bench/run_on_gpu.sh e2e` (e2e.jsonl holds every result line as printed). '
            'img/s of the whole generator per batch; official fp32 = --fp32, mixed = its default '
            'num_fp16_res = 4.\n\n')
    f.write('| res | batch | precision | ours img/s | official img/s | ours / official |\n|---:|---:|---|---:|---:|---:|\n')
    keys = sorted({(r['res'], r['batch'], r['precision']) for r in rows})
    for k in keys:
        o = [ips(r) for r in rows if (r['res'], r['batch'], r['precision']) == k and r['who'] == 'ours']
        p = [ips(r) for r in rows if (r['res'], r['batch'], r['precision']) == k and r['who'] == 'official']
        o = o[0] if o else None
        p = p[0] if p else None
        f.write('| %d | %d | %s | %s | %s | %s |\n' % (k[0], k[1], k[2], '%.1f' % o if o else '-',
                '%.1f' % p if p else '-', '%.2f' % (o / p) if o and p else '-'))
EOF
        if [ $e2e_fail = 0 ]; then record e2e ok "$(wc -l < "$DEST/e2e.jsonl") results"; else FAILED=1; record e2e FAILED "see e2e.log"; fi
    fi
fi

# ---- summary --------------------------------------------------------------------------------
{
    echo "# GPU verification run"
    echo
    echo "\`bench/run_on_gpu.sh $STAGE\` at $(git rev-parse --short HEAD 2>/dev/null) on $(sed -n 2p "$DEST/device.txt"),"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(($(date +%s) - T0)) s of a $BUDGET_S s budget."
    echo
    echo "| stage | result | note |"
    echo "|---|---|---|"
    for s in "${SUMMARY[@]}"; do
        IFS=$'\t' read -r a b c <<< "$s"
        echo "| $a | $b | ${c//|/\\|} |"
    done
} > "$DEST/summary.md"
python3 - "$DEST" "${SUMMARY[@]}" <<'EOF' 2>/dev/null
import json, sys
dest, rows = sys.argv[1], sys.argv[2:]
json.dump([dict(zip(('stage', 'result', 'note'), r.split('\t', 2))) for r in rows],
          open(dest + '/summary.json', 'w'), indent=1)
EOF
echo >&2
cat "$DEST/summary.md" >&2
exit $FAILED
