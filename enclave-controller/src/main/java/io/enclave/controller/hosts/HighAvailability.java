package io.enclave.controller.hosts;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.operation.Operation;
import io.enclave.core.operation.OperationKind;
import io.enclave.core.operation.OperationStatus;
import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restarts highly-available VMs of a dead host on other hosts. Fence before restart: the host is marked
 * fenced (it takes no VMs, and whatever it still runs is released when it comes back), and the restart
 * waits {@code fenceWait} after the host was declared down, longer than an agent cut off from the
 * controller takes to stop its own VMs on shared storage (its self-fence), so no disk is ever run twice.
 */
public final class HighAvailability {
    private static final Logger log = LoggerFactory.getLogger(HighAvailability.class);

    private final Store store;
    private final Scheduler scheduler;
    private final Clock clock;
    private final Duration fenceWait;
    private final ScheduledExecutorService timer;
    private final Consumer<String> reconcileVmSoon;
    private final Consumer<String> reconcileTenantNetworkSoon;

    public HighAvailability(Store store, Scheduler scheduler, Clock clock, Duration fenceWait,
            ScheduledExecutorService timer, Consumer<String> reconcileVmSoon, Consumer<String> reconcileTenantNetworkSoon) {
        this.store = store;
        this.scheduler = scheduler;
        this.clock = clock;
        this.fenceWait = fenceWait;
        this.timer = timer;
        this.reconcileVmSoon = reconcileVmSoon;
        this.reconcileTenantNetworkSoon = reconcileTenantNetworkSoon;
    }

    /** The host was declared down: its firewalls move at once, its HA VMs after the fence wait. */
    public void hostDown(String hostId) {
        store.jdbi().withHandle(h -> h.createQuery("SELECT tenant_id FROM firewalls WHERE host_id = :h")
                .bind("h", hostId).mapTo(String.class).list()).forEach(reconcileTenantNetworkSoon);
        timer.schedule(() -> {
            try {
                recover(hostId);
            } catch (RuntimeException e) {
                log.error("host {}: recovering its VMs failed: {}", hostId, e.getMessage(), e);
            }
        }, fenceWait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Fences the host if it is still down and restarts its HA VMs elsewhere; returns the VMs restarted. */
    public List<String> recover(String hostId) {
        Instant now = clock.instant();
        List<String> moved = new ArrayList<>();
        Set<String> tenants = new HashSet<>();
        boolean fenced = store.jdbi().inTransaction(h -> {
            HostRow host = store.hosts().lock(h, hostId).orElse(null);
            if (host == null || "up".equals(host.status())) return false; // it came back in time
            store.hosts().setFenced(h, hostId, true);
            for (Vm vm : store.vms().onHost(h, hostId)) {
                if (!vm.spec().placement().highlyAvailable() || vm.desiredState() != DesiredState.RUNNING) {
                    store.vms().recordObserved(h, vm.id(), vm.phase(), vm.observedGeneration(), false,
                            "host " + hostId + " is down", now);
                    continue;
                }
                String group = vm.spec().placement().antiAffinityGroup();
                Set<String> excluded = new HashSet<>(group == null ? Set.of() : store.vms().hostsOfGroup(h, vm.tenantId(), group));
                excluded.add(hostId);
                String target;
                try {
                    target = scheduler.place(vm.spec(), store.hosts().list(h), store.hosts().allocations(h), excluded,
                            store.vms().sharedStorage(h, vm.id()));
                } catch (EnclaveException.Conflict e) {
                    log.error("vm {} (tenant {}): cannot restart it after host {} failed: {}", vm.id(), vm.tenantId(),
                            hostId, e.getMessage());
                    store.vms().recordObserved(h, vm.id(), vm.phase(), vm.observedGeneration(), false,
                            "host " + hostId + " is down and no other host can take it: " + e.getMessage(), now);
                    continue;
                }
                store.vms().moveToHost(h, vm.id(), target);
                store.vms().recordObserved(h, vm.id(), io.enclave.core.vm.VmPhase.PENDING, vm.observedGeneration(), false,
                        "restarting on host " + target + " after host " + hostId + " failed", now);
                Operation op = new Operation(Ids.newId("op"), vm.tenantId(), OperationKind.RECOVER_VM, vm.id(),
                        vm.generation(), OperationStatus.RUNNING, 10, "restarting on host " + target + " after host "
                        + hostId + " failed", null, now, now);
                store.operations().insert(h, op, "system", null);
                moved.add(vm.id());
                tenants.add(vm.tenantId());
            }
            return true;
        });
        if (fenced) {
            log.warn("host {} fenced; {} highly-available VM(s) restarting elsewhere: {}", hostId, moved.size(), moved);
        }
        moved.forEach(reconcileVmSoon);
        tenants.forEach(reconcileTenantNetworkSoon);
        return moved;
    }
}
