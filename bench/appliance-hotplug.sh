#!/usr/bin/env bash
# Issue 3: the apply that adds a network to a tenant with the VM-appliance firewall, NIC hot-plug against the
# appliance restart it replaces (RUNS of each, interleaved; real QEMU under TCG). Prints the figures; copy them
# with the machine, date and load into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
build_default_image
./mvnw -q -B -o test -pl enclave-agent -am -Dtest='ApplianceHotplugTest#measuresAddingANetworkHotPlugAgainstRestart' \
  -Dsurefire.failIfNoSpecifiedTests=false -Denclave.test.hotplugRuns="${RUNS:-5}"
grep -h 'appliance hot-plug' enclave-agent/target/surefire-reports/*ApplianceHotplugTest-output.txt
