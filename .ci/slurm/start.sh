#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster on this machine (loopback only).
#
#   .ci/slurm/start.sh [STATE_DIR]        (default: $CI_SLURM_DIR or /var/lib/slurm-ci)
#
# Idempotent: daemons whose recorded pid is still alive are left alone, so it is
# safe to run twice, and after .ci/slurm/stop.sh.
#
# Exit codes:
#   0  cluster is up, `sinfo` shows the node idle
#   3  cannot provide a cluster here (not root, packages cannot be installed);
#      the last line on stderr is a one-line reason, tests skip with it
#   1  a daemon did not come up (log tails are printed)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="${1:-${CI_SLURM_DIR:-/var/lib/slurm-ci}}"
PARTITION="${CI_SLURM_PARTITION:-debug}"
CTLD_PORT="${CI_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${CI_SLURM_SLURMD_PORT:-6818}"
TIMEOUT="${CI_SLURM_TIMEOUT:-60}"
CONF=/etc/slurm/slurm.conf
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/log"
PKGS=(slurmctld slurmd slurm-client munge)

log() { echo "[slurm-ci] $*" >&2; }
unavailable() { echo "slurm-ci unavailable: $*" >&2; exit 3; }

if [ "$(id -u)" != 0 ]; then
    unavailable "start.sh must run as root (it installs packages and writes $CONF)"
fi

# --- 1. packages -------------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || unavailable "apt-get not found; install ${missing[*]} by hand"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() {
        apt-get install -y -q --no-install-recommends "${missing[@]}" >"$1" 2>&1
    }
    tmp_log="$(mktemp)"
    if ! apt_install "$tmp_log"; then
        log "apt-get install failed without update; running apt-get update"
        if ! apt-get update -q >"$tmp_log" 2>&1 || ! apt_install "$tmp_log"; then
            tail -n 5 "$tmp_log" >&2
            rm -f "$tmp_log"
            unavailable "apt-get could not install ${missing[*]}"
        fi
    fi
    rm -f "$tmp_log"
fi
for b in munged slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || unavailable "$b not found after installing ${PKGS[*]}"
done

# --- 2. directories, munge key, slurm.conf -----------------------------------
mkdir -p "$STATE_DIR/ctld" "$STATE_DIR/d" "$RUN_DIR" "$LOG_DIR" /etc/slurm \
         /etc/munge /run/munge /var/lib/munge /var/log/munge
if ! id munge >/dev/null 2>&1; then
    unavailable "user 'munge' missing although the munge package is installed"
fi
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    fi
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0600 /etc/munge/munge.key

HOST="$(hostname -s)"
CPUS="$(nproc)"
mem_total_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
# Leave headroom: slurmd drains a node whose RealMemory exceeds what it sees.
MEM_MB=$(( mem_total_mb > 2048 ? mem_total_mb - 1024 : mem_total_mb * 9 / 10 ))

new_conf="$(mktemp)"
sed -e "s|@HOST@|$HOST|g" \
    -e "s|@CPUS@|$CPUS|g" \
    -e "s|@MEM_MB@|$MEM_MB|g" \
    -e "s|@STATE_DIR@|$STATE_DIR|g" \
    -e "s|@PARTITION@|$PARTITION|g" \
    -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
    -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" \
    "$HERE/slurm.conf.in" >"$new_conf"
conf_changed=0
if ! cmp -s "$new_conf" "$CONF"; then
    if [ -e "$CONF" ] && ! grep -q "written by .ci/slurm/start.sh" "$CONF"; then
        cp -p "$CONF" "$CONF.bak-slurm-ci"
        log "existing $CONF saved as $CONF.bak-slurm-ci"
    fi
    install -m 0644 "$new_conf" "$CONF"
    conf_changed=1
fi
rm -f "$new_conf"
# Remember where the state lives so stop.sh finds the pid files.
echo "$STATE_DIR" >/etc/slurm/slurm-ci.state-dir

# --- 3. daemons ---------------------------------------------------------------
alive() {  # alive NAME -> 0 if our recorded pid for NAME is running
    local f="$RUN_DIR/$1.pid" pid
    [ -s "$f" ] || return 1
    pid="$(cat "$f")"
    kill -0 "$pid" 2>/dev/null || return 1
    # guard against pid reuse: the process must still be that daemon
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

launch() {  # launch NAME CMD... : start in its own session, record its pid
    local name="$1"; shift
    log "starting $name"
    # Without job control a background job is not a process-group leader, so
    # setsid execs in place and $! is the daemon's own pid.
    setsid "$@" >>"$LOG_DIR/$name.out" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$name.pid"
}

tail_logs() {
    for f in "$LOG_DIR"/*.log "$LOG_DIR"/*.out /var/log/munge/munged.log; do
        [ -s "$f" ] || continue
        echo "----- tail $f" >&2
        tail -n 15 "$f" >&2
    done
}

die() { log "ERROR: $*"; tail_logs; exit 1; }

wait_for() {  # wait_for DESCRIPTION CMD... : poll CMD until it succeeds
    local what="$1"; shift
    local deadline=$(( SECONDS + TIMEOUT ))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${TIMEOUT}s waiting for $what"
        sleep 0.5
    done
}

munge_ok() { munge -n </dev/null | unmunge >/dev/null; }

if ! alive munged; then
    if munge_ok 2>/dev/null; then
        log "a munged not started by this script already answers; using it"
    else
        rm -f /run/munge/munged.pid /run/munge/munge.socket.2.lock
        # setpriv execs (no fork), so the recorded pid stays munged's.
        launch munged setpriv --reuid=munge --regid=munge --init-groups \
            munged -F --log-file=/var/log/munge/munged.log
        wait_for "munged" munge_ok
    fi
fi

if [ "$conf_changed" = 1 ]; then
    # A daemon started with an older config must pick up the new one.
    for d in slurmd slurmctld; do
        if alive "$d"; then
            log "slurm.conf changed; restarting $d"
            kill "$(cat "$RUN_DIR/$d.pid")" 2>/dev/null || true
            for _ in $(seq 40); do alive "$d" || break; sleep 0.25; done
        fi
    done
fi

if ! alive slurmctld; then
    # -i: ignore unreadable state left by an earlier crash.
    launch slurmctld slurmctld -D -i -f "$CONF"
fi
wait_for "slurmctld (scontrol ping)" bash -c "scontrol ping | grep -q 'is UP'"

if ! alive slurmd; then
    launch slurmd slurmd -D -f "$CONF"
fi

node_state() { sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -n1; }
deadline=$(( SECONDS + TIMEOUT ))
while :; do
    state="$(node_state)"
    case "$state" in
        idle|mixed|allocated|completing) break ;;
        down*|drain*|fail*)
            # A node left down by an earlier run: bring it back.
            scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
    esac
    for d in munged slurmctld slurmd; do
        alive "$d" || [ "$d" = munged ] || die "$d exited during start-up"
    done
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${TIMEOUT}s: node $HOST is '${state:-unknown}', not idle"
    sleep 0.5
done
log "cluster up: node $HOST ($CPUS CPUs, ${MEM_MB} MB) in partition $PARTITION; state in $STATE_DIR"
sinfo >&2
