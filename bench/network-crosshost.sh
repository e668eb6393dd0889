#!/usr/bin/env bash
# TCP throughput between two VMs of one tenant network on two simulated hosts, over the VXLAN the network
# driver builds, against the same two hosts directly over the underlay (RUNS runs each, default 5).
# Hosts are namespaces (exbh1/exbh2, a "dc" bridge in exbdc); everything it creates starts with "ex" and is
# removed at the end. Prints RESULT lines; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null
# package, not install: the bench runs from bench/target and leaves ~/.m2 alone.
./mvnw -q -B ${MVN_OFFLINE:+-o} -DskipTests package -pl enclave-core,enclave-agent,bench -am
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
java --enable-native-access=ALL-UNNAMED -cp "bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" io.enclave.bench.CrossHostNetworkBench "${RUNS:-5}"
