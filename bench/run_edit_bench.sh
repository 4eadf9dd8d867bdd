#!/usr/bin/env bash
# What latent editing adds to generation time at 256x256 (issue 10), on the
# CPU backend, with random-weight networks (build/bench/make_random_sg2).
# Two measurements, each interleaved with plain generation in the same run:
#   1. library level (build/bench/bench_edit): in one process, ROUNDS rounds
#      of [plain generate, edit with one edit per source, a sweep of STEPS
#      edits per source], order rotating, after WARMUP warm-up rounds; also
#      the host-side edit arithmetic alone;
#   2. command level: `facesynth generate` against `facesynth edit` writing
#      the same number of PNGs (plus edit's labels file), CLI_ROUNDS rounds,
#      order rotating, after one warm-up round.
# Medians of wall time and of CPU time (all threads; for a command, the
# child's user + system time): on a shared machine other processes stretch
# wall time, CPU time much less. Writes markdown on stdout:
#   bench/run_edit_bench.sh > bench/results/edit.md
# Environment: BUILD [build], NETWORKS [bench/work/cbase16384-256-random.fsw
#   bench/work/configf-256-random.fsw], IMAGES [8], STEPS [4], ROUNDS [9],
#   WARMUP [1], CLI_ROUNDS [5], THREADS [0 = one per core], SECTIONS
#   ["lib cli": either or both]
set -eu
BUILD=${BUILD:-build}
NETWORKS=${NETWORKS:-"bench/work/cbase16384-256-random.fsw bench/work/configf-256-random.fsw"}
IMAGES=${IMAGES:-8}
STEPS=${STEPS:-4}
ROUNDS=${ROUNDS:-9}
WARMUP=${WARMUP:-1}
CLI_ROUNDS=${CLI_ROUNDS:-5}
THREADS=${THREADS:-0}
SECTIONS=${SECTIONS:-"lib cli"}
TMP=$(mktemp -d /tmp/edit_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

make --no-print-directory -s BUILD="$BUILD" "$BUILD/facesynth" "$BUILD/bench/bench_edit" \
    "$BUILD/bench/make_random_sg2" >&2
for net in $NETWORKS; do
    [ -f "$net" ] && continue
    mkdir -p "$(dirname "$net")"
    case "$net" in
    *cbase16384-256*) "$BUILD/bench/make_random_sg2" --out "$net" --resolution 256 --channel-base 16384 >&2 ;;
    *configf-256*) "$BUILD/bench/make_random_sg2" --out "$net" --resolution 256 --channel-base 32768 >&2 ;;
    *) echo "no recipe for $net" >&2; exit 1 ;;
    esac
done

echo "# Latent editing: what it adds to generation ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
     "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); backend cpu, threads $THREADS (0 = one per core); noise const"
echo "- command: \`BUILD=$BUILD bench/run_edit_bench.sh > bench/results/edit.md\`" \
     "(IMAGES=$IMAGES STEPS=$STEPS ROUNDS=$ROUNDS WARMUP=$WARMUP CLI_ROUNDS=$CLI_ROUNDS)"
if [[ " $SECTIONS " == *" lib "* ]]; then
echo
echo "## 1. Library level (\`$BUILD/bench/bench_edit\`), one process, modes interleaved"
echo
echo "Each run makes $IMAGES uint8 images. *plain*: \`fs_sg2_generate\` from z. *edit1*: the mapping of"
echo "$IMAGES sources, one W+ offset each (strength drawn as \`edit --alpha-range\` does), generate from"
echo "the edited ws. *sweep*: $((IMAGES / STEPS)) source(s), $STEPS moves to a distance each (\`edit --space w"
echo "--distances\`). *edit math*: the host-side arithmetic of one run alone; *mapping*: the edit path's"
echo "separate mapping call; *added work*: (edit math + mapping) / plain, an upper bound on what editing"
echo "adds (plain generation maps too, inside \`fs_sg2_generate\`). *paired*: the median over rounds of"
echo "(this mode's run / the same round's plain run) − 1, wall and CPU: a drift of the machine's load"
echo "cancels in each ratio."
echo
echo "| network | mode | wall median s | min | max | wall vs plain | CPU median s | CPU vs plain | paired wall | paired CPU | edit math | mapping | added work |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for net in $NETWORKS; do
    "$BUILD/bench/bench_edit" --network "$net" --images "$IMAGES" --steps "$STEPS" \
        --rounds "$ROUNDS" --warmup "$WARMUP" --threads "$THREADS" >"$TMP/lib.json"
    python3 - "$TMP/lib.json" "$(basename "$net" .fsw)" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    plain = r["mode"] == "plain"
    vs = "—" if plain else f'{100 * r["vs_plain"]:+.2f}%'
    cvs = "—" if plain else f'{100 * r["cpu_vs_plain"]:+.2f}%'
    em = "—" if plain else f'{1e6 * r["edit_math_median_s"]:.0f} µs'
    mp = "—" if plain else f'{1e3 * r["mapping_median_s"]:.2f} ms'
    aw = "—" if plain else f'{100 * r["added_work_vs_plain"]:.3f}%'
    pw = "—" if plain else f'{100 * r["paired_vs_plain"]:+.2f}%'
    pc = "—" if plain else f'{100 * r["paired_cpu_vs_plain"]:+.2f}%'
    print(f'| {sys.argv[2]} | {r["mode"]} | {r["median_s"]:.3f} | {r["min_s"]:.3f} | '
          f'{r["max_s"]:.3f} | {vs} | {r["cpu_median_s"]:.3f} | {cvs} | {pw} | {pc} | {em} | {mp} | {aw} |')
PY
done
fi

if [[ " $SECTIONS " == *" cli "* ]]; then
echo
echo "## 2. Command level, interleaved"
echo
echo "\`facesynth generate --seeds 0-$((IMAGES - 1))\` against \`facesynth edit\` writing $IMAGES PNGs: *edit1* ="
echo "\`--seeds 0-$((IMAGES - 1)) --space wp --alpha-range -3,3\`, *sweep* = \`--seeds 0-$((IMAGES / STEPS - 1)) --space w"
echo "--distances -3:3:$STEPS\`, with a random float64 unit boundary; the whole process (load, plan,"
echo "generate, write)."
echo
echo "| network | command | wall median s | min | max | wall vs generate | CPU median s | CPU vs generate | paired wall | paired CPU |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for net in $NETWORKS; do
    python3 - "$BUILD/facesynth" "$net" "$TMP" "$IMAGES" "$STEPS" "$CLI_ROUNDS" "$THREADS" <<'PY'
import math, os, random, resource, statistics, struct, subprocess, sys, time
fs, net, tmp, n, steps, rounds, threads = sys.argv[1:]
n, steps, rounds = int(n), int(steps), int(rounds)
# a random unit boundary of the networks' w_dim (512), float64 as the released ones
random.seed(1)
v = [random.gauss(0, 1) for _ in range(512)]
norm = math.sqrt(sum(x * x for x in v))
hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 512), }"
hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
b = os.path.join(tmp, "b.npy")
with open(b, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(struct.pack("<512d", *[x / norm for x in v]))
common = ["-q", "--network", net, "--threads", threads]
cmds = {
    "generate": [fs, "generate", *common, "--seeds", f"0-{n - 1}", "--outdir", f"{tmp}/g"],
    "edit1": [fs, "edit", *common, "--seeds", f"0-{n - 1}", "--space", "wp",
              "--alpha-range", "-3,3", "--boundary", b, "--outdir", f"{tmp}/e1"],
    "sweep": [fs, "edit", *common, "--seeds", f"0-{n // steps - 1}", "--space", "w",
              "--distances", f"-3:3:{steps}", "--boundary", b, "--outdir", f"{tmp}/e2"],
}
names = list(cmds)
wall = {k: [] for k in names}
cpu = {k: [] for k in names}
for r in range(rounds + 1):  # round 0 warms up
    for k in range(3):
        name = names[(k + r) % 3]
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run(cmds[name], check=True)
        t1 = time.monotonic()
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r > 0:
            wall[name].append(t1 - t0)
            cpu[name].append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
g, gc = statistics.median(wall["generate"]), statistics.median(cpu["generate"])
tag = os.path.basename(net).removesuffix(".fsw")
for name in names:
    m, mc = statistics.median(wall[name]), statistics.median(cpu[name])
    vs = "—" if name == "generate" else f"{100 * (m / g - 1):+.2f}%"
    cvs = "—" if name == "generate" else f"{100 * (mc / gc - 1):+.2f}%"
    pw = statistics.median(a / b for a, b in zip(wall[name], wall["generate"])) - 1
    pc = statistics.median(a / b for a, b in zip(cpu[name], cpu["generate"])) - 1
    pws = "—" if name == "generate" else f"{100 * pw:+.2f}%"
    pcs = "—" if name == "generate" else f"{100 * pc:+.2f}%"
    print(f"| {tag} | {name} | {m:.3f} | {min(wall[name]):.3f} | {max(wall[name]):.3f} | {vs} | "
          f"{mc:.3f} | {cvs} | {pws} | {pcs} |")
PY
done
fi

echo
echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)."
