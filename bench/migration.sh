#!/usr/bin/env bash
# Live migration between two host agents on this machine (in one JVM, relays on 127.0.0.1), real guests of
# the default image under TCG: 256 MiB and 1 GiB, shared and copied storage, RUNS hops each (back and forth).
# Boots one guest at a time (1 vCPU). Prints per-hop lines and RESULT lines; copy them with the machine and
# date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
bash images/default/build.sh "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}/default" >&2
./mvnw -q -B -o -DskipTests package -pl enclave-core,enclave-agent,bench -am
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(qemu-system-x86_64 --version | head -1), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
java --enable-native-access=ALL-UNNAMED -Dlogback.configurationFile=/dev/null -cp "bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
  io.enclave.bench.MigrationBench "${RUNS:-5}" "${SIZES:-256,1024}" 2>&1 | grep -v " DEBUG \| INFO "
