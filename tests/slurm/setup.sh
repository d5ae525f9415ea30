#!/usr/bin/env bash
# Start a throw-away single-node SLURM on this machine (munged, slurmctld, slurmd), for tests/test_slurm.py.
#   tests/slurm/setup.sh STATE_DIR
# Installs Debian's slurmctld/slurmd/slurm-client/munge with apt when missing, writes /etc/slurm/slurm.conf
# (an existing one is kept in STATE_DIR and put back by teardown.sh), starts the daemons in the foreground
# as background children, records "name pid" lines in STATE_DIR/pids, and waits until the node is idle.
# Exit 0: SLURM is up. Exit 77: it cannot run here (reason on stderr; the test skips). Other: setup failed.
# Always run tests/slurm/teardown.sh STATE_DIR afterwards, also when this script fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${1:?usage: setup.sh STATE_DIR}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
CONF=/etc/slurm/slurm.conf
MARK="# Written by tests/slurm/setup.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)
export PATH="$PATH:/usr/sbin:/sbin"

skip() { echo "cannot run SLURM here: $*" >&2; exit 77; }
log() { echo "[slurm setup] $*"; }

[ "$(id -u)" = 0 ] || skip "starting slurmctld/slurmd/munged needs root (running as uid $(id -u))"

missing() {
    local b
    for b in slurmctld slurmd munged mungekey sbatch squeue sinfo scontrol scancel srun; do
        command -v "$b" >/dev/null 2>&1 || return 0
    done
    return 1
}

if missing; then
    command -v apt-get >/dev/null 2>&1 || skip "SLURM/munge are not installed and apt-get is not available to install ${PACKAGES[*]}"
    log "installing ${PACKAGES[*]} with apt-get"
    # Keep the packages' init scripts from starting system daemons we would not own.
    added_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" </dev/null; }
    ok=1
    apt_install || { apt-get update -q </dev/null && apt_install; } || ok=0
    [ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$ok" = 1 ] || skip "apt-get could not install ${PACKAGES[*]}"
    missing && skip "after installing ${PACKAGES[*]} some SLURM/munge programs are still missing"
fi

# Never take over a SLURM that someone else runs on this machine.
for d in slurmctld slurmd; do
    if pgrep -x "$d" >/dev/null 2>&1; then
        skip "a $d is already running on this machine; not touching it"
    fi
done

HOST=$(hostname -s)
PIDS="$STATE/pids"
: > "$PIDS"
mkdir -p "$STATE/slurmctld" "$STATE/slurmd" "$STATE/munge"
chmod 700 "$STATE" "$STATE/munge"

# munged of our own (own key, socket and pid), so a system munged, if any, is left alone.
mungekey --create --force --keyfile "$STATE/munge/munge.key" >/dev/null
chmod 600 "$STATE/munge/munge.key"
SOCKET="$STATE/munge/munge.socket"
munged --foreground --force --key-file "$STATE/munge/munge.key" --socket "$SOCKET" \
    --pid-file "$STATE/munge/munged.pid" --log-file "$STATE/munge/munged.log" --seed-file "$STATE/munge/munged.seed" \
    </dev/null >"$STATE/munged.out" 2>&1 &
echo "munged $!" >> "$PIDS"
for _ in $(seq 50); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || { cat "$STATE/munged.out" "$STATE/munge/munged.log" >&2 || true; echo "munged did not start" >&2; exit 1; }

# slurm.conf at the default path: the executor's job step drops SLURM_CONF, so srun inside jobs reads this one.
mkdir -p /etc/slurm
if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
    cp -p "$CONF" "$STATE/slurm.conf.orig"
fi
NODE=$(slurmd -C 2>/dev/null | head -n 1)
case "$NODE" in NodeName=*) ;; *) echo "slurmd -C gave no node line: $NODE" >&2; exit 1 ;; esac
sed -e "s|@HOST@|$HOST|g" -e "s|@STATE@|$STATE|g" -e "s|@NODE@|$NODE|" "$HERE/slurm.conf.in" > "$STATE/slurm.conf"
echo "AuthInfo=socket=$SOCKET" >> "$STATE/slurm.conf"
cp "$STATE/slurm.conf" "$CONF"
echo "$CONF" > "$STATE/conf_written"
log "node: $NODE"

slurmctld -D -i </dev/null >"$STATE/slurmctld.out" 2>&1 &
echo "slurmctld $!" >> "$PIDS"
slurmd -D </dev/null >"$STATE/slurmd.out" 2>&1 &
echo "slurmd $!" >> "$PIDS"

# Wait until the node takes jobs.
state=""
for i in $(seq 120); do
    state=$(sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -n 1 || true)
    case "$state" in
        idle) log "node $HOST idle after ${i}x0.5 s"; exit 0 ;;
        down*|drain*|drng*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
echo "SLURM node $HOST did not become idle (state: '${state}'); logs in $STATE" >&2
tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 2>/dev/null || true
exit 1
