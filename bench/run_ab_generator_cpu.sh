#!/usr/bin/env bash
# A/B benchmark of the CPU generator between two builds of bench_generator_cpu
# (e.g. before and after an engine change), interleaved in one run so that both
# see the same machine: for every network and batch, ROUNDS rounds of
# [A, B] (order alternating each round), each W warm-ups + R timed synthesis
# batches; the figure per build is the median over all timed batches. Both
# dump their last batch and the two dumps are compared byte for byte.
#
# Usage: A=/path/to/old/bench_generator_cpu B=build/bench/bench_generator_cpu \
#        bench/run_ab_generator_cpu.sh > bench/results/NAME.md
# Environment: NETWORKS (.fsw files; make them with build/bench/make_random_sg2),
#   BATCHES [1 4], ROUNDS [3], REPS [3], WARMUP [1], THREADS [0 = one per core]
set -eu
A=${A:?A=path of the baseline bench_generator_cpu}
B=${B:-build/bench/bench_generator_cpu}
NETWORKS=${NETWORKS:-"bench/work/configf-256-random.fsw bench/work/cbase16384-256-random.fsw"}
BATCHES=${BATCHES:-"1 4"}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-0}
TMP=$(mktemp -d /tmp/ab_gen.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

run() { # bin net batch tag round
    "$1" --network "$2" --batch "$3" --reps "$REPS" --warmup "$WARMUP" --threads "$THREADS" \
        --dump "$TMP/$4.raw" 2>/dev/null | tail -n 1 >"$TMP/$4.$5.json"
}
median_of() { # tag: median of every timed synthesis batch of every round
    python3 - "$TMP" "$1" <<'PY'
import glob, json, statistics, sys
t = []
for f in glob.glob(f"{sys.argv[1]}/{sys.argv[2]}.*.json"):
    t += json.load(open(f))["synthesis"]["all_s"]
print(f"{statistics.median(t):.4f} {len(t)}")
PY
}

echo "# CPU generator A/B: $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "- A: \`$A\`"
echo "- B: \`$B\`"
echo "- $ROUNDS interleaved rounds per case (A/B order alternating), each $WARMUP warm-up + $REPS timed synthesis batches; threads $THREADS (0 = one per core); noise const"
echo "- median over all timed batches of a build; \"same bytes\" compares the two builds' dumped images"
echo
echo "| network | batch | A s/batch | B s/batch | A img/s | B img/s | B / A speed | same bytes |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for net in $NETWORKS; do
    for bs in $BATCHES; do
        for r in $(seq 1 "$ROUNDS"); do
            if [ $((r % 2)) = 1 ]; then run "$A" "$net" "$bs" a "$r"; run "$B" "$net" "$bs" b "$r"
            else run "$B" "$net" "$bs" b "$r"; run "$A" "$net" "$bs" a "$r"; fi
        done
        read -r ta na < <(median_of a)
        read -r tb nb < <(median_of b)
        same=$(cmp -s "$TMP/a.raw" "$TMP/b.raw" && echo yes || echo NO)
        python3 -c "
ta, tb, bs = $ta, $tb, $bs
print(f'| $(basename "$net" .fsw) | {bs} | {ta:.3f} | {tb:.3f} | {bs/ta:.2f} | {bs/tb:.2f} | {ta/tb:.3f} | $same |')"
        rm -f "$TMP"/a.*.json "$TMP"/b.*.json
    done
done
