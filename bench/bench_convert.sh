#!/usr/bin/env bash
# Benchmark `facesynth convert` on a config-f 1024 StyleGAN2-ADA network pickle, in one run:
#   1. raw read speed of the pickle (cat / dd to /dev/null; warm page cache, and cold if root can drop it)
#   2. build/facesynth convert PKL -o bench/work/out.fsw : 1 warm-up + N timed runs (median/min/max,
#      peak RSS), plus N cold-cache runs when the page cache can be dropped (after each, fincore tells how
#      much of the input the kernel read for it, readahead included); output size vs input; and, if a C
#      compiler is there, N cold runs with an LD_PRELOAD shim (built in a temp dir) that turns the
#      converter's madvise(MADV_SEQUENTIAL) into MADV_RANDOM, so that only the pages it really touches
#      are read: that gives the bytes the converter needs (timed too, for information)
#   3. disk baselines with the converter's output size B (the converter writes a new file, fsyncs it and
#      renames it over the old one; the baselines do the same with dd conv=fsync + mv):
#      raw write of B bytes (zeros, and a copy of the page-cached output), read input + write B
#      (warm and cold), and cold: read as many input bytes as the converter touches / as the kernel read
#      for it (from the start of the file) + write B
#   4. the official Python loader (bench/load_official.py: legacy.load_network_pkl(f)['G_ema'] and plain
#      pickle.load, CPU, warm and cold)
# and writes bench/results/convert.md and bench/results/convert.json.
#
# Usage: bench/bench_convert.sh [PKL] [options]
#   PKL                 default bench/work/ffhq-configf-1024-random.pkl (generated if missing)
#   -n N                timed runs per measurement (default 5)
#   --net NET           pass --net NET to the converter (default: converter's default)
#   --no-convert        skip the converter part
#   --no-official       skip the official Python loader
#   --no-cold           never drop the page cache
#   --results DIR       where convert.md / convert.json go (default bench/results)
# Environment: FACESYNTH (default build/facesynth), PYTHON (default /usr/bin/python3, needs torch),
#   FACESYNTH_SG2ADA (official code, default bench/third_party/stylegan2-ada-pytorch).
# Run from anywhere; paths are relative to the repository root. Dropping the page cache needs root.
# On a machine shared with other CPU-heavy work (with sched autogroup on, plain `nice` does not help
# across sessions), run it in its own raised-priority session, as for bench/results/convert.md:
#   setsid bash -c 'echo -15 > /proc/self/autogroup; exec nice -n -15 ionice -c2 -n0 bench/bench_convert.sh -n 5'
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

PKL=bench/work/ffhq-configf-1024-random.pkl
N=5
NET=
DO_CONVERT=1
DO_OFFICIAL=1
DO_COLD=1
RESULTS=bench/results
FACESYNTH=${FACESYNTH:-build/facesynth}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=bench/work/out.fsw
DDOUT=bench/work/dd.out
CMDLINE="bench/bench_convert.sh${*:+ $*}"

while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift 2 ;;
        --net) NET=$2; shift 2 ;;
        --no-convert) DO_CONVERT=0; shift ;;
        --no-official) DO_OFFICIAL=0; shift ;;
        --no-cold) DO_COLD=0; shift ;;
        --results) RESULTS=$2; shift 2 ;;
        -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "bench_convert.sh: unknown option $1" >&2; exit 2 ;;
        *) PKL=$1; shift ;;
    esac
done
case "$N" in ''|*[!0-9]*|0) echo "bench_convert.sh: -n needs a positive integer" >&2; exit 2 ;; esac

mkdir -p bench/work "$RESULTS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_convert.XXXXXX") || exit 1
BIN=bench/work/facesynth.bench   # the converter runs from a copy taken now, so a rebuild during the run cannot change it
trap 'rm -rf "$TMP"; rm -f "$DDOUT" "$DDOUT.tmp" "$BIN"' EXIT
log() { echo "[bench_convert] $*" >&2; }

# ---------------------------------------------------------------------------------------------------
# Input pickle
if [ ! -f "$PKL" ]; then
    if [ "$PKL" = bench/work/ffhq-configf-1024-random.pkl ]; then
        log "$PKL missing; generating it (bench/make_network_pkl.py)"
        "$PYTHON" bench/make_network_pkl.py --resolution 1024 --seed 0 -o "$PKL" >&2 || { log "could not generate $PKL"; exit 1; }
    else
        log "$PKL: not found"; exit 1
    fi
fi
IN_BYTES=$(stat -c %s "$PKL")

# ---------------------------------------------------------------------------------------------------
# Helpers
now() { date +%s.%N; }
drop_caches() { sync && { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; }
CAN_DROP=0
if [ "$DO_COLD" = 1 ] && drop_caches; then CAN_DROP=1; fi
resident_bytes() {  # bytes of the file resident in the page cache, or "null"
    if command -v fincore >/dev/null 2>&1; then
        fincore -b -n -o RES "$1" 2>/dev/null | awk '{print $1; exit}'
    else echo null; fi
}
cached_pct() {  # percentage of the file resident in the page cache, or "?"
    if command -v fincore >/dev/null 2>&1; then
        fincore -b -n -o PAGES,SIZE "$1" 2>/dev/null | awk '{ps=4096; if ($2>0) printf "%.0f", 100*$1*ps/$2; else print "?"; exit}'
    else echo "?"; fi
}
# stats FILE -> "median min max" of the numbers in FILE (one per line)
stats() { sort -g "$1" | awk '{a[NR]=$1} END {if (NR==0) {print "null null null"; exit}
    m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.4f %.4f %.4f\n", m, a[1], a[NR]}'; }
# time_cmd OUTFILE CMD... : append wall seconds to OUTFILE; returns the command's status
time_cmd() { local f=$1; shift; local t0 t1 rc; t0=$(now); "$@"; rc=$?; t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f\n", b-a}' >> "$f"; return $rc; }

# ---------------------------------------------------------------------------------------------------
# Machine
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
NPROC=$(nproc)
MEM_GIB=$(awk '/^MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)
FS_DEV=$(df -P "$PKL" | awk 'NR==2 {print $1}')
FS_TYPE=$(df -PT "$PKL" | awk 'NR==2 {print $2}')
DEV_NAME=$(basename "$FS_DEV")
ROT=$(cat "/sys/block/$DEV_NAME/queue/rotational" 2>/dev/null || echo "?")
DISK_SIZE=$(lsblk -dno SIZE "/dev/$DEV_NAME" 2>/dev/null | tr -d ' ')
DISK_DRV=$(basename "$(readlink -f "/sys/block/$DEV_NAME/device/driver" 2>/dev/null)" 2>/dev/null)
DISK="$FS_DEV (${DISK_SIZE:-?}, driver ${DISK_DRV:-?}, $FS_TYPE, rotational=$ROT as reported by the kernel)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
NICENESS=$(nice); IOPRIO=$(ionice -p $$ 2>/dev/null || echo '?'); AUTOGROUP=$(cat /proc/self/autogroup 2>/dev/null || echo '?')
KERNEL=$(uname -sr)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
GIT_DIRTY=; if git status --porcelain 2>/dev/null | grep -q .; then GIT_DIRTY=+dirty; fi
log "machine: $NPROC x $CPU_MODEL, ${MEM_GIB} GiB, disk $DISK, cold cache: $([ $CAN_DROP = 1 ] && echo yes || echo no)"

# ---------------------------------------------------------------------------------------------------
# 1. Raw read speed
log "raw read speed ($N runs each)"
cat "$PKL" > /dev/null                     # warm the page cache
WARM_PCT=$(cached_pct "$PKL")
: > "$TMP/cat_warm"; : > "$TMP/dd_warm"; : > "$TMP/cat_cold"
for _ in $(seq "$N"); do time_cmd "$TMP/cat_warm" cat "$PKL" > /dev/null; done
for _ in $(seq "$N"); do time_cmd "$TMP/dd_warm" dd if="$PKL" of=/dev/null bs=4M status=none; done
COLD_PCT=null
if [ $CAN_DROP = 1 ]; then
    for _ in $(seq "$N"); do drop_caches; COLD_PCT=$(cached_pct "$PKL"); time_cmd "$TMP/cat_cold" cat "$PKL" > /dev/null; done
fi
read -r CATW_MED CATW_MIN CATW_MAX < <(stats "$TMP/cat_warm")
read -r DDW_MED DDW_MIN DDW_MAX < <(stats "$TMP/dd_warm")
read -r CATC_MED CATC_MIN CATC_MAX < <(stats "$TMP/cat_cold")

# ---------------------------------------------------------------------------------------------------
# 2. Converter
CONV_STATUS="skipped (--no-convert)"
BIN_ID=null
if [ "$DO_CONVERT" = 1 ] && [ -x "$FACESYNTH" ] && cp "$FACESYNTH" "$BIN"; then
    BIN_ID="copy of $FACESYNTH taken at the start of the run: sha256 $(sha256sum "$BIN" | cut -c1-16), $FACESYNTH built $(date -u -r "$FACESYNTH" +%Y-%m-%dT%H:%M:%SZ)"
fi
CONV_CMD=("$BIN" convert "$PKL" -o "$OUT")
[ -n "$NET" ] && CONV_CMD+=(--net "$NET")
: > "$TMP/conv_warm"; : > "$TMP/conv_cold"; : > "$TMP/conv_rss"; : > "$TMP/conv_paged"; : > "$TMP/conv_rand"; : > "$TMP/conv_touched"
OUT_BYTES=null
if [ "$DO_CONVERT" = 1 ]; then
    if [ ! -x "$BIN" ]; then
        CONV_STATUS="not run: $FACESYNTH not found (run make)"
        log "$CONV_STATUS"
    else
        log "converter: ${CONV_CMD[*]} (1 warm-up + $N runs)"
        rm -f "$OUT"
        # warm-up run (also fills the page cache); peak RSS (/usr/bin/time %M, appended) of every run
        if command -v /usr/bin/time >/dev/null 2>&1; then RSS_WRAP=(/usr/bin/time -f %M -a -o "$TMP/conv_rss"); else RSS_WRAP=(); fi
        "${RSS_WRAP[@]}" "${CONV_CMD[@]}" > "$TMP/conv_log" 2>&1; RC=$?
        if [ $RC != 0 ]; then
            CONV_STATUS="failed (exit status $RC): $(grep -v '^Command exited' "$TMP/conv_log" | tail -n 3 | tr '\n' ' ')"
            : > "$TMP/conv_rss"
            log "$CONV_STATUS"
        elif [ ! -s "$OUT" ]; then
            CONV_STATUS="failed: $OUT not written"
            log "$CONV_STATUS"
        else
            CONV_STATUS=ok
            for _ in $(seq "$N"); do
                if ! time_cmd "$TMP/conv_warm" "${RSS_WRAP[@]}" "${CONV_CMD[@]}" > /dev/null 2>&1; then
                    CONV_STATUS="failed during timed runs"; break; fi
            done
            if [ "$CONV_STATUS" = ok ] && [ $CAN_DROP = 1 ]; then
                for _ in $(seq "$N"); do
                    drop_caches
                    if ! time_cmd "$TMP/conv_cold" "${RSS_WRAP[@]}" "${CONV_CMD[@]}" > /dev/null 2>&1; then
                        CONV_STATUS="failed during cold runs"; break; fi
                    # input bytes the run brought into the page cache (its page faults + kernel readahead)
                    PB=$(resident_bytes "$PKL"); [ "$PB" != null ] && [ -n "$PB" ] && echo "$PB" >> "$TMP/conv_paged"
                done
                # bytes the converter touches: MADV_RANDOM (no readahead beyond the faulting page)
                if command -v cc >/dev/null 2>&1 && [ "$(resident_bytes "$PKL")" != null ]; then
                    cat > "$TMP/shim.c" <<'CEOF'
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
int madvise(void *a, size_t l, int adv) {
    if (adv == MADV_SEQUENTIAL) adv = MADV_RANDOM;
    return (int)syscall(SYS_madvise, a, l, adv);
}
CEOF
                    if cc -O2 -shared -fPIC -o "$TMP/shim.so" "$TMP/shim.c" 2>/dev/null; then
                        log "converter, cold, MADV_RANDOM shim ($N runs)"
                        for _ in $(seq "$N"); do
                            drop_caches
                            if ! time_cmd "$TMP/conv_rand" env LD_PRELOAD="$TMP/shim.so" "${CONV_CMD[@]}" > /dev/null 2>&1; then
                                : > "$TMP/conv_rand"; : > "$TMP/conv_touched"; break; fi
                            resident_bytes "$PKL" >> "$TMP/conv_touched"
                        done
                    fi
                fi
                cat "$PKL" > /dev/null
            fi
            OUT_BYTES=$(stat -c %s "$OUT")
        fi
    fi
fi
read -r CONVW_MED CONVW_MIN CONVW_MAX < <(stats "$TMP/conv_warm")
read -r CONVC_MED CONVC_MIN CONVC_MAX < <(stats "$TMP/conv_cold")
read -r RSS_MED RSS_MIN RSS_MAX < <(grep -E '^[0-9]+$' "$TMP/conv_rss" > "$TMP/conv_rss_n"; stats "$TMP/conv_rss_n")   # KiB
read -r PAGED_MED PAGED_MIN PAGED_MAX < <(stats "$TMP/conv_paged")   # bytes
read -r TOUCH_MED TOUCH_MIN TOUCH_MAX < <(stats "$TMP/conv_touched")   # bytes
read -r RAND_MED RAND_MIN RAND_MAX < <(stats "$TMP/conv_rand")

# ---------------------------------------------------------------------------------------------------
# 3. Disk baselines, same byte count as the converter's output; each write makes a new file, fsyncs it
#    (dd conv=fsync) and renames it over the previous one, as the converter does with its output.
W_BYTES=$OUT_BYTES
if [ "$W_BYTES" = null ] && [ -s "$OUT" ]; then W_BYTES=$(stat -c %s "$OUT"); fi
: > "$TMP/wz"; : > "$TMP/wd"; : > "$TMP/rw_warm"; : > "$TMP/rw_cold"; : > "$TMP/rwm_cold"; : > "$TMP/rwt_cold"
PAGED_INT=null
[ "$PAGED_MED" != null ] && PAGED_INT=$(printf '%.0f' "$PAGED_MED")
TOUCH_INT=null
[ "$TOUCH_MED" != null ] && TOUCH_INT=$(printf '%.0f' "$TOUCH_MED")
WRITE_ZERO_CMD="dd if=/dev/zero of=$DDOUT.tmp bs=4M count=$W_BYTES iflag=count_bytes conv=fsync && mv -f $DDOUT.tmp $DDOUT"
WRITE_DATA_CMD="dd if=$OUT of=$DDOUT.tmp bs=4M conv=fsync && mv -f $DDOUT.tmp $DDOUT"
write_zero() { dd if=/dev/zero of="$DDOUT.tmp" bs=4M count="$W_BYTES" iflag=count_bytes conv=fsync status=none && mv -f "$DDOUT.tmp" "$DDOUT"; }
write_data() { dd if="$OUT" of="$DDOUT.tmp" bs=4M conv=fsync status=none && mv -f "$DDOUT.tmp" "$DDOUT"; }
read_write() { cat "$PKL" > /dev/null && write_zero; }
read_matched_write() { dd if="$PKL" of=/dev/null bs=4M count="$1" iflag=count_bytes status=none && write_zero; }
if [ "$W_BYTES" != null ]; then
    log "disk baselines: write $W_BYTES bytes with fsync (1 warm-up + $N runs each)"
    write_zero                                          # warm-up (also allocates $DDOUT once)
    for _ in $(seq "$N"); do time_cmd "$TMP/wz" write_zero; done
    cat "$OUT" > /dev/null                              # source of the real-data copy: page cache
    for _ in $(seq "$N"); do time_cmd "$TMP/wd" write_data; done
    cat "$PKL" > /dev/null
    for _ in $(seq "$N"); do time_cmd "$TMP/rw_warm" read_write; done
    if [ $CAN_DROP = 1 ]; then
        for _ in $(seq "$N"); do drop_caches; time_cmd "$TMP/rw_cold" read_write; done
        if [ "$PAGED_INT" != null ]; then
            for _ in $(seq "$N"); do drop_caches; time_cmd "$TMP/rwm_cold" read_matched_write "$PAGED_INT"; done
        fi
        if [ "$TOUCH_INT" != null ]; then
            for _ in $(seq "$N"); do drop_caches; time_cmd "$TMP/rwt_cold" read_matched_write "$TOUCH_INT"; done
        fi
        cat "$PKL" > /dev/null
    fi
    rm -f "$DDOUT" "$DDOUT.tmp"
else
    log "disk baselines skipped: no converter output to size them"
fi
read -r WZ_MED WZ_MIN WZ_MAX < <(stats "$TMP/wz")
read -r WD_MED WD_MIN WD_MAX < <(stats "$TMP/wd")
read -r RWW_MED RWW_MIN RWW_MAX < <(stats "$TMP/rw_warm")
read -r RWC_MED RWC_MIN RWC_MAX < <(stats "$TMP/rw_cold")
read -r RWM_MED RWM_MIN RWM_MAX < <(stats "$TMP/rwm_cold")
read -r RWT_MED RWT_MIN RWT_MAX < <(stats "$TMP/rwt_cold")

# ---------------------------------------------------------------------------------------------------
# 4. Official Python loader
OFF_STATUS="skipped (--no-official)"
OFF_CMD=("$PYTHON" bench/load_official.py "$PKL" -n "$N" --modes "legacy,pickle"
         --cache "$([ $CAN_DROP = 1 ] && echo both || echo warm)")
echo '{}' > "$TMP/official.json"
if [ "$DO_OFFICIAL" = 1 ]; then
    log "official loader: ${OFF_CMD[*]}"
    if "${OFF_CMD[@]}" --json "$TMP/official.json" 2> "$TMP/off_err" >&2; then OFF_STATUS=ok
    else OFF_STATUS="failed: $(grep -v CUDA_HOME "$TMP/off_err" | tail -n 3 | tr '\n' ' ')"; echo '{}' > "$TMP/official.json"; log "$OFF_STATUS"; fi
fi

# ---------------------------------------------------------------------------------------------------
# Report (any python3 will do here; no torch needed)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
RA_KB=$(cat "/sys/block/$DEV_NAME/queue/read_ahead_kb" 2>/dev/null || echo '?')
export B_PKL="$PKL" B_IN_BYTES="$IN_BYTES" B_N="$N" B_CPU="$CPU_MODEL" B_NPROC="$NPROC" B_MEM="$MEM_GIB" \
    B_DISK="$DISK" B_KERNEL="$KERNEL" B_DATE="$DATE" B_GIT="$GIT_REV$GIT_DIRTY" B_CAN_DROP="$CAN_DROP" \
    B_WARM_PCT="$WARM_PCT" B_COLD_PCT="$COLD_PCT" B_CMDLINE="$CMDLINE" B_LOAD="$LOAD_START" B_LOAD_END="$LOAD_END" B_NICE="$NICENESS" B_IOPRIO="$IOPRIO" B_AUTOGROUP="$AUTOGROUP" \
    B_CATW="$CATW_MED $CATW_MIN $CATW_MAX" B_DDW="$DDW_MED $DDW_MIN $DDW_MAX" B_CATC="$CATC_MED $CATC_MIN $CATC_MAX" \
    B_CONV_STATUS="$CONV_STATUS" B_CONV_CMD="${CONV_CMD[*]}" B_CONVW="$CONVW_MED $CONVW_MIN $CONVW_MAX" \
    B_CONVC="$CONVC_MED $CONVC_MIN $CONVC_MAX" B_RSS="$RSS_MED $RSS_MIN $RSS_MAX" B_OUT="$OUT" B_OUT_BYTES="$OUT_BYTES" \
    B_PAGED="$PAGED_MED $PAGED_MIN $PAGED_MAX" B_W_BYTES="$W_BYTES" \
    B_WZ="$WZ_MED $WZ_MIN $WZ_MAX" B_WD="$WD_MED $WD_MIN $WD_MAX" B_RWW="$RWW_MED $RWW_MIN $RWW_MAX" \
    B_RWC="$RWC_MED $RWC_MIN $RWC_MAX" B_RWM="$RWM_MED $RWM_MIN $RWM_MAX" B_RWT="$RWT_MED $RWT_MIN $RWT_MAX" \
    B_TOUCH="$TOUCH_MED $TOUCH_MIN $TOUCH_MAX" B_TOUCH_INT="$TOUCH_INT" B_RAND="$RAND_MED $RAND_MIN $RAND_MAX" \
    B_WZ_CMD="$WRITE_ZERO_CMD" B_WD_CMD="$WRITE_DATA_CMD" B_PAGED_INT="$PAGED_INT" \
    B_OFF_STATUS="$OFF_STATUS" B_OFF_CMD="${OFF_CMD[*]}" B_OFF_JSON="$TMP/official.json" \
    B_RESULTS="$RESULTS" B_PY="$PYTHON" B_BIN_ID="$BIN_ID" \
    B_RA_KB="$RA_KB"
REPORT_PY=$(command -v python3 || echo "$PYTHON")
"$REPORT_PY" - <<'PYEOF'
import json, os
E = os.environ
def trip(s, key='s'):
    v = [None if x == 'null' else float(x) for x in s.split()]
    return {f'median_{key}': v[0], f'min_{key}': v[1], f'max_{key}': v[2]}
def intornone(x): return None if x in ('null', '', '?') else int(float(x))
n = int(E['B_N']); size = int(E['B_IN_BYTES']); wbytes = intornone(E['B_W_BYTES'])
def mbps(t, nbytes):
    return None if (t.get('median_s') in (None, 0) or nbytes is None) else nbytes / t['median_s'] / 1e6
def pct(x): return None if x in ('null', '?', '') else int(float(x))
off = json.load(open(E['B_OFF_JSON']))
rss = trip(E['B_RSS'], 'kib')
paged = trip(E['B_PAGED'], 'bytes')
touched = trip(E['B_TOUCH'], 'bytes')
pkl = E['B_PKL']; paged_int = intornone(E['B_PAGED_INT']); touch_int = intornone(E['B_TOUCH_INT'])
res = {
    'date': E['B_DATE'], 'git': E['B_GIT'], 'command': E['B_CMDLINE'],
    'machine': {'nproc': int(E['B_NPROC']), 'cpu': E['B_CPU'], 'mem_gib': float(E['B_MEM']),
                'disk': E['B_DISK'], 'kernel': E['B_KERNEL'], 'can_drop_caches': E['B_CAN_DROP'] == '1',
                'loadavg_start': E['B_LOAD'], 'loadavg_end': E['B_LOAD_END'], 'nice': E['B_NICE'], 'ioprio': E['B_IOPRIO'], 'autogroup': E['B_AUTOGROUP']},
    'input': {'path': pkl, 'bytes': size},
    'n': n,
    'raw_read': {
        'cat_warm': dict(trip(E['B_CATW']), cached_pct_before=pct(E['B_WARM_PCT']), command=f"cat {pkl} > /dev/null"),
        'dd_warm': dict(trip(E['B_DDW']), command=f"dd if={pkl} of=/dev/null bs=4M"),
        'cat_cold': dict(trip(E['B_CATC']), cached_pct_before=pct(E['B_COLD_PCT']),
                         command=f"sync; echo 3 > /proc/sys/vm/drop_caches; cat {pkl} > /dev/null"),
    },
    'disk_baseline': {
        'write_bytes': wbytes,
        'write_zero': dict(trip(E['B_WZ']), command=E['B_WZ_CMD']),
        'write_copy_of_output': dict(trip(E['B_WD']), command=E['B_WD_CMD'] + '   (source page-cached)'),
        'read_input_write_output_warm': dict(trip(E['B_RWW']), command=f"cat {pkl} > /dev/null && {E['B_WZ_CMD']}"),
        'read_input_write_output_cold': dict(trip(E['B_RWC']),
            command=f"sync; echo 3 > /proc/sys/vm/drop_caches; cat {pkl} > /dev/null && {E['B_WZ_CMD']}"),
        'read_paged_bytes_write_output_cold': dict(trip(E['B_RWM']), read_bytes=paged_int,
            command=f"sync; echo 3 > /proc/sys/vm/drop_caches; dd if={pkl} of=/dev/null bs=4M count={paged_int} "
                    f"iflag=count_bytes && {E['B_WZ_CMD']}"),
        'read_touched_bytes_write_output_cold': dict(trip(E['B_RWT']), read_bytes=touch_int,
            command=f"sync; echo 3 > /proc/sys/vm/drop_caches; dd if={pkl} of=/dev/null bs=4M count={touch_int} "
                    f"iflag=count_bytes && {E['B_WZ_CMD']}"),
    },
    'convert': {'status': E['B_CONV_STATUS'], 'command': E['B_CONV_CMD'], 'binary': E['B_BIN_ID'],
                'warm': trip(E['B_CONVW']), 'cold': trip(E['B_CONVC']),
                'max_rss_mib': None if rss['median_kib'] is None else {k.replace('_kib', ''): v / 1024 for k, v in rss.items()},
                'input_bytes_paged_in_cold': paged,
                'input_bytes_touched': touched,
                'cold_madv_random': dict(trip(E['B_RAND']), command='LD_PRELOAD=<shim: MADV_SEQUENTIAL -> MADV_RANDOM> ' + E['B_CONV_CMD']),
                'output': E['B_OUT'], 'output_bytes': intornone(E['B_OUT_BYTES'])},
    'official_loader': {'status': E['B_OFF_STATUS'], 'command': E['B_OFF_CMD'], 'results': off},
}
rr = res['raw_read']; db = res['disk_baseline']; cv = res['convert']; m = res['machine']
for v in rr.values(): v['MB_per_s_of_input'] = mbps(v, size)
for k in ('write_zero', 'write_copy_of_output'): db[k]['MB_per_s_of_output'] = mbps(db[k], wbytes)
for k in ('read_input_write_output_warm', 'read_input_write_output_cold', 'read_paged_bytes_write_output_cold',
          'read_touched_bytes_write_output_cold'):
    db[k]['MB_per_s_of_input'] = mbps(db[k], size)
for k in ('warm', 'cold', 'cold_madv_random'): cv[k]['MB_per_s_of_input'] = mbps(cv[k], size)
ob = cv['output_bytes']
cv['output_over_input'] = None if ob is None else ob / size
modes = (off or {}).get('modes', {})

def ratio(a, b):
    a = a.get('median_s') if isinstance(a, dict) else a
    b = b.get('median_s') if isinstance(b, dict) else b
    return None if (a is None or not b) else a / b
leg_w, leg_c = modes.get('legacy', {}), modes.get('legacy_cold', {})
res['ratios'] = {
    'convert_warm_over_read_input_write_output_warm': ratio(cv['warm'], db['read_input_write_output_warm']),
    'convert_cold_over_read_input_write_output_cold': ratio(cv['cold'], db['read_input_write_output_cold']),
    'convert_cold_over_read_paged_bytes_write_output_cold': ratio(cv['cold'], db['read_paged_bytes_write_output_cold']),
    'convert_cold_over_read_touched_bytes_write_output_cold': ratio(cv['cold'], db['read_touched_bytes_write_output_cold']),
    'convert_warm_over_raw_write_output': ratio(cv['warm'], db['write_zero']),
    'convert_warm_over_official_legacy_warm': ratio(cv['warm'], leg_w),
    'convert_cold_over_official_legacy_cold': ratio(cv['cold'], leg_c),
}
R = res['ratios']
os.makedirs(E['B_RESULTS'], exist_ok=True)
with open(os.path.join(E['B_RESULTS'], 'convert.json'), 'w') as f:
    json.dump(res, f, indent=1); f.write('\n')

def f3(x): return '—' if x is None else f'{x:.3f}'
def f0(x): return '—' if x is None else f'{x:,.0f}'
def f2(x): return '—' if x is None else f'{x:.2f}'
def mib(b): return '—' if b is None else f'{b/2**20:.1f} MiB'
def row(name, t, cmd, nbytes=size, basis='in'):
    sp = mbps(t, nbytes)
    return f"| {name} | {f3(t['median_s'])} | {f3(t['min_s'])} | {f3(t['max_s'])} | {f0(sp)}{'' if sp is None else ' ' + basis} | `{cmd}` |"
L = [f"# `facesynth convert` benchmark", "",
     f"- Date: {res['date']} (git {res['git']})",
     f"- Machine: {m['nproc']} × {m['cpu']} (`nproc` = {m['nproc']}), {m['mem_gib']} GiB RAM, kernel {m['kernel']}; "
     f"load average at start {m['loadavg_start']}, at end {m['loadavg_end']} (2 CPUs shared with other work); "
     f"benchmark ran at nice {m['nice']}, scheduler autogroup `{m['autogroup']}`, I/O priority {m['ioprio']}",
     f"- Disk: {m['disk']}; page cache can be dropped: {'yes' if m['can_drop_caches'] else 'no (cold rows not measured)'}",
     f"- Input: `{pkl}`, {size:,} bytes ({mib(size)})",
     f"- Script: `{res['command']}`" + (f", run as `setsid bash -c 'echo {m['autogroup'].split('nice')[-1].strip()} > /proc/self/autogroup; "
       f"exec nice -n {m['nice']} ionice -c2 -n0 {res['command']}'`" if m['autogroup'].split('nice')[-1].strip() not in ('0', '') and '?' not in m['autogroup'] else "")
     + f"; N = {n} timed runs per row (after 1 warm-up for the converter, the raw "
     "write and the official loader); wall time from `date +%s.%N` around each command (the official loader "
     "times itself with `time.perf_counter()`, imports excluded); cold = `sync; echo 3 > /proc/sys/vm/drop_caches` "
     "before each run (not timed)", "",
     "MB/s: bytes of the input (in) or of the output (out) divided by the median.", "",
     "| What | median s | min s | max s | MB/s | Command |", "|---|---:|---:|---:|---:|---|",
     row(f"raw read, warm (cached {rr['cat_warm']['cached_pct_before']}%)", rr['cat_warm'], rr['cat_warm']['command']),
     row('raw read, warm (dd)', rr['dd_warm'], rr['dd_warm']['command'])]
if rr['cat_cold']['median_s'] is not None:
    L.append(row(f"raw read, cold (cached {rr['cat_cold']['cached_pct_before']}%)", rr['cat_cold'], rr['cat_cold']['command']))
if db['write_zero']['median_s'] is not None:
    L.append(row(f"raw write of {wbytes:,} bytes (zeros) + fsync + rename", db['write_zero'], db['write_zero']['command'], wbytes, 'out'))
    L.append(row(f"raw write of {wbytes:,} bytes (copy of the output) + fsync + rename", db['write_copy_of_output'],
                 db['write_copy_of_output']['command'], wbytes, 'out'))
    L.append(row('**baseline**: read whole input + write output, warm', db['read_input_write_output_warm'],
                 db['read_input_write_output_warm']['command']))
    if db['read_input_write_output_cold']['median_s'] is not None:
        L.append(row('**baseline**: read whole input + write output, cold', db['read_input_write_output_cold'],
                     db['read_input_write_output_cold']['command']))
    if db['read_paged_bytes_write_output_cold']['median_s'] is not None:
        L.append(row(f"baseline: read {paged_int:,} input bytes (what the kernel reads for the converter) + write output, cold",
                     db['read_paged_bytes_write_output_cold'], db['read_paged_bytes_write_output_cold']['command']))
    if db['read_touched_bytes_write_output_cold']['median_s'] is not None:
        L.append(row(f"baseline: read {touch_int:,} input bytes (what the converter touches) + write output, cold",
                     db['read_touched_bytes_write_output_cold'], db['read_touched_bytes_write_output_cold']['command']))
if cv['status'] == 'ok':
    L.append(row('**facesynth convert**, warm', cv['warm'], cv['command']))
    if cv['cold']['median_s'] is not None:
        L.append(row('**facesynth convert**, cold', cv['cold'], cv['command']))
    if cv['cold_madv_random']['median_s'] is not None:
        L.append(row('facesynth convert, cold, MADV_RANDOM shim (for the touched-bytes count only)',
                     cv['cold_madv_random'], cv['cold_madv_random']['command']))
names = {'legacy': "official `legacy.load_network_pkl(f)['G_ema']`", 'pickle': "official code, plain `pickle.load(f)['G_ema']`"}
for key, r in modes.items():
    base = key.replace('_cold', '')
    L.append(row(f"{names.get(base, base)}, {r.get('cache', 'warm')}", r, res['official_loader']['command']))
L.append("")
L.append(f"Converter: {cv['status']} (`{cv['command'].split()[0]}` is a {cv['binary']}).")
if cv['status'] == 'ok':
    L.append(f"Output `{cv['output']}`: {ob:,} bytes = {ob/size:.3f} × input ({mib(ob)} vs {mib(size)}).")
    if cv['max_rss_mib']:
        r_ = cv['max_rss_mib']
        L.append(f"Converter peak RSS (`/usr/bin/time -f %M`, over the warm-up and all timed runs): median "
                 f"{r_['median']:.1f} MiB (min {r_['min']:.1f}, max {r_['max']:.1f}); this counts the pages of the "
                 "mmapped input that the process touched (shared page cache), not only its own heap.")
    L.append("")
    L.append("What the converter reads: it mmaps the pickle (`madvise(MADV_SEQUENTIAL)`) and walks its opcode stream, "
             "touching the pickle headers and the G_ema tensor data only; the G and D tensor bytes are skipped "
             "without being touched.")
    if touched['median_bytes'] is not None:
        L.append(f"With an LD_PRELOAD shim that turns the madvise into MADV_RANDOM (no readahead), a cold run leaves "
                 f"{touched['median_bytes']:,.0f} bytes of the pickle in the page cache (`fincore`; "
                 f"{mib(touched['median_bytes'])}, {100*touched['median_bytes']/size:.0f}% of the input): "
                 "that is what the converter touches.")
    if paged['median_bytes'] is not None:
        L.append(f"With its own MADV_SEQUENTIAL, a cold run leaves {paged['median_bytes']:,.0f} bytes "
                 f"({mib(paged['median_bytes'])}, {100*paged['median_bytes']/size:.0f}% of the input) in the page "
                 "cache: the kernel's readahead (this disk's `read_ahead_kb` is "
                 f"{E.get('B_RA_KB', '?')}) also reads most of the skipped G/D data around the opcodes it touches.")
    if touched['median_bytes'] is not None and cv['cold_madv_random']['median_s'] and cv['cold']['median_s']:
        L.append(f"Reading less is not faster here: the MADV_RANDOM run takes {cv['cold_madv_random']['median_s']:.3f} s "
                 f"cold vs {cv['cold']['median_s']:.3f} s with MADV_SEQUENTIAL.")
    L.append("The \"whole input\" baselines read all of the pickle; the other cold baselines read the kernel-read"
             + (" / touched" if touched['median_bytes'] is not None else "") + " byte count"
             + ("s" if touched['median_bytes'] is not None else "") + " from the start of the file in one sequential pass.")
L.append("")
if off:
    L.append(f"Official loader: Python {off.get('python')}, torch {off.get('torch')} ({off.get('torch_threads')} threads), "
             f"official commit {off.get('official_commit')}; one-time imports {off.get('import_s', 0):.2f} s not included; "
             "it unpickles the whole snapshot (G, D, G_ema and the rest) into torch objects in memory and writes nothing.")
else:
    L.append(f"Official loader: {res['official_loader']['status']}.")
L.append("")
L += ["## Ratios (medians)", "", "| Ratio | value |", "|---|---:|",
      f"| converter warm / (read whole input + write output) warm | {f2(R['convert_warm_over_read_input_write_output_warm'])} |",
      f"| converter cold / (read whole input + write output) cold | {f2(R['convert_cold_over_read_input_write_output_cold'])} |",
      f"| converter cold / (read the bytes the kernel reads for it + write output) cold | {f2(R['convert_cold_over_read_paged_bytes_write_output_cold'])} |",
      f"| converter cold / (read the bytes it touches + write output) cold | {f2(R['convert_cold_over_read_touched_bytes_write_output_cold'])} |",
      f"| converter warm / raw write of the output alone | {f2(R['convert_warm_over_raw_write_output'])} |",
      f"| converter warm / official legacy loader warm | {f2(R['convert_warm_over_official_legacy_warm'])} |",
      f"| converter cold / official legacy loader cold | {f2(R['convert_cold_over_official_legacy_cold'])} |",
      f"| output size / input size | {f3(cv['output_over_input'])} |", ""]

# Reading: numbers only, stated as they came out.
if cv['status'] == 'ok' and cv['warm']['median_s']:
    P = []
    cw = cv['warm']['median_s']; wz = db['write_zero']['median_s']
    if wz:
        rw = db['read_input_write_output_warm']
        P.append(f"Warm (input in the page cache), the converter takes {cw:.3f} s (median); reading the whole cached input "
                 f"and writing + fsyncing {wbytes/1e6:.0f} MB with dd takes {rw['median_s']:.3f} s, i.e. the converter "
                 f"runs at {R['convert_warm_over_read_input_write_output_warm']:.2f}× the disk baseline; the write + fsync "
                 f"alone takes {wz:.3f} s ({R['convert_warm_over_raw_write_output']:.2f}×).")
        lo, hi = db['write_zero']['min_s'], db['write_zero']['max_s']
        spread = (f"raw write {lo:.3f}–{hi:.3f} s, converter {cv['warm']['min_s']:.3f}–{cv['warm']['max_s']:.3f} s over the runs")
        if lo <= cw <= hi:
            P.append(f"The converter's warm median lies inside the raw write's min–max range ({spread}): warm, its time is "
                     "essentially that of writing and fsyncing its output on this virtual disk.")
        else:
            P.append(f"The converter's warm median lies {'above' if cw > hi else 'below'} the raw write's min–max range ({spread}).")
    if R['convert_cold_over_read_input_write_output_cold'] is not None:
        s_ = (f"Cold, it takes {cv['cold']['median_s']:.3f} s against {db['read_input_write_output_cold']['median_s']:.3f} s "
              f"for reading the whole input and writing the output ({R['convert_cold_over_read_input_write_output_cold']:.2f}×)")
        if R['convert_cold_over_read_paged_bytes_write_output_cold'] is not None:
            s_ += (f", {db['read_paged_bytes_write_output_cold']['median_s']:.3f} s for reading sequentially as many bytes as "
                   f"the kernel reads for it and writing the output ({R['convert_cold_over_read_paged_bytes_write_output_cold']:.2f}×)")
        if R['convert_cold_over_read_touched_bytes_write_output_cold'] is not None:
            s_ += (f", {db['read_touched_bytes_write_output_cold']['median_s']:.3f} s for reading sequentially only as many "
                   f"bytes as it touches and writing the output ({R['convert_cold_over_read_touched_bytes_write_output_cold']:.2f}×)")
        P.append(s_ + ".")
        pr = db['read_paged_bytes_write_output_cold']['median_s']
        if pr and cv['cold']['median_s'] > pr:
            P.append(f"So cold, the converter spends {cv['cold']['median_s'] - pr:.2f} s more than a sequential read of the same "
                     "number of input bytes followed by the write: the extra time comes from how the input is read "
                     "(page faults on the mmap, scattered over the file, plus readahead) rather than from how many bytes are read.")
    if leg_w.get('median_s'):
        rel = R['convert_warm_over_official_legacy_warm']
        P.append(f"Against the official loader the converter is {'slower' if rel > 1 else 'faster'}: "
                 f"{cw:.3f} s vs {leg_w['median_s']:.3f} s warm ({rel:.2f}×)"
                 + (f", {cv['cold']['median_s']:.3f} s vs {leg_c['median_s']:.3f} s cold ({R['convert_cold_over_official_legacy_cold']:.2f}×)"
                    if R['convert_cold_over_official_legacy_cold'] is not None else "")
                 + ". The two do different work: the official loader only builds torch objects in memory and writes "
                   "nothing, while the converter writes a new "
                 f"{ob/1e6:.0f} MB file, fsyncs it and renames it into place, so its time is bounded below by the "
                   "raw write above, which the official loader never pays; the comparison is not a like-for-like parse-speed comparison.")
    L += ["## Reading", "", " ".join(P), ""]
with open(os.path.join(E['B_RESULTS'], 'convert.md'), 'w') as f:
    f.write('\n'.join(L))
print('\n'.join(L))
PYEOF
RC=$?
[ $RC = 0 ] || exit $RC
case "$CONV_STATUS" in ok|skipped*) ;; *) exit 1 ;; esac
case "$OFF_STATUS" in ok|skipped*) ;; *) exit 1 ;; esac
exit 0
