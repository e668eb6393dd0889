package io.enclave.controller.scheduler;

import io.enclave.controller.persistence.HostRepository.Allocation;
import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.vm.VmSpec;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Places a new VM on the host with the most free memory among those with room for it, counting vCPUs
 * and memory against the host's capacity times the overcommit ratios.
 */
public final class Scheduler {
    private final double cpuOvercommit;
    private final double memoryOvercommit;

    public Scheduler(double cpuOvercommit, double memoryOvercommit) {
        this.cpuOvercommit = cpuOvercommit;
        this.memoryOvercommit = memoryOvercommit;
    }

    public String place(VmSpec spec, List<HostRow> hosts, List<Allocation> allocations) {
        Map<String, Allocation> used = allocations.stream().collect(Collectors.toMap(Allocation::hostId, Function.identity()));
        return hosts.stream()
                .filter(h -> "up".equals(h.status()))
                .filter(h -> fits(spec, h, used.get(h.info().id())))
                .max(Comparator.comparingDouble(h -> freeMemory(h, used.get(h.info().id()))))
                .map(h -> h.info().id())
                .orElseThrow(() -> new EnclaveException.Conflict("no host has room for " + spec.vcpus() + " vCPUs and "
                        + spec.memoryMib() + " MiB (vCPU overcommit " + cpuOvercommit + ", memory overcommit "
                        + memoryOvercommit + ")"));
    }

    private boolean fits(VmSpec spec, HostRow host, Allocation used) {
        int usedCpus = used == null ? 0 : used.vcpus();
        long usedMem = used == null ? 0 : used.memoryMib();
        return usedCpus + spec.vcpus() <= host.info().cpus() * cpuOvercommit
                && usedMem + spec.memoryMib() <= host.info().memoryMib() * memoryOvercommit;
    }

    private double freeMemory(HostRow host, Allocation used) {
        return host.info().memoryMib() * memoryOvercommit - (used == null ? 0 : used.memoryMib());
    }
}
