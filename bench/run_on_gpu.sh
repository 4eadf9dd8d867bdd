#!/usr/bin/env bash
# Everything that needs a GPU, in one go, for a machine with an NVIDIA device:
#   1. build and the full test suite (the gpu-tagged Check cases run for real here),
#   2. compute-sanitizer memcheck and racecheck on the CUDA op tests (test_backend_ops),
#   3. the per-layer benchmark against cuDNN (config-f 1024, batch 32 and 64),
#   4. end-to-end img/s of our generator against the official PyTorch generator
#      (needs torch and the official code carried in bench/third_party/).
# Usage: bench/run_on_gpu.sh [check|sanitize|layers|e2e|all] (default all)
# Output goes to $OUT if set (the device tool's folder), else bench/results/gpu/.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
STAGE=${1:-all}
DEST=${OUT:-bench/results/gpu}
mkdir -p "$DEST"
log() { echo "[run_on_gpu] $*" >&2; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$DEST/device.txt" 2>&1
cat "$DEST/device.txt" >&2
make -j"$(nproc)" all >/dev/null && make bench bench-cuda >/dev/null || { log "build failed"; exit 1; }

rc=0
if [ "$STAGE" = check ] || [ "$STAGE" = all ]; then
    log "tests"
    FS_TEST_VERBOSE=1 make check 2>&1 | tee "$DEST/check.log" | grep -E "^==|%:|SKIP|:F:|:E:" || rc=1
fi
if [ "$STAGE" = sanitize ] || [ "$STAGE" = all ]; then
    for tool in memcheck racecheck; do
        log "compute-sanitizer $tool"
        # every op case but the heavy ones (FS_TEST_HEAVY=0), CUDA against the CPU
        CK_FORK=no CK_RUN_CASE=gpu FS_TEST_HEAVY=0 compute-sanitizer --tool "$tool" \
            --error-exitcode 9 build/tests/test_backend_ops > "$DEST/sanitizer-$tool.log" 2>&1 || rc=1
        tail -n 3 "$DEST/sanitizer-$tool.log" >&2
    done
fi
if [ "$STAGE" = layers ] || [ "$STAGE" = all ]; then
    for batch in 32 64; do
        for p in "" --tf32; do
            log "layers batch $batch $p"
            build/bench/bench_cuda_layers --batch "$batch" $p 2>&1 | tee -a "$DEST/layers.txt" >&2
        done
    done
fi
if [ "$STAGE" = e2e ] || [ "$STAGE" = all ]; then
    for res in 256 512 1024; do
        pkl=bench/work/ffhq-configf-$res-random.pkl
        [ -f "$pkl" ] || python3 bench/make_network_pkl.py --resolution "$res" -o "$pkl" >&2 || continue
        for batch in 8 32 64; do
            log "e2e $res batch $batch"
            build/bench/bench_generator_cpu --network "$pkl" --device cuda --batch "$batch" \
                --reps 10 --warmup 3 --label "config-f-$res" 2>&1 | tail -n 1 >> "$DEST/e2e_ours.jsonl"
            python3 bench/official_generator_gpu.py --network "$pkl" --batch "$batch" 2>&1 |
                tail -n 1 >> "$DEST/e2e_official.jsonl"
        done
    done
fi
exit $rc
