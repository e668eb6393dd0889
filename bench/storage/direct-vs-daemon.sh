#!/usr/bin/env bash
# Sequential write then read of a qcow2 volume through QEMU's block layer (qemu-img bench, 1 MiB
# requests, queue depth 4, O_DIRECT), opened directly vs through a qemu-storage-daemon NBD export on a
# unix socket; for 1 copy and for a 3-copy quorum. Prints MiB/s. Usage: direct-vs-daemon.sh [dir] [MiB]
# The direct quorum has no rewrite-corrupted: qemu-img bench opens it read-only for the read pass, and
# rewrite-corrupted needs write access (it only matters when copies disagree, which they do not here).
set -euo pipefail
dir=${1:-/tmp/ent4-bench}
mib=${2:-512}
mkdir -p "$dir"
qsd_pid=""
cleanup() { [[ -n $qsd_pid ]] && kill "$qsd_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

fresh() { rm -f "$dir"/c*.qcow2; for i in "$@"; do qemu-img create -q -f qcow2 "$dir/c$i.qcow2" "${mib}M"; done; }
rate() { # label, qemu-img bench args...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N); qemu-img bench -q "$@" >/dev/null; t1=$(date +%s.%N)
  awk -v l="$label" -v m="$mib" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-34s %7.1f MiB/s (%.2f s)\n", l, m / (b - a), b - a }'
}
file_node() { echo "{\"driver\":\"file\",\"node-name\":\"f$1\",\"filename\":\"$dir/c$1.qcow2\",\"cache\":{\"direct\":true}}"; }
one_json="json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$dir/c0.qcow2\",\"cache\":{\"direct\":true}}}"
q3_json="json:{\"driver\":\"quorum\",\"vote-threshold\":2,\"children\":["
for i in 0 1 2; do q3_json+="{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$dir/c$i.qcow2\",\"cache\":{\"direct\":true}}}"; [[ $i -lt 2 ]] && q3_json+=","; done
q3_json+="]}"
count=$mib
bench() { rate "$1 write" -w -s 1M -c "$count" -d 4 "${@:2}"; rate "$1 read" -s 1M -c "$count" -d 4 "${@:2}"; }

start_qsd() { # copies
  local args=()
  for i in $(seq 0 $(($1 - 1))); do
    args+=(--blockdev "$(file_node "$i")" --blockdev "{\"driver\":\"qcow2\",\"node-name\":\"q$i\",\"file\":\"f$i\"}")
  done
  local top=q0
  if [[ $1 -eq 3 ]]; then
    args+=(--blockdev '{"driver":"quorum","node-name":"vol","vote-threshold":2,"rewrite-corrupted":true,"children":["q0","q1","q2"]}')
    top=vol
  fi
  rm -f "$dir/nbd.sock"
  qemu-storage-daemon "${args[@]}" --nbd-server "addr.type=unix,addr.path=$dir/nbd.sock" \
    --export "type=nbd,id=e0,node-name=$top,name=vol,writable=on" --pidfile "$dir/qsd.pid" --daemonize
  qsd_pid=$(cat "$dir/qsd.pid")
}
stop_qsd() { kill "$qsd_pid"; while kill -0 "$qsd_pid" 2>/dev/null; do sleep 0.05; done; qsd_pid=""; }
nbd="nbd+unix:///vol?socket=$dir/nbd.sock"

fresh 0;     bench "1 copy, direct" "$one_json"
fresh 0;     start_qsd 1; bench "1 copy, qemu-storage-daemon NBD" -f raw "$nbd"; stop_qsd
fresh 0 1 2; bench "3 copies, direct" "$q3_json"
fresh 0 1 2; start_qsd 3; bench "3 copies, qemu-storage-daemon NBD" -f raw "$nbd"; stop_qsd
