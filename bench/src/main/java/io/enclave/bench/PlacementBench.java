package io.enclave.bench;

import io.enclave.controller.persistence.HostRepository.Allocation;
import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.core.host.HostInfo;
import io.enclave.core.vm.VmPlacement;
import io.enclave.core.vm.VmSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The placement decision alone, without the API or the database (bench/scheduler.sh runs it after the
 * API run): N VMs placed one after another on H hosts of 64 CPUs / 256 GiB, half of them in anti-affinity
 * groups of 10, with the allocations kept in memory as the database would. Usage: {@code H N ROUNDS}.
 */
public final class PlacementBench {

    public static void main(String[] args) {
        int hostCount = Integer.parseInt(args[0]);
        int vms = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        List<HostRow> hosts = new ArrayList<>();
        for (int i = 0; i < hostCount; i++) {
            hosts.add(new HostRow(new HostInfo("host-sim" + i, "sim" + i, 64, 256 * 1024, "simulated"), "up", Instant.now()));
        }
        Scheduler scheduler = new Scheduler(16.0, 1.5);
        Stats totals = new Stats();
        Stats perVm = new Stats();
        for (int round = 0; round < rounds; round++) {
            Map<String, Allocation> used = new HashMap<>();
            Map<String, Set<String>> groups = new HashMap<>();
            long t0 = System.nanoTime();
            for (int v = 0; v < vms; v++) {
                String group = v % 2 == 0 ? "g" + (v / 20) : null;
                VmSpec spec = new VmSpec("v" + v, 1, 128, 1, "tiny", new VmPlacement(false, group, false));
                long s = System.nanoTime();
                String host = scheduler.place(spec, hosts, List.copyOf(used.values()),
                        group == null ? Set.of() : groups.getOrDefault(group, Set.of()), null);
                if (round == rounds - 1) perVm.add((System.nanoTime() - s) / 1e6);
                Allocation a = used.get(host);
                used.put(host, new Allocation(host, (a == null ? 0 : a.vcpus()) + 1, (a == null ? 0 : a.memoryMib()) + 128));
                if (group != null) groups.computeIfAbsent(group, g -> new HashSet<>()).add(host);
            }
            totals.add((System.nanoTime() - t0) / 1e6);
        }
        System.out.println("RESULT placement only, " + vms + " VMs on " + hostCount + " hosts, whole run: " + totals.summary(" ms"));
        System.out.println("RESULT placement only, one decision (last run): " + perVm.summary(" ms"));
    }
}
