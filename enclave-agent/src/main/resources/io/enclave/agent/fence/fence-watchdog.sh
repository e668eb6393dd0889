#!/bin/sh
# Enclave fence watchdog: one per host, started by the host agent, outliving it. The agent renews
# <data-dir>/fence/lease every second. When the lease is older than <seconds> (the agent died or hangs),
# the watchdog kills the QEMU of every VM whose disk is on shared storage (a "disk-dir" file in its
# directory): the controller may restart those VMs on another host, and must never find them running here.
# It exits when its pidfile no longer names it (a newer watchdog took over, or the data directory is gone).
set -u
data="$1"
limit="$2"
fence="$data/fence"
exec >>"$fence/watchdog.log" 2>&1 </dev/null
echo $$ > "$fence/watchdog.pid"
echo "$(date -u +%FT%TZ) watchdog $$ started: lease $fence/lease, limit $limit s"
while :; do
    sleep 1
    [ "$(cat "$fence/watchdog.pid" 2>/dev/null)" = "$$" ] || exit 0
    renewed=$(stat -c %Y "$fence/lease" 2>/dev/null) || continue
    age=$(( $(date +%s) - renewed ))
    [ "$age" -gt "$limit" ] || continue
    for dir in "$data"/vms/*/; do
        vm=$(basename "$dir")
        [ -f "$dir/disk-dir" ] || continue
        pid=$(cat "$dir/qemu.pid" 2>/dev/null) || continue
        # only that VM's QEMU, never a process that reused the pid
        tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "process=enclave-$vm" || continue
        kill -9 "$pid" && echo "$(date -u +%FT%TZ) lease ${age} s old: killed QEMU $pid of vm $vm"
    done
done
