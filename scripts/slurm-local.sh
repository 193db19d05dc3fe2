#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the batch tests (Debian/Ubuntu, as root).
#   scripts/slurm-local.sh [start]   install slurmctld, slurmd and munge if missing, write
#                                    /etc/slurm/slurm.conf for this machine, start the daemons and
#                                    wait until the node is idle; does nothing that is already done
#   scripts/slurm-local.sh status    say whether the daemons run, and the node's state
#   scripts/slurm-local.sh stop      stop slurmd, slurmctld and (if this script started it) munged
# No systemd needed: the daemons are started directly and tracked by their pid files. The node is
# named after `hostname -s`, reached at 127.0.0.1, with the machine's CPUs and memory; each CPU is
# a slot, so an array job runs as many tasks at once as the machine has CPUs. Jobs run as the user
# who submits them (root included) and get the submitter's environment (sbatch's --export=ALL).
# There is no accounting database. Logs: /var/log/slurm/. Set SLURM_LOCAL_TIMEOUT (seconds, default
# 60) to wait longer for the node.
set -euo pipefail

conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
marker="# written by scripts/slurm-local.sh"
log_dir=/var/log/slurm
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid
munge_pid=/run/munge/munged.pid
munge_key=/etc/munge/munge.key
state_dir=/run/slurm-local
timeout=${SLURM_LOCAL_TIMEOUT:-60}
node=$(hostname -s)

die() { echo "slurm-local: $*" >&2; exit 1; }
say() { echo "slurm-local: $*"; }

# True when the pid file names a live process whose command is $2. A killed daemon whose parent
# is a container's init may linger as a zombie, which counts as dead.
running() {
  local pidfile=$1 name=$2 pid stat
  [ -r "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  # /proc/PID/stat: "PID (COMM) STATE ..."
  [[ "$stat" =~ ^$pid\ \((.*)\)\ ([A-Za-z]) ]] || return 1
  [[ "${BASH_REMATCH[1]}" == "$name"* ]] && [ "${BASH_REMATCH[2]}" != Z ] && [ "${BASH_REMATCH[2]}" != X ]
}

stop_daemon() {
  local pidfile=$1 name=$2 pid i
  running "$pidfile" "$name" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    running "$pidfile" "$name" || break
    sleep 0.1
  done
  if running "$pidfile" "$name"; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "stopped $name ($pid)"
}

log_tails() {
  local f
  for f in "$log_dir/slurmctld.log" "$log_dir/slurmd.log" /var/log/munge/munged.log; do
    [ -r "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
}

stop() {
  stop_daemon "$slurmd_pid" slurmd
  stop_daemon "$ctld_pid" slurmctld
  # munged only if this script started it (a system-managed one stays).
  if [ -e "$state_dir/munged-started" ]; then
    stop_daemon "$munge_pid" munged
    rm -f "$state_dir/munged-started"
  fi
}

status() {
  local d
  for d in "munged $munge_pid" "slurmctld $ctld_pid" "slurmd $slurmd_pid"; do
    set -- $d
    if running "$2" "$1"; then echo "$1: running ($(cat "$2"))"; else echo "$1: not running"; fi
  done
  if command -v sinfo >/dev/null && running "$ctld_pid" slurmctld; then
    sinfo -N -o '%N %t %c %m %P' || true
  fi
}

install_packages() {
  local missing=() p
  for p in munge slurmctld slurmd slurm-client; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "needs apt-get to install ${missing[*]}"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_munge() {
  if [ ! -s "$munge_key" ]; then
    say "creating $munge_key"
    install -d -m 0700 -o munge -g munge /etc/munge
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile="$munge_key"
    else
      dd if=/dev/urandom of="$munge_key" bs=1 count=1024 status=none
    fi
    chown munge:munge "$munge_key"
    chmod 0400 "$munge_key"
  fi
  if running "$munge_pid" munged; then
    return 0
  fi
  install -d -m 0755 -o munge -g munge /run/munge
  install -d -m 0700 -o munge -g munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged || { log_tails; die "munged did not start"; }
  mkdir -p "$state_dir"
  touch "$state_dir/munged-started"
  say "started munged"
}

write_conf() {
  local hw cpus sockets cores threads mem new
  # `slurmd -C` prints this machine's layout as slurm.conf wants it.
  hw=$(slurmd -C 2>/dev/null | head -n 1 || true)
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw")
  cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw")
  threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw")
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  if [ -z "$cpus" ] || [ -z "$sockets" ] || [ -z "$cores" ] || [ -z "$threads" ]; then
    cpus=$(nproc); sockets=1; cores=$cpus; threads=1
  fi
  [ -n "$mem" ] || mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)

  new=$(cat <<EOF
$marker: one node, this machine.
ClusterName=local
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in containers: track processes by parent pid, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
# Every CPU is a slot; memory is not a consumable, so tasks are limited by CPUs only.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MaxArraySize=10001
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)
  if [ -e "$conf" ] && ! grep -qF "$marker" "$conf"; then
    die "$conf exists and was not written by this script; not touching it"
  fi
  if [ -e "$conf" ] && [ "$(cat "$conf")" = "$new" ]; then
    return 1 # unchanged
  fi
  install -d -m 0755 "$conf_dir"
  printf '%s\n' "$new" >"$conf.tmp"
  mv "$conf.tmp" "$conf"
  say "wrote $conf ($node: $cpus CPUs, $mem MB)"
  return 0
}

start() {
  [ "$(id -u)" = 0 ] || die "run as root"
  install_packages
  start_munge
  if write_conf; then
    # A changed configuration needs fresh daemons.
    stop_daemon "$slurmd_pid" slurmd
    stop_daemon "$ctld_pid" slurmctld
  fi
  install -d -m 0755 "$log_dir" /var/spool/slurmctld /var/spool/slurmd
  if ! running "$ctld_pid" slurmctld; then
    rm -f "$ctld_pid"
    slurmctld || { log_tails; die "slurmctld did not start"; }
    say "started slurmctld"
  fi
  if ! running "$slurmd_pid" slurmd; then
    rm -f "$slurmd_pid"
    # The controller may remember the node as idle from before; mark it down so that "idle" below
    # means this slurmd has registered (ReturnToService=2 brings it back when it does).
    scontrol update NodeName="$node" State=DOWN Reason="slurmd starting" >/dev/null 2>&1 || true
    slurmd -N "$node" || { log_tails; die "slurmd did not start"; }
    say "started slurmd"
  fi

  local state="" deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    running "$ctld_pid" slurmctld || [ ! -e "$ctld_pid" ] || { log_tails; die "slurmctld exited"; }
    running "$slurmd_pid" slurmd || [ ! -e "$slurmd_pid" ] || { log_tails; die "slurmd exited"; }
    state=$(sinfo -h -N -n "$node" -o '%t' 2>/dev/null | head -n 1 || true)
    case "$state" in
      idle|mix|alloc) break ;;
      drain*|drng*|fail*)
        # Drained by an earlier run (e.g. a job that could not be killed): bring it back. A down
        # node comes back by itself once slurmd registers.
        scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  case "$state" in
    idle|mix|alloc) ;;
    *)
      sinfo -N -R >&2 2>/dev/null || true
      log_tails
      die "node $node is '${state:-unknown}' after ${timeout}s, not idle"
      ;;
  esac

  cat <<EOF
slurm-local: node $node is $state (partition 'local', $(sinfo -h -N -n "$node" -o '%c') CPUs)
  submit:  sbatch --array=0-3 --wait --chdir=DIR --output=DIR/slurm-%A_%a.out --wrap 'COMMAND'
  watch:   squeue; sinfo; scontrol show job JOBID
  logs:    $log_dir/slurmctld.log, $log_dir/slurmd.log
  stop:    scripts/slurm-local.sh stop
EOF
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: scripts/slurm-local.sh [start|stop|status]" >&2; exit 2 ;;
esac
