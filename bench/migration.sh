#!/usr/bin/env bash
# Live migration between two host agents on this machine (in one JVM, relays on 127.0.0.1), real guests of
# the default image under TCG: 256 MiB and 1 GiB, shared and copied storage, RUNS hops each (back and forth).
# Boots one guest at a time (1 vCPU). Prints per-hop lines and RESULT lines; copy them with the machine and
# date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/agent-bench.sh"
run_agent_bench MigrationBench "${RUNS:-5}" "${SIZES:-256,1024}"
