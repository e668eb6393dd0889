#!/usr/bin/env bash
# Foundation benchmarks (issue 2). Builds, then:
#  1. real QEMU host: 20 sequential creates -> time to QEMU started and to guest ready (TCG here);
#  2. SIMULATOR host driver (no VMs run): 20,000 VMs seeded through the API, then list / get latency,
#     read throughput with wrk, and the controller's resident memory.
# Prints RESULT lines; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
command -v wrk >/dev/null || { apt-get install -y -q wrk >/dev/null; }
./mvnw -q -B -DskipTests package
build_default_image
CP="bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*"
WORK=$(mktemp -d /tmp/encb-XXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() { # data-dir port extra-args...
  local data=$1 port=$2; shift 2
  bin/enclave-server --data-dir "$data" --images-dir "$WORK/images" --port "$port" "$@" >"$data.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null && return 0; sleep 0.2; done
  echo "server did not start; log:" >&2; cat "$data.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

mkdir -p "$WORK/images/tiny"
qemu-img create -q -f qcow2 "$WORK/images/tiny/disk.qcow2" 64M
echo '{"name":"tiny","disk":"disk.qcow2","diskFormat":"qcow2","guestAgent":false}' > "$WORK/images/tiny/manifest.json"
ln -s "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}/default" "$WORK/images/default"
IMAGE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$WORK/images/default/manifest.json")

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(date -u +%F)"

echo "== 1. provisioning on a real QEMU host (${PROVISION_RUNS:-20} sequential creates)"
start_server "$WORK/real" 18471 --accel tcg
java -cp "$CP" io.enclave.bench.FoundationBench provision http://127.0.0.1:18471 "$(cat "$WORK/real/admin-token")" "$IMAGE" "${PROVISION_RUNS:-20}"
stop_server
python3 - "$WORK/real.log" <<'PY'
import re, statistics, sys
rows = [tuple(map(int, m.groups())) for m in re.finditer(r"QEMU started (\d+) ms after the create was accepted; QEMU's own start took (\d+) ms", open(sys.argv[1]).read())]
def pct(v, p): v = sorted(v); return v[max(0, min(len(v) - 1, -(-p * len(v) // 100) - 1))]
total = [t for t, q in rows]; qemu = [q for t, q in rows]; platform = [t - q for t, q in rows]
for name, v in (("accepted->QEMU started (server log)", total), ("  of which QEMU's own start (fork to daemonized)", qemu), ("  platform overhead (the rest)", platform)):
    print(f"RESULT {name}: n={len(v)} p50={pct(v,50)} ms p95={pct(v,95)} ms")
PY

echo "== 2. control plane at scale (SIMULATOR host driver: no VM runs)"
start_server "$WORK/sim" 18472 --host-driver simulator --resync-seconds 3600
TOKEN=$(cat "$WORK/sim/admin-token")
java -cp "$CP" io.enclave.bench.FoundationBench scale http://127.0.0.1:18472 "$TOKEN" "${SCALE_VMS:-20000}" | tee "$WORK/scale.out"
GETPATH=$(awk '/^GETPATH/{print $2}' "$WORK/scale.out")
echo "RESULT controller RSS after seeding and queries: $(awk '/VmRSS/{print $2/1024 " MiB"}' /proc/$SERVER_PID/status)"
echo "== read throughput: wrk, 1 thread, 16 connections, 10 s, GET one VM"
wrk -t1 -c16 -d10s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18472$GETPATH" | sed 's/^/    /'
echo "== read throughput: wrk, 1 thread, 16 connections, 10 s, GET a page of 100 VMs"
wrk -t1 -c16 -d10s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18472/v1/vms?limit=100" | sed 's/^/    /'
echo "RESULT controller RSS after throughput runs: $(awk '/VmRSS/{print $2/1024 " MiB"}' /proc/$SERVER_PID/status)"
stop_server
