package io.enclave.controller.scheduler;

import io.enclave.controller.persistence.HostRepository.Allocation;
import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.vm.VmSpec;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Places a VM on the host with the most free memory among those with room for it, counting vCPUs and
 * memory against the host's capacity times the overcommit ratios. Only hosts that are up, not in
 * maintenance and not fenced take VMs; a VM on shared storage only goes where that storage is reachable;
 * {@code excluded} hosts (those of the VM's anti-affinity group, or the host it leaves) are skipped.
 */
public final class Scheduler {
    private final double cpuOvercommit;
    private final double memoryOvercommit;

    public Scheduler(double cpuOvercommit, double memoryOvercommit) {
        this.cpuOvercommit = cpuOvercommit;
        this.memoryOvercommit = memoryOvercommit;
    }

    public String place(VmSpec spec, List<HostRow> hosts, List<Allocation> allocations) {
        return place(spec, hosts, allocations, Set.of(), null);
    }

    /** {@code sharedStorage}: the storage the VM's disk is on already (null: any shared storage, or none needed). */
    public String place(VmSpec spec, List<HostRow> hosts, List<Allocation> allocations, Set<String> excluded,
            String sharedStorage) {
        Map<String, Allocation> used = allocations.stream().collect(Collectors.toMap(Allocation::hostId, Function.identity()));
        List<HostRow> candidates = hosts.stream().filter(HostRow::schedulable).toList();
        if (candidates.isEmpty()) throw new EnclaveException.Conflict("no host is up and out of maintenance");
        if (spec.placement().sharedStorage()) {
            candidates = candidates.stream().filter(h -> h.sharedStorage() != null
                    && (sharedStorage == null || sharedStorage.equals(h.sharedStorage()))).toList();
            if (candidates.isEmpty()) {
                throw new EnclaveException.Conflict("no available host reaches shared storage"
                        + (sharedStorage == null ? "" : " '" + sharedStorage + "'"));
            }
        }
        List<HostRow> allowed = candidates.stream().filter(h -> !excluded.contains(h.id())).toList();
        if (allowed.isEmpty()) {
            throw new EnclaveException.Conflict("no host is left for " + spec.name() + ": "
                    + (spec.placement().antiAffinityGroup() != null
                            ? "every available host already runs a VM of anti-affinity group '"
                                    + spec.placement().antiAffinityGroup() + "'"
                            : "the only available host is excluded"));
        }
        return allowed.stream()
                .filter(h -> fits(spec, h, used.get(h.id())))
                .max(Comparator.comparingDouble(h -> freeMemory(h, used.get(h.id()))))
                .map(HostRow::id)
                .orElseThrow(() -> new EnclaveException.Conflict("no host has room for " + spec.vcpus() + " vCPUs and "
                        + spec.memoryMib() + " MiB (vCPU overcommit " + cpuOvercommit + ", memory overcommit "
                        + memoryOvercommit + ")"));
    }

    /** Whether the VM fits on the host on top of what the host already holds. */
    public boolean fits(VmSpec spec, HostRow host, Allocation used) {
        int usedCpus = used == null ? 0 : used.vcpus();
        long usedMem = used == null ? 0 : used.memoryMib();
        return usedCpus + spec.vcpus() <= host.info().cpus() * cpuOvercommit
                && usedMem + spec.memoryMib() <= host.info().memoryMib() * memoryOvercommit;
    }

    private double freeMemory(HostRow host, Allocation used) {
        return host.info().memoryMib() * memoryOvercommit - (used == null ? 0 : used.memoryMib());
    }
}
