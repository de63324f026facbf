#!/bin/sh
# A single-node Slurm for the tests: munge, slurmctld and slurmd (Debian's packages) with a config for this host
# and 4 CPUs (config_overrides lets a smaller machine claim them), proctrack/linuxproc and no cgroups.
#   single-node.sh start DIR   writes DIR/slurm.conf, starts the daemons, waits until the node is idle
#   single-node.sh stop DIR    stops the daemons started for DIR (munged too, when start started it)
# Needs root. Prints nothing on success; a failure says what and exits non-zero.
set -eu
cmd=$1
dir=$2
conf=$dir/slurm.conf
case $cmd in
start)
  for prog in munged slurmctld slurmd srun; do
    command -v $prog >/dev/null || { echo "$prog not found (Debian: apt-get install munge slurmctld slurmd slurm-client)" >&2; exit 1; }
  done
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  if ! munge -n >/dev/null 2>&1; then
    if [ ! -f /etc/munge/munge.key ]; then
      dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
      chown munge:munge /etc/munge/munge.key
      chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge && chown munge:munge /run/munge
    su -s /bin/sh munge -c '/usr/sbin/munged --force'
    # started for DIR: stop ends it too (one already running is someone else's)
    cp /run/munge/munged.pid "$dir/munged.pid"
  fi
  host=$(hostname -s)
  cat >"$conf" <<CONF
ClusterName=fluxts
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$dir/spool
StateSaveLocation=$dir/state
SlurmUser=root
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  SLURM_CONF=$conf slurmctld -f "$conf"
  SLURM_CONF=$conf slurmd -f "$conf"
  i=0
  until SLURM_CONF=$conf sinfo -h -o %t 2>/dev/null | grep -qx idle; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "slurm did not come up: see $dir/log" >&2; exit 1; }
    sleep 0.2
  done
  ;;
stop)
  # a job left running (its srun killed by a test's bound) would leave its step daemon behind the daemons
  if [ -f "$conf" ]; then
    jobs=$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      SLURM_CONF=$conf scancel --signal=KILL --full $jobs 2>/dev/null || true
      i=0
      while [ -n "$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null || true)" ] && [ $i -lt 50 ]; do
        i=$((i + 1))
        sleep 0.1
      done
    fi
  fi
  # and wait until they are gone: they write their state on the way out
  pids=""
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"; do
    [ -f "$f" ] && pids="$pids $(cat "$f")"
  done
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  i=0
  for pid in $pids; do
    while kill -0 "$pid" 2>/dev/null; do
      i=$((i + 1))
      [ $i -lt 100 ] || { kill -9 "$pid" 2>/dev/null || true; break; }
      sleep 0.1
    done
  done
  ;;
*)
  echo "usage: single-node.sh start|stop DIR" >&2
  exit 2
  ;;
esac
