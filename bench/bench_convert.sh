#!/usr/bin/env bash
# Benchmark `facesynth convert` on a config-f 1024 StyleGAN2-ADA network pickle, in one run:
#   1. raw read speed of the pickle (cat / dd to /dev/null; warm page cache, and cold if root can drop it)
#   2. build/facesynth convert PKL -o bench/work/out.fsw : 1 warm-up + N timed runs (median/min/max,
#      peak RSS), plus N cold-cache runs when the page cache can be dropped; output size vs input
#   3. the official Python loader (bench/load_official.py: legacy.load_network_pkl(f)['G_ema'] and plain
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
CMDLINE="bench/bench_convert.sh${*:+ $*}"

while [ $# -gt 0 ]; do
    case "$1" in
        -n) N=$2; shift 2 ;;
        --net) NET=$2; shift 2 ;;
        --no-convert) DO_CONVERT=0; shift ;;
        --no-official) DO_OFFICIAL=0; shift ;;
        --no-cold) DO_COLD=0; shift ;;
        --results) RESULTS=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "bench_convert.sh: unknown option $1" >&2; exit 2 ;;
        *) PKL=$1; shift ;;
    esac
done
case "$N" in ''|*[!0-9]*|0) echo "bench_convert.sh: -n needs a positive integer" >&2; exit 2 ;; esac

mkdir -p bench/work "$RESULTS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_convert.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
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
DISK="$FS_DEV ($FS_TYPE, rotational=$ROT)"
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
CONV_CMD=("$FACESYNTH" convert "$PKL" -o "$OUT")
[ -n "$NET" ] && CONV_CMD+=(--net "$NET")
: > "$TMP/conv_warm"; : > "$TMP/conv_cold"; : > "$TMP/conv_rss"
OUT_BYTES=null
if [ "$DO_CONVERT" = 1 ]; then
    if [ ! -x "$FACESYNTH" ]; then
        CONV_STATUS="not run: $FACESYNTH not found (run make)"
        log "$CONV_STATUS"
    else
        log "converter: ${CONV_CMD[*]} (1 warm-up + $N runs)"
        rm -f "$OUT"
        # warm-up run (also fills the page cache); peak RSS measured here, not in the timed runs
        if command -v /usr/bin/time >/dev/null 2>&1; then RSS_WRAP=(/usr/bin/time -f %M -o "$TMP/conv_rss"); else RSS_WRAP=(); fi
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
                if ! time_cmd "$TMP/conv_warm" "${CONV_CMD[@]}" > /dev/null 2>&1; then
                    CONV_STATUS="failed during timed runs"; break; fi
            done
            if [ "$CONV_STATUS" = ok ] && [ $CAN_DROP = 1 ]; then
                for _ in $(seq "$N"); do
                    drop_caches
                    if ! time_cmd "$TMP/conv_cold" "${CONV_CMD[@]}" > /dev/null 2>&1; then
                        CONV_STATUS="failed during cold runs"; break; fi
                done
                cat "$PKL" > /dev/null
            fi
            OUT_BYTES=$(stat -c %s "$OUT")
        fi
    fi
fi
read -r CONVW_MED CONVW_MIN CONVW_MAX < <(stats "$TMP/conv_warm")
read -r CONVC_MED CONVC_MIN CONVC_MAX < <(stats "$TMP/conv_cold")
read -r RSS_MED RSS_MIN RSS_MAX < <(stats "$TMP/conv_rss")   # KiB

# ---------------------------------------------------------------------------------------------------
# 3. Official Python loader
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
export B_PKL="$PKL" B_IN_BYTES="$IN_BYTES" B_N="$N" B_CPU="$CPU_MODEL" B_NPROC="$NPROC" B_MEM="$MEM_GIB" \
    B_DISK="$DISK" B_KERNEL="$KERNEL" B_DATE="$DATE" B_GIT="$GIT_REV$GIT_DIRTY" B_CAN_DROP="$CAN_DROP" \
    B_WARM_PCT="$WARM_PCT" B_COLD_PCT="$COLD_PCT" B_CMDLINE="$CMDLINE" \
    B_CATW="$CATW_MED $CATW_MIN $CATW_MAX" B_DDW="$DDW_MED $DDW_MIN $DDW_MAX" B_CATC="$CATC_MED $CATC_MIN $CATC_MAX" \
    B_CONV_STATUS="$CONV_STATUS" B_CONV_CMD="${CONV_CMD[*]}" B_CONVW="$CONVW_MED $CONVW_MIN $CONVW_MAX" \
    B_CONVC="$CONVC_MED $CONVC_MIN $CONVC_MAX" B_RSS="$RSS_MED $RSS_MIN $RSS_MAX" B_OUT="$OUT" B_OUT_BYTES="$OUT_BYTES" \
    B_OFF_STATUS="$OFF_STATUS" B_OFF_CMD="${OFF_CMD[*]}" B_OFF_JSON="$TMP/official.json" \
    B_RESULTS="$RESULTS" B_PY="$PYTHON"
REPORT_PY=$(command -v python3 || echo "$PYTHON")
"$REPORT_PY" - <<'PYEOF'
import json, os
E = os.environ
def trip(s):
    v = [None if x == 'null' else float(x) for x in s.split()]
    return dict(median_s=v[0], min_s=v[1], max_s=v[2])
n = int(E['B_N']); size = int(E['B_IN_BYTES'])
def speed(t): return None if t['median_s'] in (None, 0) else size / t['median_s'] / 1e6
def pct(x): return None if x in ('null', '?', '') else int(float(x))
off = json.load(open(E['B_OFF_JSON']))
rss = trip(E['B_RSS'])
res = {
    'date': E['B_DATE'], 'git': E['B_GIT'], 'command': E['B_CMDLINE'],
    'machine': {'nproc': int(E['B_NPROC']), 'cpu': E['B_CPU'], 'mem_gib': float(E['B_MEM']),
                'disk': E['B_DISK'], 'kernel': E['B_KERNEL'], 'can_drop_caches': E['B_CAN_DROP'] == '1'},
    'input': {'path': E['B_PKL'], 'bytes': size},
    'n': n,
    'raw_read': {
        'cat_warm': dict(trip(E['B_CATW']), cached_pct_before=pct(E['B_WARM_PCT']), command=f"cat {E['B_PKL']} > /dev/null"),
        'dd_warm': dict(trip(E['B_DDW']), command=f"dd if={E['B_PKL']} of=/dev/null bs=4M"),
        'cat_cold': dict(trip(E['B_CATC']), cached_pct_before=pct(E['B_COLD_PCT']),
                         command=f"sync; echo 3 > /proc/sys/vm/drop_caches; cat {E['B_PKL']} > /dev/null"),
    },
    'convert': {'status': E['B_CONV_STATUS'], 'command': E['B_CONV_CMD'],
                'warm': trip(E['B_CONVW']), 'cold': trip(E['B_CONVC']),
                'max_rss_mib': None if rss['median_s'] is None else {k.replace('_s', ''): v / 1024 for k, v in rss.items()},
                'output': E['B_OUT'], 'output_bytes': None if E['B_OUT_BYTES'] == 'null' else int(E['B_OUT_BYTES'])},
    'official_loader': {'status': E['B_OFF_STATUS'], 'command': E['B_OFF_CMD'], 'results': off},
}
for k, v in res['raw_read'].items(): v['MB_per_s'] = speed(v)
for k in ('warm', 'cold'): res['convert'][k]['MB_per_s'] = speed(res['convert'][k])
ob = res['convert']['output_bytes']
res['convert']['output_over_input'] = None if ob is None else ob / size
os.makedirs(E['B_RESULTS'], exist_ok=True)
with open(os.path.join(E['B_RESULTS'], 'convert.json'), 'w') as f:
    json.dump(res, f, indent=1); f.write('\n')

def f3(x): return '—' if x is None else f'{x:.3f}'
def f0(x): return '—' if x is None else f'{x:,.0f}'
def row(name, t, cmd):
    return f"| {name} | {f3(t['median_s'])} | {f3(t['min_s'])} | {f3(t['max_s'])} | {f0(speed(t))} | `{cmd}` |"
m = res['machine']; rr = res['raw_read']; cv = res['convert']
L = [f"# `facesynth convert` benchmark", "",
     f"- Date: {res['date']} (git {res['git']})",
     f"- Machine: {m['nproc']} × {m['cpu']} (`nproc` = {m['nproc']}), {m['mem_gib']} GiB RAM, kernel {m['kernel']}",
     f"- Disk: {m['disk']}; page cache can be dropped: {'yes' if m['can_drop_caches'] else 'no (cold rows not measured)'}",
     f"- Input: `{res['input']['path']}`, {size:,} bytes ({size/2**20:.1f} MiB)",
     f"- Script: `{res['command']}`; N = {n} timed runs per row after 1 warm-up (converter, official loader); "
     "wall time from `date +%s.%N`; cold = `sync; echo 3 > /proc/sys/vm/drop_caches` before each run", "",
     "| What | median s | min s | max s | MB/s of input | Command |", "|---|---:|---:|---:|---:|---|",
     row(f"raw read, warm (cached {rr['cat_warm']['cached_pct_before']}%)", rr['cat_warm'], rr['cat_warm']['command']),
     row('raw read, warm (dd)', rr['dd_warm'], rr['dd_warm']['command'])]
if rr['cat_cold']['median_s'] is not None:
    L.append(row(f"raw read, cold (cached {rr['cat_cold']['cached_pct_before']}%)", rr['cat_cold'], rr['cat_cold']['command']))
if cv['status'] == 'ok':
    L.append(row('**facesynth convert**, warm', cv['warm'], cv['command']))
    if cv['cold']['median_s'] is not None:
        L.append(row('**facesynth convert**, cold', cv['cold'], cv['command']))
modes = (off or {}).get('modes', {})
names = {'legacy': "official `legacy.load_network_pkl(f)['G_ema']`", 'pickle': "official code, plain `pickle.load(f)['G_ema']`"}
for key, r in modes.items():
    base = key.replace('_cold', '')
    L.append(row(f"{names.get(base, base)}, {r.get('cache', 'warm')}", r, res['official_loader']['command']))
L.append("")
L.append(f"Converter: {cv['status']}.")
if cv['status'] == 'ok':
    L.append(f"Output `{cv['output']}`: {ob:,} bytes = {ob/size:.3f} × input ({ob/2**20:.1f} MiB vs {size/2**20:.1f} MiB).")
    if cv['max_rss_mib']:
        L.append(f"Converter peak RSS (`/usr/bin/time -f %M`, warm-up run): {cv['max_rss_mib']['median']:.1f} MiB.")
    if modes.get('legacy') and cv['warm']['median_s']:
        L.append(f"Speed-up over the official loader (warm medians): {modes['legacy']['median_s']/cv['warm']['median_s']:.2f}×.")
if off:
    L.append(f"Official loader: Python {off.get('python')}, torch {off.get('torch')} ({off.get('torch_threads')} threads), "
             f"official commit {off.get('official_commit')}; one-time imports {off.get('import_s', 0):.2f} s not included; "
             f"it unpickles the whole snapshot (G, D, G_ema), as the C converter must walk it too.")
else:
    L.append(f"Official loader: {res['official_loader']['status']}.")
L.append("")
with open(os.path.join(E['B_RESULTS'], 'convert.md'), 'w') as f:
    f.write('\n'.join(L))
print('\n'.join(L))
PYEOF
RC=$?
[ $RC = 0 ] || exit $RC
case "$CONV_STATUS" in ok|skipped*) ;; *) exit 1 ;; esac
case "$OFF_STATUS" in ok|skipped*) ;; *) exit 1 ;; esac
exit 0
