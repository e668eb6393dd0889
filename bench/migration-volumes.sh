#!/usr/bin/env bash
# Live migration of a VM with volumes between two host agents on this machine (in one JVM, relays on 127.0.0.1):
# a real guest of the default image under TCG booting from a 2-copy boot volume, with a 1-copy volume hot-plugged,
# both written during every hop; RUNS hops back and forth (default 20), MIB of memory (default 256). Prints per-hop
# lines and a RESULT line; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
bash images/default/build.sh "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}/default" >&2
./mvnw -q -B -o -DskipTests package -pl enclave-core,enclave-agent,bench -am
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(qemu-system-x86_64 --version | head -1), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
java --enable-native-access=ALL-UNNAMED -Dlogback.configurationFile=/dev/null -cp "bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" \
  io.enclave.bench.VolumeMigrationBench "${RUNS:-20}" "${MIB:-256}" 2>&1 | grep -v " DEBUG \| INFO "
