#!/usr/bin/env bash
# Scheduler at scale (issue 5): an enclave-server with the SIMULATOR host driver (no VM runs) and
# ${HOSTS:-1000} simulated hosts of 64 CPUs / 256 GiB; ${VMS:-20000} VMs created through the API.
# Prints RESULT lines; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
./mvnw -q -B -o -DskipTests package
CP="bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*"
WORK=$(mktemp -d /tmp/encs-XXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/images/tiny"
qemu-img create -q -f qcow2 "$WORK/images/tiny/disk.qcow2" 64M
echo '{"name":"tiny","disk":"disk.qcow2","diskFormat":"qcow2","guestAgent":false}' > "$WORK/images/tiny/manifest.json"
PORT=18479
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(date -u +%F)"
bin/enclave-server --data-dir "$WORK/data" --images-dir "$WORK/images" --port "$PORT" --host-driver simulator \
  --simulated-hosts "${HOSTS:-1000}" --resync-seconds 60 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/v1/health" >/dev/null && break; sleep 0.2; done
TOKEN=$(cat "$WORK/data/admin-token")
"$JAVA_HOME/bin/java" -cp "$CP" io.enclave.bench.SchedulerBench "http://127.0.0.1:$PORT" "$TOKEN" "${VMS:-20000}"
echo "RESULT controller RSS after: $(ps -o rss= -p "$SERVER_PID" | awk '{printf "%.0f MiB", $1/1024}')"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
"$JAVA_HOME/bin/java" -cp "$CP" io.enclave.bench.PlacementBench "${HOSTS:-1000}" "${VMS:-20000}" 5
