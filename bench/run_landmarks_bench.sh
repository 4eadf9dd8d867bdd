#!/usr/bin/env bash
# Face landmarks: our shape predictor (engine/landmarks.c, via bench/bench_landmarks.c) against dlib's
# own C++ (Debian libdlib-dev, via bench/bench_landmarks_dlib.cpp) on the same faces, the same model file
# and the same machine, in one run; plus `facesynth landmarks` end to end (PNG decoding included).
#   1. make BUILD=$BUILD $BUILD/facesynth $BUILD/bench/bench_landmarks; g++ builds of the dlib program
#      (-O3, and -O3 -march=native as dlib's own CMake build would enable AVX)
#   2. the faces: the 14 fixture cases + N random boxes on the fixture images (make_landmark_cases.py)
#   3. PASSES interleaved passes of: ours, dlib -O3, dlib -O3 -march=native; each times the model load,
#      then ROUNDS rounds over all faces on 1 thread and on THREADS threads (images decoded beforehand)
#   4. every program's integer points must be identical to dlib's (files compared byte for byte)
#   5. `facesynth landmarks --boxes` on the same faces, REPS times (model load and PNG decoding included)
#   6. writes RESULTS/landmarks.md
#
# Usage: bench/run_landmarks_bench.sh
# Environment (defaults in brackets): N [2000] ROUNDS [5] PASSES [2] REPS [3] THREADS [nproc]
#   MODEL [/usr/share/dlib/shape_predictor_68_face_landmarks.dat] BUILD [build] RESULTS [bench/results]
set -u
cd "$(dirname "$(readlink -f "$0")")/.." || exit 1
N=${N:-2000}
ROUNDS=${ROUNDS:-5}
PASSES=${PASSES:-2}
REPS=${REPS:-3}
THREADS=${THREADS:-$(nproc)}
MODEL=${MODEL:-/usr/share/dlib/shape_predictor_68_face_landmarks.dat}
BUILD=${BUILD:-build}
RESULTS=${RESULTS:-bench/results}
TMP=$(mktemp -d /tmp/landmarks_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
log() { echo "[landmarks_bench] $*" >&2; }
[ -r "$MODEL" ] || { log "$MODEL missing: apt-get install libdlib-data"; exit 1; }
pkg-config --exists dlib-1 || { log "dlib missing: apt-get install libdlib-dev"; exit 1; }

export B_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export B_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
export B_BUSY_START=$(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s%s %s%%", (NR>1?", ":""), $2, $1}')

DLIB_FLAGS=$(pkg-config --cflags --libs dlib-1)
cat >"$TMP/commands.txt" <<EOF
make BUILD=$BUILD $BUILD/facesynth $BUILD/bench/bench_landmarks
g++ -O3 -o $TMP/dlib_O3 bench/bench_landmarks_dlib.cpp $DLIB_FLAGS
g++ -O3 -march=native -o $TMP/dlib_native bench/bench_landmarks_dlib.cpp $DLIB_FLAGS
python3 bench/make_landmark_cases.py $N cases.txt boxes.json
EOF
log "build"
make BUILD="$BUILD" "$BUILD/facesynth" "$BUILD/bench/bench_landmarks" >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log" >&2; exit 1; }
g++ -O3 -o "$TMP/dlib_O3" bench/bench_landmarks_dlib.cpp $DLIB_FLAGS || exit 1
g++ -O3 -march=native -o "$TMP/dlib_native" bench/bench_landmarks_dlib.cpp $DLIB_FLAGS || exit 1
python3 bench/make_landmark_cases.py "$N" "$TMP/cases.txt" "$TMP/boxes.json" || exit 1

declare -A PROG=([ours]="$BUILD/bench/bench_landmarks" [dlib_O3]="$TMP/dlib_O3" [dlib_native]="$TMP/dlib_native")
: >"$TMP/runs.txt"
for pass in $(seq 1 "$PASSES"); do
    for p in ours dlib_O3 dlib_native; do
        cmd="${PROG[$p]} $MODEL cases.txt $THREADS $ROUNDS points_$p.txt"
        [ "$pass" = 1 ] && echo "$cmd" >>"$TMP/commands.txt"
        log "pass $pass: $p"
        la=$(cut -d' ' -f1 /proc/loadavg)
        "${PROG[$p]}" "$MODEL" "$TMP/cases.txt" "$THREADS" "$ROUNDS" "$TMP/points_$p.txt" >"$TMP/out.txt" || exit 1
        sed "s/^/$p $pass $la /" "$TMP/out.txt" >>"$TMP/runs.txt"
    done
done
AGREE="identical"
for p in ours dlib_native; do
    cmp -s "$TMP/points_$p.txt" "$TMP/points_dlib_O3.txt" || AGREE="DIFFERENT ($p)"
done
export B_FACES=$(wc -l <"$TMP/cases.txt") B_AGREE=$AGREE
export B_DIFF_LINES=$(diff "$TMP/points_ours.txt" "$TMP/points_dlib_O3.txt" | grep -c '^<')

cmd="$BUILD/facesynth landmarks -q --images tests/fixtures/landmarks --boxes boxes.json --save-raw lm.npy --threads $THREADS"
echo "$cmd  # $REPS times" >>"$TMP/commands.txt"
: >"$TMP/cli.txt"
for i in $(seq 1 "$REPS"); do
    t0=$(date +%s.%N)
    "$BUILD/facesynth" landmarks -q --images tests/fixtures/landmarks --boxes "$TMP/boxes.json" \
        --save-raw "$TMP/lm.npy" --threads "$THREADS" || exit 1
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{print $2 - $1}' >>"$TMP/cli.txt"
done

export B_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
export B_CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
export B_FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | grep -o -w 'avx2\|fma\|avx512f' | sort -u | paste -sd ' ')
export B_CACHES=$(lscpu | sed -n 's/^\(L[123][di]* cache\):[[:space:]]*/\1 /p' | paste -sd ';' | sed 's/;/; /g')
export B_NPROC=$(nproc) B_MEM=$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)
export B_CC="$(${CC:-cc} --version | head -1)" B_CXX="$(g++ --version | head -1)"
export B_DLIB=$(dpkg-query -W -f='${Version}' libdlib-dev 2>/dev/null)
export B_GIT=$(git rev-parse --short HEAD) B_TMP=$TMP B_RESULTS=$RESULTS B_THREADS=$THREADS
export B_ROUNDS=$ROUNDS B_PASSES=$PASSES B_N=$N B_MODEL=$MODEL
mkdir -p "$RESULTS"
python3 - <<'PYEOF'
import os, statistics
E = os.environ
tmp = E['B_TMP']
runs = [l.split() for l in open(os.path.join(tmp, 'runs.txt'))]
names = {'ours': 'facesynth (engine/landmarks.c)', 'dlib_O3': 'dlib 19.24, g++ -O3',
         'dlib_native': 'dlib 19.24, g++ -O3 -march=native'}
load, rate = {}, {}
for r in runs:
    prog, pas = r[0], r[1]
    if r[3] == 'load_s':
        load.setdefault(prog, []).append(float(r[4]))
    elif r[3] == 'threads':
        rate.setdefault((prog, int(r[4])), []).append(float(r[10]))
T = int(E['B_THREADS'])
counts = [1] + ([T] if T > 1 else [])
cli = [float(x) for x in open(os.path.join(tmp, 'cli.txt'))]
faces = int(E['B_FACES'])
L = []
L.append('# Face landmarks: facesynth against dlib\'s own C++\n')
L.append('Generated by `bench/run_landmarks_bench.sh` on %s (git %s).\n' % (E['B_DATE'], E['B_GIT']))
L.append('## Machine\n')
L.append('- CPU: %s, %s logical CPUs (%s); %s' % (E['B_CPU'], E['B_NPROC'], E['B_FLAGS'], E['B_CACHES']))
L.append('- memory %s GiB; %s; %s; libdlib-dev %s' % (E['B_MEM'], E['B_CC'], E['B_CXX'], E['B_DLIB']))
L.append('- load average at the start %s, at the end %s; busiest processes at the start: %s' %
         (E['B_LOAD_START'], E['B_LOAD_END'], E['B_BUSY_START']))
L.append('- model: `%s` (Debian libdlib-data)\n' % E['B_MODEL'])
L.append('## What is timed\n')
L.append('%d faces: the 14 fixture boxes of `tests/fixtures/landmarks` and %s random boxes on its 8 '
         'images (8 px to 1.5 times the image, some reaching past it). Each program decodes the images '
         'once, then predicts every face %s times per thread count (faces handed out one at a time '
         'from an atomic counter); the table gives the median faces/s of those rounds, over %s '
         'interleaved passes of the three programs (each pass\'s median in brackets). Model load is '
         'the wall time to read the 95 MB file into a predictor.\n' %
         (faces, E['B_N'], E['B_ROUNDS'], E['B_PASSES']))
L.append('Integer points of all three programs on all %d faces: **%s**.\n' % (faces, E['B_AGREE']))
L.append('| program | model load (s) | ' + ' | '.join('faces/s, %d thread%s' % (c, 's' if c > 1 else '') for c in counts) + ' |')
L.append('|---|---:|' + '---:|' * len(counts))
for p in ('ours', 'dlib_O3', 'dlib_native'):
    cells = ['%.2f' % statistics.median(load[p])]
    for c in counts:
        v = rate.get((p, c), [])
        cells.append('%.0f (%s)' % (statistics.median(v), ', '.join('%.0f' % x for x in v)) if v else '-')
    L.append('| %s | %s |' % (names[p], ' | '.join(cells)))
L.append('')
for c in counts:
    o, d, dn = (statistics.median(rate[(p, c)]) for p in ('ours', 'dlib_O3', 'dlib_native'))
    L.append('- %d thread%s: facesynth %.1fx dlib -O3, %.1fx dlib -O3 -march=native.' %
             (c, 's' if c > 1 else '', o / d, o / dn))
L.append('- model load: facesynth %.1fx faster than dlib\'s deserialize.\n' %
         (statistics.median(load['dlib_O3']) / statistics.median(load['ours'])))
L.append('**End to end**, `facesynth landmarks --boxes` on the same %d faces with %s threads (model '
         'load, PNG decoding of 8 images, prediction, .npy write): median %.2f s over %d runs '
         '(%s).\n' % (faces, E['B_THREADS'], statistics.median(cli), len(cli), ', '.join('%.2f' % x for x in cli)))
L.append('## Commands\n')
L.append('```')
L += [l.rstrip('\n').replace(tmp + '/', '') for l in open(os.path.join(tmp, 'commands.txt'))]
L.append('```')
out = os.path.join(E['B_RESULTS'], 'landmarks.md')
open(out, 'w').write('\n'.join(L) + '\n')
print(open(out).read())
PYEOF
