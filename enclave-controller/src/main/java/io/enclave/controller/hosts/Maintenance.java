package io.enclave.controller.hosts;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Store;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.operation.OperationStatus;
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
 * away one at a time (the scheduler picks each destination), and once none runs there it is {@code on}.
 * Stopped VMs keep their place (they start wherever they are once the host is back). Leaving maintenance
 * makes the host schedulable again; a drain in progress stops after the migration it is doing.
 */
public final class Maintenance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Maintenance.class);

    private final Store store;
    private final MigrationService migrations;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    public Maintenance(Store store, MigrationService migrations) {
        this.store = store;
        this.migrations = migrations;
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
                store.jdbi().useTransaction(h -> {
                    if (stillDraining(hostId)) store.hosts().setMaintenance(h, hostId, "on");
                });
                log.info("host {}: drained, in maintenance", hostId);
                return;
            }
            Vm vm = runningHere.getFirst();
            try {
                MigrationService.Accepted a = migrations.migrate(vm.id(), null, null, null);
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
