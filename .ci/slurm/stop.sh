#!/usr/bin/env bash
# Stop the cluster started by .ci/slurm/start.sh.
#
#   .ci/slurm/stop.sh [STATE_DIR]
#
# Cancels jobs still queued on that (throw-away) cluster, then stops only the
# daemons whose pids start.sh recorded, waits for them and removes the pid
# files. Never fails when nothing runs.
set -uo pipefail

STATE_DIR="${1:-${CI_SLURM_DIR:-}}"
if [ -z "$STATE_DIR" ] && [ -s /etc/slurm/slurm-ci.state-dir ]; then
    STATE_DIR="$(cat /etc/slurm/slurm-ci.state-dir)"
fi
STATE_DIR="${STATE_DIR:-/var/lib/slurm-ci}"
RUN_DIR="$STATE_DIR/run"

log() { echo "[slurm-ci] $*" >&2; }

ours() {  # ours NAME -> prints the pid if the recorded daemon is running
    local f="$RUN_DIR/$1.pid" pid
    [ -s "$f" ] || return 1
    pid="$(cat "$f")"
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
    echo "$pid"
}

# Jobs left behind would keep slurmstepd processes alive after slurmd stops.
# Only done when our own slurmctld runs, so no foreign cluster is touched.
if ours slurmctld >/dev/null && command -v scancel >/dev/null; then
    if [ -n "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]; then
        log "cancelling jobs still in the CI cluster"
        timeout 10 scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 20); do
            [ -z "$(timeout 5 squeue -h -t R,CG,PD -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
fi

for name in slurmd slurmctld munged; do
    pid="$(ours "$name")" || { rm -f "$RUN_DIR/$name.pid" 2>/dev/null; continue; }
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 15s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$RUN_DIR/$name.pid" 2>/dev/null
done
exit 0
