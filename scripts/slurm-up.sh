#!/usr/bin/env bash
# A single-node SLURM cluster on this machine (munged, slurmctld, slurmd), for the `slurm` tests
# and for trying `lidcbench run ... --executor slurm` locally. Needs root.
#
# Idempotent: a reachable cluster (this one or any other) is left alone and the script returns
# in about a second. Installs Debian's slurm-wlm and munge when they are missing, writes
# /etc/slurm/slurm.conf only when there is none or it is ours, and records what it started in
# $STATE so that scripts/slurm-down.sh stops exactly that.
set -euo pipefail

STATE=/run/lidcbench-slurm
CONF=/etc/slurm/slurm.conf
MARK="# written by lidcbench scripts/slurm-up.sh"

say() { echo "slurm-up: $*"; }

reachable() { command -v sinfo >/dev/null && timeout 5 scontrol ping 2>/dev/null | grep -q "is UP" \
                && timeout 5 sinfo -h -o "%t" 2>/dev/null | grep -Eq "idle|mix|alloc"; }

if reachable; then
    say "SLURM is up ($(sinfo -h -o '%P %D node(s) %t' | head -1))"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "error: not root, and no SLURM is reachable; run this script as root" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    say "error: $CONF exists and is not ours, but its cluster is not reachable; start it yourself" >&2
    exit 1
fi

node=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm "$STATE"
cat > "$CONF" <<EOF
$MARK
ClusterName=lidcbench
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF

# munge: a key if the package did not make one, then the daemon (as root: --force).
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
if ! munge -n </dev/null >/dev/null 2>&1; then
    chown -R root:root /etc/munge /run/munge /var/log/munge /var/lib/munge
    munged --force --pid-file "$STATE/munged.pid"
    touch "$STATE/started-munged"
fi

for daemon in slurmctld slurmd; do
    if [ -f "$STATE/$daemon.pid" ] && kill -0 "$(cat "$STATE/$daemon.pid")" 2>/dev/null; then
        continue
    fi
    $daemon   # daemonises; the pid file above names it
    touch "$STATE/started-$daemon"
done

for _ in $(seq 60); do
    if reachable; then
        scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
        say "SLURM is up on $node ($cpus CPUs); stop it with scripts/slurm-down.sh"
        exit 0
    fi
    sleep 0.5
done
say "error: SLURM did not come up in 30 s; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
exit 1
