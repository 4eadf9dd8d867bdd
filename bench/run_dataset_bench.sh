#!/usr/bin/env bash
# `facesynth dataset` end to end (draws, synthesis, the writer pool's encoding,
# writing, fsync and commits, the merge) against the pure compute of the same
# images, interleaved in one process by bench/bench_dataset.c, on a
# random-weight StyleGAN2 (build/bench/make_random_sg2) at 256x256.
# Writes bench/results/dataset.md (or dataset_cuda.md with DEVICE=cuda...).
#
# Usage: bench/run_dataset_bench.sh
# Environment (defaults in brackets): BUILD [build]  DEVICE [cpu]
#   IMAGES [16]  BATCH [4 on the CPU, 32 on CUDA]  ROUNDS [3]  WRITERS [2]
#   CHANNEL_BASE [16384]  RESULTS [bench/results]  NICE [-10]  COMMIT [git's HEAD]
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$SELF")/.." || exit 1
NICE=${NICE:--10}
# a session of its own, so that its autogroup can be given priority on a shared host
if [ "$NICE" != 0 ] && [ -z "${FS_BENCH_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_BENCH_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
BUILD=${BUILD:-build}
DEVICE=${DEVICE:-cpu}
case "$DEVICE" in cuda*) DEF_BATCH=32; OUTNAME=dataset_cuda ;; *) DEF_BATCH=4; OUTNAME=dataset ;; esac
IMAGES=${IMAGES:-16}
BATCH=${BATCH:-$DEF_BATCH}
ROUNDS=${ROUNDS:-3}
WRITERS=${WRITERS:-2}
CHANNEL_BASE=${CHANNEL_BASE:-16384}
RESULTS=${RESULTS:-bench/results}
log() { echo "[dataset_bench] $*" >&2; }
if [ "$NICE" != 0 ]; then
    if ! { [ -w /proc/self/autogroup ] && echo "$NICE" >/proc/self/autogroup 2>/dev/null; }; then
        log "cannot set the autogroup nice to $NICE; running at the default priority"; NICE=0
    fi
fi
make -j2 BUILD="$BUILD" "$BUILD/bench/bench_dataset" "$BUILD/bench/make_random_sg2" >&2 || exit 1
NET="$BUILD/bench/random_sg2_256_cb$CHANNEL_BASE.fsw"
[ -f "$NET" ] || "$BUILD/bench/make_random_sg2" --out "$NET" --resolution 256 \
    --channel-base "$CHANNEL_BASE" >&2 || exit 1
WORK=$(mktemp -d /tmp/fs_dataset_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# the commit measured (COMMIT overrides it, e.g. for an exported tree)
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
run() { # label, extra flags
    local cmd=("$BUILD/bench/bench_dataset" --network "$NET" --images "$IMAGES" --batch "$BATCH"
               --rounds "$ROUNDS" --writers "$WRITERS" --device "$DEVICE" --workdir "$WORK/out" "${@:2}")
    log "${cmd[*]}"
    echo "### $1"
    echo
    echo '```'
    echo "\$ ${cmd[*]}"
    "${cmd[@]}" 2>"$WORK/rounds.txt" || { cat "$WORK/rounds.txt" >&2; exit 1; }
    echo
    cat "$WORK/rounds.txt"
    echo '```'
    echo
}
{
    echo "# facesynth dataset: end to end against pure compute"
    echo
    echo "- date: $DATE; commit $COMMIT"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); device $DEVICE"
    echo "- load average before: $LOAD0; autogroup nice $NICE (a shared host)"
    echo "- network: random weights from \`$BUILD/bench/make_random_sg2 --resolution 256 --channel-base $CHANNEL_BASE\`"
    echo "  (config-f shapes at 256x256), truncation 0.7, half the ws from each image's variation, random noise"
    echo "- made by: \`bench/run_dataset_bench.sh\` (BUILD=$BUILD DEVICE=$DEVICE IMAGES=$IMAGES BATCH=$BATCH ROUNDS=$ROUNDS WRITERS=$WRITERS)"
    echo
    echo "Modes, interleaved in one process after the network is loaded, order rotated per round:"
    echo "**compute** renders the images only (draws, mapping, synthesis, uint8, copy back);"
    echo "**end-to-end** is the library's run (fs_ds_run_prepare + execute): the same compute while the"
    echo "writer pool encodes, writes, fsyncs and commits every chunk, then the merge;"
    echo "**serial** encodes and writes each batch on the computing thread, after it."
    echo
    run "ImageFolder, PNG"
    run "WebDataset tar, JPEG (quality 95)" --format tar --image jpg
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$WORK/report.md"
mkdir -p "$RESULTS"
cp "$WORK/report.md" "$RESULTS/$OUTNAME.md"
log "wrote $RESULTS/$OUTNAME.md"
cat "$RESULTS/$OUTNAME.md"
