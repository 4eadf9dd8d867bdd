#!/usr/bin/env bash
# What checking the CRC-32 of every torch.save zip member costs (issue 15).
# Links bench/bench_zip_crc.c twice against $BUILD/libfacesynth.a: once as is, once with a copy of
# weights_tools/zip.c compiled with -DFS_ZIP_BENCH_SKIP_CRC (linked ahead of the archive, so it replaces
# the archive's zip.o), then runs the two alternately, ROUNDS times each; every run converts the same
# config-f 1024 generator state dict (.pt, written on first use) to memory N times after a warm-up and
# prints median/min/max. Writes bench/results/zip_crc.md.
# Usage: bench/bench_zip_crc.sh [-n N] [--rounds R] [--build DIR]   (after `make BUILD=DIR`)
set -eu -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=9; ROUNDS=2; BUILD=build; CMDLINE="bench/bench_zip_crc.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        *) echo "bench_zip_crc.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
LIB=$BUILD/libfacesynth.a
[ -f "$LIB" ] || { echo "bench_zip_crc.sh: $LIB missing (run make BUILD=$BUILD)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_zip_crc.XXXXXX"); trap 'rm -rf "$TMP"' EXIT
CC=${CC:-cc}
FLAGS="-O3 -g -std=c11 -D_DEFAULT_SOURCE -pthread $(pkg-config --cflags libpng 2>/dev/null)"
LIBS="-lpng -lm -pthread"
if nm "$LIB" 2>/dev/null | grep -q ' U cuda'; then
    LIBS="$LIBS -L${CUDA_HOME:-/usr/local/cuda}/lib64 -lcudart_static -lstdc++ -ldl -lrt"
fi
$CC $FLAGS bench/bench_zip_crc.c "$LIB" $LIBS -o "$TMP/with"
$CC $FLAGS -DFS_ZIP_BENCH_SKIP_CRC -c weights_tools/zip.c -o "$TMP/zip_nocrc.o"
$CC $FLAGS -DFS_ZIP_BENCH_SKIP_CRC bench/bench_zip_crc.c "$TMP/zip_nocrc.o" "$LIB" $LIBS -o "$TMP/without"
mkdir -p bench/work bench/results
"$TMP/with" -n 1 > /dev/null   # writes the checkpoint if missing, warms the page cache
for r in $(seq "$ROUNDS"); do
    "$TMP/with" -n "$N"; "$TMP/without" -n "$N"
done | tee "$TMP/out"
{
    echo "# Cost of the CRC-32 check on every torch.save zip member"
    echo
    echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ) (git $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty))"
    echo "- Machine: $(nproc) x $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Command: \`$CMDLINE\` (library: $LIB)"
    echo "- Input: a torch.save zip of a config-f 1024x1024 StyleGAN2 generator state dict written by"
    echo "  bench/bench_zip_crc.c (official names, 156 tensors, float32, 64-byte aligned stored members)."
    echo "- Each line: one process, 1 warm-up + $N timed in-memory conversions (\`fs_convert_to_memory\`, no disk"
    echo "  write), median/min/max; \"without\" is the same program linked against zip.c built with"
    echo "  -DFS_ZIP_BENCH_SKIP_CRC. The last two lines of each \"with\" run time the CRC-32 of every member alone"
    echo "  and a plain 64-bit read of the same bytes."
    echo
    echo '```'
    cat "$TMP/out"
    echo '```'
} > bench/results/zip_crc.md
echo "wrote bench/results/zip_crc.md" >&2
