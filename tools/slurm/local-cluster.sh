#!/usr/bin/env bash
# A single-node Slurm cluster on loopback, for the tests and for trying the job array:
# munged, slurmctld and slurmd with every file (configuration, key, state, logs, sockets) in DIR.
# Needs Debian's slurm-wlm and munge (`make setup` installs them) and root (CI runs as root).
#
#   tools/slurm/local-cluster.sh start DIR [CTLD_PORT SLURMD_PORT]   # then: export SLURM_CONF=DIR/slurm.conf
#   tools/slurm/local-cluster.sh stop DIR
set -euo pipefail
command=${1:?start or stop}
dir=$(realpath -m "${2:?a folder for the cluster}")
case "$command" in
start)
  [ "$(id -u)" -eq 0 ] || { echo "local-cluster: needs root (munged and slurmd run as root here)" >&2; exit 1; }
  for tool in munged slurmctld slurmd scontrol; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "local-cluster: $tool not found: run make setup" >&2; exit 1; }
  done
  ctld_port=${3:-6817}
  slurmd_port=${4:-6818}
  mkdir -p "$dir"/{state,spool,log,munge}
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  cpus=$(nproc)
  cat > "$dir/slurm.conf" <<CONF
ClusterName=crowdtwin
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MailProg=/bin/true
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$dir/slurm.conf"
  /usr/sbin/munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
  /usr/sbin/slurmctld -i -f "$SLURM_CONF"
  /usr/sbin/slurmd -N localhost -f "$SLURM_CONF"
  for _ in $(seq 1 100); do
    if scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.2
  done
  echo "local-cluster: not up after 20 s; logs in $dir/log" >&2
  exit 1
  ;;
stop)
  export SLURM_CONF="$dir/slurm.conf"
  scontrol shutdown >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do
    pgrep -f "slurm(ctld|d) .*$dir/slurm.conf" >/dev/null || break
    sleep 0.1
  done
  pkill -f "slurm(ctld|d) .*$dir/slurm.conf" 2>/dev/null || true
  [ -f "$dir/munge/munged.pid" ] && kill "$(cat "$dir/munge/munged.pid")" 2>/dev/null || true
  ;;
*)
  echo "local-cluster: start or stop" >&2
  exit 2
  ;;
esac
