#!/usr/bin/env bash
# Issue 3 benchmarks (tenant networks + light firewall) against the real Linux network driver.
# Prints RESULT lines; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null
./mvnw -q -B -DskipTests install -pl enclave-core,enclave-agent,bench -am
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
java --enable-native-access=ALL-UNNAMED -cp "bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" io.enclave.bench.NetworkBench "${TENANTS:-10}"
