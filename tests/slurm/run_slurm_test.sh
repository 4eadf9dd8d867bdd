#!/bin/sh
# A real Slurm cluster on this one machine (Debian's slurm-wlm and munge),
# started, used and stopped by this script: the README's "Scaling out"
# recipe, checked end to end.
#
#   1. a munge key and munged on a private socket;
#   2. a minimal slurm.conf (this host as the one node, private ports, state
#      and spool directories), slurmctld and slurmd in the foreground;
#   3. `sbatch --wait --array=0-3` of a small `facesynth dataset --shard auto
#      --resume` job; `facesynth dataset merge`;
#   4. the merged dataset against a single-process run of the same job: the
#      same files and bytes (run.log, times and hosts, aside);
#   5. the daemons it started are stopped by their pids, and its directory
#      removed.
#
# Run from the repository root, as root. Exit status 0: passed; 77: skipped
# (not root, or the packages are missing), with the reason on stdout;
# anything else: failed. FS_CLI names the facesynth binary (default
# build/facesynth). tests/test_dataset_slurm.c runs it under `make check`.
set -eu

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root: slurmd and munged need it (run make check as root)"
for b in munged slurmctld slurmd sbatch sinfo; do
    command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin"
    command -v "$b" >/dev/null 2>&1 || skip "no $b: install slurm-wlm and munge (make deps-test)"
done

BIN=$(realpath "${FS_CLI:-build/facesynth}")
NET=tests/fixtures/stylegan2/tiny/network-snapshot.pkl
[ -x "$BIN" ] && [ -f "$NET" ] || { echo "FAIL: run from the repository root after make"; exit 1; }
W=$(mktemp -d /tmp/fs_slurm_XXXXXX)
PIDS=""
stop() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
    done
    PIDS=""
}
fail() {
    echo "FAIL: $*"
    for f in "$W"/log/*; do [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; }; done
    stop
    rm -rf "$W"
    exit 1
}
trap 'stop; rm -rf "$W"' EXIT INT TERM
mkdir -p "$W/state" "$W/spool" "$W/log"

# munge: a fresh key, its own socket, pid, seed and log files
dd if=/dev/urandom of="$W/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$W/munge.key"
munged --force --foreground --socket="$W/munge.sock" --key-file="$W/munge.key" \
    --pid-file="$W/munged.pid" --seed-file="$W/munged.seed" --log-file="$W/log/munged.log" \
    >"$W/log/munged.out" 2>&1 &
PIDS="$PIDS $!"

# ports from the pid, so that two of these tests on one machine do not meet
BASE=$((20000 + ($$ % 5000) * 2))
HOST=$(hostname -s)
cat >"$W/slurm.conf" <<CONF
ClusterName=facesynth
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$BASE
SlurmdPort=$((BASE + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$W/munge.sock
CredType=cred/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=facesynth Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$W/slurm.conf"
i=0
while [ ! -S "$W/munge.sock" ]; do
    sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || fail "munged did not start"
done
slurmctld -D -c -f "$SLURM_CONF" >"$W/log/slurmctld.out" 2>&1 &
PIDS="$PIDS $!"
slurmd -D -N "$HOST" -f "$SLURM_CONF" >"$W/log/slurmd.out" 2>&1 &
PIDS="$PIDS $!"
i=0
until sinfo -h -o %T 2>/dev/null | grep -q idle; do
    sleep 0.2; i=$((i + 1)); [ $i -lt 150 ] || fail "the node did not come up idle"
done

# the job: one dataset, four array tasks, one shared OUT
JOB="dataset --network $NET --identities 8 --per-identity 3 --mix-layers 4- --chunk-size 3 \
--mixup-prob 0.25 --format tar --seed 5 --threads 1 -q"
cat >"$W/job.sh" <<SH
#!/bin/sh
exec "$BIN" $JOB --outdir "$W/out" --shard auto --resume
SH
chmod +x "$W/job.sh"
t0=$(date +%s)
sbatch --wait --array=0-3 --cpus-per-task=1 --chdir="$PWD" -o "$W/log/task-%a.out" \
    "$W/job.sh" >"$W/log/sbatch.out" 2>&1 || fail "sbatch --array=0-3 failed"
t1=$(date +%s)
"$BIN" dataset merge "$W/out" -q || fail "merge failed"
"$BIN" $JOB --outdir "$W/single" || fail "the single-process run failed"
diff -r -x run.log "$W/out" "$W/single" >"$W/log/diff.out" 2>&1 ||
    fail "the merged shards differ from the single-process run"
tasks=$(grep -c '"event":"end"' "$W/out/run.log")
[ "$tasks" = 4 ] || fail "run.log records $tasks finished tasks, not 4"
for k in 0 1 2 3; do
    grep -q "\"shard\":\"$k/4\",\"note\":\"slurm array task $k of 0-3" "$W/out/run.log" ||
        fail "run.log has no slurm array task $k of 0-3"
done
n=$(ls "$W/out" | grep -c '\.tar$')
stop
echo "ok: sbatch --array=0-3 on a one-node Slurm ($(sinfo -V 2>/dev/null || echo slurm)):" \
    "4 shards in $((t1 - t0)) s, merged: $n tar files, manifest.jsonl and dataset.json equal" \
    "to a single-process run; daemons stopped"
