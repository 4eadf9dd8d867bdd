#!/usr/bin/env bash
# What checking the CRC-32 of every torch.save zip member costs (issue 15), and how fast each CRC-32
# path is. Writes bench/results/zip_crc.md.
#
# 1. CRC-32 throughput (a small C program written below, linked against $BUILD/libfacesynth.a and, for
#    the peer, zlib): over the bytes of the checkpoint (133 MB, from memory: the DRAM case) and over a
#    64 KiB buffer (cache-resident: the arithmetic's own ceiling), in GB/s, median/min/max of REPS
#    repetitions after one warm-up, the paths taking turns inside each repetition so that a busy
#    machine slows all of them alike:
#      - table    fs_crc32_portable: slicing-by-8, the old code and the fallback
#      - pclmul   fs_crc32 (must report "pclmul" on a CPU that has PCLMULQDQ and SSE4.1)
#      - zlib     crc32_z of the system zlib (peer)
#      - sum      a plain 64-bit sum of the same bytes: the read roofline for one core
#      - memcpy   a copy of the same bytes (GB/s of bytes read)
# 2. End to end: bench/bench_zip_crc.c (N in-memory conversions of a config-f 1024 generator state
#    dict after a warm-up, median/min/max) linked three ways against the same archive, run in turn
#    ROUNDS times: "pclmul" as built; "table" with weights_tools/crc32.c compiled with
#    -DFS_CRC32_PORTABLE_ONLY (the check as it was before the folding path); "without" with
#    weights_tools/zip.c compiled with -DFS_ZIP_BENCH_SKIP_CRC. Each replacement object is linked ahead of
#    the archive, so it replaces the archive's copy.
# Usage: bench/bench_zip_crc.sh [-n N] [--rounds R] [--reps REPS] [--build DIR]   (after `make BUILD=DIR`)
set -eu -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=9; ROUNDS=2; REPS=15; BUILD=build; CMDLINE="bench/bench_zip_crc.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
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

# ---- the throughput program ----
cat > "$TMP/crc_paths.c" <<'EOF'
/* CRC-32 GB/s of each path over the same bytes (see bench/bench_zip_crc.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench/bench_util.h"
#include "engine/file.h"
#include "weights_tools/crc32.h"

enum { TABLE, PCLMUL, ZLIB, SUM, MEMCPY, NPATH };
static const char *names[NPATH] = {"table (fs_crc32_portable)", "pclmul (fs_crc32)",
                                   "zlib crc32_z", "plain 64-bit sum", "memcpy"};
static volatile uint64_t sink;

static void run(int path, const uint8_t *p, size_t n, uint8_t *dst)
{
    switch (path) {
    case TABLE: sink += fs_crc32_portable(0, p, n); break;
    case PCLMUL: sink += fs_crc32(0, p, n); break;
    case ZLIB: sink += crc32_z(0, p, n); break;
    case SUM: {
        uint64_t acc = 0, w;
        for (size_t k = 0; k + 8 <= n; k += 8) {
            memcpy(&w, p + k, 8);
            acc += w;
        }
        sink += acc;
        break;
    }
    case MEMCPY: memcpy(dst, p, n); sink += dst[n / 2]; break;
    }
}

/* One buffer: `loops` passes per timing, reps timings after a warm-up. */
static void bench(const char *what, const uint8_t *p, size_t n, int loops, int reps, uint8_t *dst)
{
    double t[NPATH][1000];
    for (int r = -1; r < reps; r++)
        for (int path = 0; path < NPATH; path++) {
            double t0 = now_s();
            for (int l = 0; l < loops; l++)
                run(path, p, n, dst);
            if (r >= 0)
                t[path][r] = now_s() - t0;
        }
    printf("%s: %zu bytes x %d per timing, %d timings after 1 warm-up (GB/s: median, min, max)\n",
           what, n, loops, reps);
    for (int path = 0; path < NPATH; path++) {
        stats s = stats_of(t[path], reps);
        double b = (double)n * loops / 1e9;
        printf("  %-26s %6.2f GB/s  (%.2f .. %.2f)\n", names[path], b / s.median, b / s.max,
               b / s.min);
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    if (reps < 1 || reps > 1000)
        reps = 15;
    fs_file_map m;
    if (argc < 2 || fs_file_map_open(argv[1], &m) != FS_OK) {
        fprintf(stderr, "crc_paths: cannot map %s\n", argc > 1 ? argv[1] : "(no file)");
        return 1;
    }
    uint8_t *dst = malloc(m.size);
    if (!dst)
        return 1;
    memset(dst, 0, m.size);
    uint32_t a = fs_crc32(0, m.data, m.size), b = fs_crc32_portable(0, m.data, m.size),
             c = (uint32_t)crc32_z(0, m.data, m.size);
    printf("fs_crc32 path: %s; CRC-32 of the file: fs_crc32 %08x, table %08x, zlib %s %08x\n",
           fs_crc32_impl(), a, b, zlibVersion(), c);
    if (a != b || a != c)
        return 1;
    bench("checkpoint bytes (DRAM)", m.data, m.size, 1, reps, dst);
    bench("64 KiB of it (cache)", m.data + m.size / 2, 65536, 2000, reps, dst);
    free(dst);
    fs_file_map_close(&m);
    return 0;
}
EOF
$CC $FLAGS -I. "$TMP/crc_paths.c" "$LIB" -lz $LIBS -o "$TMP/crc_paths"

# ---- the three conversion programs ----
$CC $FLAGS bench/bench_zip_crc.c "$LIB" $LIBS -o "$TMP/pclmul"
$CC $FLAGS -DFS_CRC32_PORTABLE_ONLY -c weights_tools/crc32.c -o "$TMP/crc32_table.o"
$CC $FLAGS bench/bench_zip_crc.c "$TMP/crc32_table.o" "$LIB" $LIBS -o "$TMP/table"
$CC $FLAGS -DFS_ZIP_BENCH_SKIP_CRC -c weights_tools/zip.c -o "$TMP/zip_nocrc.o"
$CC $FLAGS -DFS_ZIP_BENCH_SKIP_CRC bench/bench_zip_crc.c "$TMP/zip_nocrc.o" "$LIB" $LIBS -o "$TMP/without"

mkdir -p bench/work bench/results
PT=bench/work/g1024-state-dict.pt
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
"$TMP/pclmul" -n 1 > /dev/null   # writes the checkpoint if missing, warms the page cache
"$TMP/crc_paths" "$PT" "$REPS" | tee "$TMP/paths"
for r in $(seq "$ROUNDS"); do
    for v in pclmul table without; do
        echo "[$v]"; "$TMP/$v" -n "$N"
    done
done | tee "$TMP/out"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

cpu_field() { awk -F': ' -v k="$1" '$1 ~ "^"k"[ \t]*$" {print $2; exit}' /proc/cpuinfo; }
{
    echo "# Cost of the CRC-32 check on every torch.save zip member"
    echo
    echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ) (git $(git rev-parse --short HEAD)$(git status --porcelain | grep -q . && echo +dirty))"
    echo "- CPU: $(cpu_field 'model name') (cpu family $(cpu_field 'cpu family'), model $(cpu_field model)," \
         "stepping $(cpu_field stepping)), $(nproc) CPUs$(grep -q hypervisor /proc/cpuinfo && echo ', a virtual machine');" \
         "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'pclmulqdq|sse4_1|avx2|avx512f|vpclmulqdq' | tr '\n' ' ')"
    echo "- Load average: $LOAD at start, $LOAD_END at end"
    echo "- Commands: \`make -j2 BUILD=$BUILD && $CMDLINE\` (library: $LIB, compiler: $($CC --version | head -1))"
    echo "- Input: $PT, a torch.save zip of a config-f 1024x1024 StyleGAN2 generator state dict written by"
    echo "  bench/bench_zip_crc.c (official names, 156 tensors, float32, 64-byte aligned stored members)."
    echo
    echo "## CRC-32 throughput, one core"
    echo
    echo "Each path over the same bytes, taking turns within each repetition; median of $REPS after a warm-up"
    echo "(in parentheses: slowest and fastest). \"sum\" and \"memcpy\" are the read roofline."
    echo
    echo '```'
    cat "$TMP/paths"
    echo '```'
    echo
    echo "## End to end: in-memory conversion with the folding check, the table check, and no check"
    echo
    echo "Each block: one process, 1 warm-up + $N timed \`fs_convert_to_memory\` calls (no disk write),"
    echo "median/min/max; its last two lines time the CRC-32 of every member alone (through"
    echo "\`fs_zip_entry_data\`, so 0 in \"without\") and a plain 64-bit read of the same bytes. [pclmul]: as"
    echo "built; [table]: crc32.c built with -DFS_CRC32_PORTABLE_ONLY (the check before this change);"
    echo "[without]: zip.c built with -DFS_ZIP_BENCH_SKIP_CRC. $ROUNDS rounds, the three in turn."
    echo
    echo '```'
    cat "$TMP/out"
    echo '```'
} > bench/results/zip_crc.md
echo "wrote bench/results/zip_crc.md" >&2
