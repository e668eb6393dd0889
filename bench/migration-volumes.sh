#!/usr/bin/env bash
# Live migration of a VM with volumes between two host agents on this machine (in one JVM, relays on 127.0.0.1):
# a real guest of the default image under TCG booting from a 2-copy boot volume, with a 1-copy volume hot-plugged,
# both written during every hop; RUNS hops back and forth (default 20), MIB of memory (default 256). Prints per-hop
# lines and a RESULT line; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/agent-bench.sh"
run_agent_bench VolumeMigrationBench "${RUNS:-20}" "${MIB:-256}"
