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
#   BATCHES [1 4], ROUNDS [3], REPS [3], WARMUP [1], THREADS [0 = one per core],
#   NICE [-10]: the whole run in a session of its own whose autogroup gets this nice (the machine is
#   shared; 0 = leave it). The load average at the start and end of every case and each build's
#   CPU/wall (CPU seconds per wall second of its timed batches) are reported, since a busy machine
#   skews single runs.
set -eu
SELF=$(readlink -f "$0")
NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ -z "${FS_AB_IN_SESSION:-}" ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
    FS_AB_IN_SESSION=1 exec setsid -w bash "$SELF" "$@"
fi
if [ "$NICE" != 0 ]; then echo "$NICE" >/proc/self/autogroup 2>/dev/null || NICE=0; fi
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
t, cpu = [], []
for f in glob.glob(f"{sys.argv[1]}/{sys.argv[2]}.*.json"):
    d = json.load(open(f))
    t += d["synthesis"]["all_s"]
    cpu += d["synthesis_cpu_s"]
print(f"{statistics.median(t):.4f} {sum(cpu) / sum(t):.2f}")
PY
}

echo "# CPU generator A/B: $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "- A: \`$A\`"
echo "- B: \`$B\`"
echo "- $ROUNDS interleaved rounds per case (A/B order alternating), each $WARMUP warm-up + $REPS timed synthesis batches; threads $THREADS (0 = one per core); noise const"
echo "- median over all timed batches of a build; \"same bytes\" compares the two builds' dumped images"
echo "- autogroup nice $NICE; CPU/wall = CPU seconds per wall second of a build's timed batches (2.00 = both cores)"
echo
echo "| network | batch | A s/batch | B s/batch | A img/s | B img/s | B / A speed | CPU/wall A, B | load avg (start → end) | same bytes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
for net in $NETWORKS; do
    for bs in $BATCHES; do
        l0=$(cut -d' ' -f1-3 /proc/loadavg)
        for r in $(seq 1 "$ROUNDS"); do
            if [ $((r % 2)) = 1 ]; then run "$A" "$net" "$bs" a "$r"; run "$B" "$net" "$bs" b "$r"
            else run "$B" "$net" "$bs" b "$r"; run "$A" "$net" "$bs" a "$r"; fi
        done
        read -r ta ca < <(median_of a)
        read -r tb cb < <(median_of b)
        l1=$(cut -d' ' -f1-3 /proc/loadavg)
        same=$(cmp -s "$TMP/a.raw" "$TMP/b.raw" && echo yes || echo NO)
        python3 -c "
ta, tb, bs = $ta, $tb, $bs
print(f'| $(basename "$net" .fsw) | {bs} | {ta:.3f} | {tb:.3f} | {bs/ta:.2f} | {bs/tb:.2f} | {ta/tb:.3f} | $ca, $cb | $l0 → $l1 | $same |')"
        rm -f "$TMP"/a.*.json "$TMP"/b.*.json
    done
done
