#!/usr/bin/env bash
# Stop exactly the SLURM daemons tests/slurm/setup.sh STATE_DIR started (by the pids it recorded) and put
# /etc/slurm/slurm.conf back as it was. Safe to run after a failed or partial setup, and more than once.
#   tests/slurm/teardown.sh STATE_DIR
set -uo pipefail

STATE=${1:?usage: teardown.sh STATE_DIR}
PIDS="$STATE/pids"
CONF=/etc/slurm/slurm.conf
export PATH="$PATH:/usr/sbin:/sbin"

# A pid is ours only while it still runs the program we started under it (pids get reused).
ours() { [ -r "/proc/$2/comm" ] && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ]; }

if [ -s "$PIDS" ]; then
    # Jobs first, while slurmctld still runs: their processes live under slurmstepd, not under slurmd.
    ctld=$(awk '$1 == "slurmctld" {print $2}' "$PIDS")
    if [ -n "$ctld" ] && ours slurmctld "$ctld" && [ -f "$STATE/conf_written" ]; then
        scancel --full --user=root >/dev/null 2>&1 || true
        for _ in $(seq 40); do
            [ -z "$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    # Then the daemons, newest first: slurmd, slurmctld, munged.
    tac "$PIDS" | while read -r name pid; do
        [ -n "$pid" ] || continue
        if ours "$name" "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do ours "$name" "$pid" || break; sleep 0.2; done
            if ours "$name" "$pid"; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
            echo "[slurm teardown] stopped $name ($pid)"
        fi
    done
    : > "$PIDS"
fi

if [ -f "$STATE/conf_written" ]; then
    if [ -f "$STATE/slurm.conf.orig" ]; then
        cp -p "$STATE/slurm.conf.orig" "$CONF" && rm -f "$STATE/slurm.conf.orig"
    elif head -n 1 "$CONF" 2>/dev/null | grep -qF "# Written by tests/slurm/setup.sh"; then
        rm -f "$CONF"
    fi
    rm -f "$STATE/conf_written"
fi
exit 0
