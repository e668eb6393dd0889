package io.enclave.controller.hosts;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Store;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.operation.OperationStatus;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmPhase;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a host into maintenance: it takes no new VMs ({@code draining}), its running VMs are live-migrated
 * away one at a time (the scheduler picks each destination), then its stopped VMs with a disk on the host's own
 * storage are moved cold (disk and volumes copied, the guest never runs), its stopped VMs whose disks are on
 * shared storage are re-homed (nothing to copy: they start on their new host), and once none runs there it is
 * {@code on}. A stopped VM that cannot move (no room, no pool) keeps its place, logged. Leaving maintenance
 * makes the host schedulable again; a drain in progress stops after the migration it is doing.
 */
public final class Maintenance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Maintenance.class);

    private final Store store;
    private final MigrationService migrations;
    private final Scheduler scheduler;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    public Maintenance(Store store, MigrationService migrations, Scheduler scheduler) {
        this.store = store;
        this.migrations = migrations;
        this.scheduler = scheduler;
    }

    public HostRow enter(String hostId) {
        HostRow row = store.jdbi().inTransaction(h -> {
            HostRow host = store.hosts().lock(h, hostId).orElseThrow(() -> new EnclaveException.NotFound("host", hostId));
            if (!"none".equals(host.maintenance())) return host;
            if (!"up".equals(host.status())) {
                throw new EnclaveException.Conflict("host " + hostId + " is down: its VMs cannot be migrated away");
            }
            store.hosts().setMaintenance(h, hostId, "draining");
            return store.hosts().find(h, hostId).orElseThrow();
        });
        if ("draining".equals(row.maintenance())) executor.submit(() -> drain(hostId));
        return row;
    }

    public HostRow leave(String hostId) {
        return store.jdbi().inTransaction(h -> {
            store.hosts().lock(h, hostId).orElseThrow(() -> new EnclaveException.NotFound("host", hostId));
            store.hosts().setMaintenance(h, hostId, "none");
            return store.hosts().find(h, hostId).orElseThrow();
        });
    }

    /** Resumes drains a controller restart interrupted. */
    public void resumeDrains() {
        store.jdbi().withHandle(h -> store.hosts().list(h)).stream().filter(r -> "draining".equals(r.maintenance()))
                .forEach(r -> executor.submit(() -> drain(r.id())));
    }

    private void drain(String hostId) {
        int failures = 0;
        while (stillDraining(hostId)) {
            List<Vm> runningHere = store.jdbi().withHandle(h -> store.vms().onHost(h, hostId)).stream()
                    .filter(vm -> vm.phase() == VmPhase.RUNNING).toList();
            if (runningHere.isEmpty()) {
                moveStoppedLocalVms(hostId);
                rehomeStoppedSharedVms(hostId);
                store.jdbi().useTransaction(h -> {
                    if (stillDraining(hostId)) store.hosts().setMaintenance(h, hostId, "on");
                });
                log.info("host {}: drained, in maintenance", hostId);
                return;
            }
            Vm vm = runningHere.getFirst();
            try {
                MigrationService.Accepted a = migrations.migrate(vm.id(), null, null, false, null);
                log.info("host {}: draining: vm {} moving to host {} (operation {})", hostId, vm.id(), a.toHost(),
                        a.operation().id());
                if (!awaitOperation(a.operation().id())) failures++;
            } catch (RuntimeException e) {
                failures++;
                log.warn("host {}: draining: vm {} cannot move: {}", hostId, vm.id(), e.getMessage());
            }
            if (failures >= 3) {
                log.error("host {}: drain stopped after {} failed migrations; the host stays draining (no new VMs)", hostId, failures);
                return;
            }
        }
    }

    /** Moves each stopped VM whose disk is on the host's own storage cold to a host the scheduler picks; once each. */
    private void moveStoppedLocalVms(String hostId) {
        List<Vm> stopped = store.jdbi().withHandle(h -> store.vms().onHost(h, hostId).stream()
                .filter(vm -> vm.phase() == VmPhase.STOPPED && vm.desiredState() == DesiredState.STOPPED)
                .filter(vm -> store.vms().sharedStorage(h, vm.id()) == null).toList());
        for (Vm vm : stopped) {
            if (!stillDraining(hostId)) return;
            try {
                MigrationService.Accepted a = migrations.migrate(vm.id(), null, null, true, null);
                log.info("host {}: draining: stopped vm {} moving cold to host {} (operation {})", hostId, vm.id(), a.toHost(),
                        a.operation().id());
                if (!awaitOperation(a.operation().id())) log.warn("host {}: draining: stopped vm {} did not move; it stays", hostId, vm.id());
            } catch (RuntimeException e) {
                log.warn("host {}: draining: stopped vm {} stays: {}", hostId, vm.id(), e.getMessage());
            }
        }
    }

    /**
     * Moves the records of the host's stopped VMs whose disks are on shared storage to hosts the scheduler picks
     * (the sweeper then releases what the host kept of them, never the shared disk). The others stay, logged.
     */
    private void rehomeStoppedSharedVms(String hostId) {
        List<String> stayed = new java.util.ArrayList<>();
        store.jdbi().useTransaction(h -> {
            for (Vm vm : store.vms().onHost(h, hostId)) {
                if (vm.phase() == VmPhase.RUNNING || store.vms().migration(h, vm.id()).isPresent()) continue;
                String shared = store.vms().sharedStorage(h, vm.id());
                if (shared == null || vm.desiredState() != DesiredState.STOPPED) {
                    stayed.add(vm.id());
                    continue;
                }
                String group = vm.spec().placement().antiAffinityGroup();
                java.util.Set<String> excluded = new java.util.HashSet<>(
                        group == null ? java.util.Set.of() : store.vms().hostsOfGroup(h, vm.tenantId(), group));
                excluded.add(hostId);
                try {
                    String target = scheduler.place(vm.spec(), store.hosts().list(h), store.hosts().allocations(h), excluded, shared);
                    store.vms().moveToHost(h, vm.id(), target);
                    log.info("host {}: draining: stopped vm {} (tenant {}) re-homed to host {} (its disk is on shared storage '{}')",
                            hostId, vm.id(), vm.tenantId(), target, shared);
                } catch (EnclaveException.Conflict e) {
                    stayed.add(vm.id());
                    log.warn("host {}: draining: stopped vm {} stays: {}", hostId, vm.id(), e.getMessage());
                }
            }
        });
        if (!stayed.isEmpty()) {
            log.info("host {}: draining: stopped VMs {} stay (disk on the host's own storage, or no room elsewhere)", hostId, stayed);
        }
    }

    private boolean stillDraining(String hostId) {
        return store.jdbi().withHandle(h -> store.hosts().find(h, hostId)).map(r -> "draining".equals(r.maintenance()))
                .orElse(false);
    }

    private boolean awaitOperation(String operationId) {
        while (true) {
            var op = store.jdbi().withHandle(h -> store.operations().find(h, io.enclave.controller.persistence.Scope.ALL_TENANTS, operationId));
            if (op.isEmpty()) return false;
            if (op.get().status() == OperationStatus.SUCCEEDED) return true;
            if (op.get().status() == OperationStatus.FAILED) return false;
            try {
                Thread.sleep(Duration.ofMillis(200));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
