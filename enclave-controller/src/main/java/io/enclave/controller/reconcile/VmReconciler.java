package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.host.VmRuntimeStatus;
import io.enclave.core.image.Image;
import io.enclave.core.operation.Operation;
import io.enclave.core.operation.OperationStatus;
import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmLifecycle;
import io.enclave.core.vm.VmLifecycle.Action;
import io.enclave.core.vm.VmLifecycle.Decision;
import io.enclave.core.vm.VmPhase;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converges one VM's host to the VM's desired state, one step per pass: read the VM and what its host
 * shows, let {@link VmLifecycle} pick the next action, carry it out, record the phase and the progress
 * of the VM's operations. Idempotent, so a pass may be repeated after any crash.
 */
public final class VmReconciler {
    private static final Logger log = LoggerFactory.getLogger(VmReconciler.class);
    /** After this many failed passes at one generation, the VM and its operations are marked failed. */
    static final int MAX_ATTEMPTS = 3;
    private static final Duration POLL = Duration.ofMillis(500);
    private static final java.util.Set<Action> FOLLOWED_AT_ONCE = java.util.EnumSet.of(Action.CREATE_DISK);

    private final Store store;
    private final HostRegistry hosts;
    private final VmLifecycle lifecycle;
    private final Clock clock;
    private final java.util.function.BiFunction<String, String, Optional<io.enclave.core.network.TenantNetworking>> tenantNetworking;
    private final java.util.function.Consumer<String> tenantNetworkChanged;
    private final java.util.function.Consumer<String> qemuStarted;
    private final java.util.function.Predicate<String> busy;
    private final RuntimeSpecs specs;

    public VmReconciler(Store store, HostRegistry hosts, VmLifecycle lifecycle, Clock clock) {
        this(store, hosts, lifecycle, clock, t -> Optional.empty(), t -> { });
    }

    /**
     * @param tenantNetworking     the tenant's networking as the hosts should have it (for VMs with NICs)
     * @param tenantNetworkChanged told when a VM's deletion removed NICs, so the tenant's networking follows
     */
    public VmReconciler(Store store, HostRegistry hosts, VmLifecycle lifecycle, Clock clock,
            java.util.function.Function<String, Optional<io.enclave.core.network.TenantNetworking>> tenantNetworking,
            java.util.function.Consumer<String> tenantNetworkChanged) {
        this(store, hosts, lifecycle, clock, tenantNetworking, tenantNetworkChanged, vmId -> { });
    }

    /** @param qemuStarted told with the VM's id each time its QEMU was started (volumes are plugged back in) */
    public VmReconciler(Store store, HostRegistry hosts, VmLifecycle lifecycle, Clock clock,
            java.util.function.Function<String, Optional<io.enclave.core.network.TenantNetworking>> tenantNetworking,
            java.util.function.Consumer<String> tenantNetworkChanged, java.util.function.Consumer<String> qemuStarted) {
        this(store, hosts, lifecycle, clock, (tenantId, hostId) -> tenantNetworking.apply(tenantId), tenantNetworkChanged,
                qemuStarted, vmId -> false);
    }

    /**
     * @param tenantNetworking the tenant's networking as a given host must have it (tenant id, host id)
     * @param busy             VMs another process owns for now (a migration): left alone until it is done
     */
    public VmReconciler(Store store, HostRegistry hosts, VmLifecycle lifecycle, Clock clock,
            java.util.function.BiFunction<String, String, Optional<io.enclave.core.network.TenantNetworking>> tenantNetworking,
            java.util.function.Consumer<String> tenantNetworkChanged, java.util.function.Consumer<String> qemuStarted,
            java.util.function.Predicate<String> busy) {
        this.busy = busy;
        this.specs = new RuntimeSpecs(store, tenantNetworking);
        this.qemuStarted = qemuStarted;
        this.tenantNetworking = tenantNetworking;
        this.tenantNetworkChanged = tenantNetworkChanged;
        this.store = store;
        this.hosts = hosts;
        this.lifecycle = lifecycle;
        this.clock = clock;
    }

    public Result reconcile(String vmId) {
        if (busy.test(vmId)) return Result.requeueAfter(Duration.ofSeconds(1));
        Optional<Vm> found = store.jdbi().withHandle(h -> store.vms().find(h, Scope.ALL_TENANTS, vmId));
        if (found.isEmpty()) return Result.DONE;
        Vm vm = found.get();
        boolean hostDown = store.jdbi().withHandle(h -> store.hosts().find(h, vm.hostId()))
                .map(row -> !"up".equals(row.status())).orElse(false);
        if (hostDown) {
            // Nothing to do until it is back (or its HA VMs are re-placed); say so instead of failing.
            String message = "host " + vm.hostId() + " is down";
            if (!message.equals(vm.message()) || vm.guestReady()) record(vm, vm.phase(), vm.observedGeneration(), false, message);
            return Result.requeueAfter(Duration.ofSeconds(5));
        }
        Optional<HostAgent> agent = hosts.get(vm.hostId());
        if (agent.isEmpty()) {
            record(vm, vm.phase(), vm.observedGeneration(), false, "host " + vm.hostId() + " is not reachable");
            return Result.requeueAfter(Duration.ofSeconds(10));
        }
        Optional<Image> image = store.jdbi().withHandle(h -> store.images().findByName(h, vm.spec().image()));
        boolean guestAgent = image.map(i -> i.boot().guestAgent()).orElse(false);
        Decision decision;
        VmRuntimeStatus status;
        try {
            // Steps that always lead straight to another (a disk before a start) run in one pass.
            int steps = 0;
            do {
                status = agent.get().status(vmId);
                decision = lifecycle.decide(vm, status, guestAgent, clock.instant());
                if (decision.action() == Action.START && !networkReady(vm)) {
                    record(vm, VmPhase.STARTING, vm.observedGeneration(), false, "waiting for the tenant network");
                    return Result.requeueAfter(POLL);
                }
                perform(decision.action(), agent.get(), vm, image);
            } while (++steps < 3 && FOLLOWED_AT_ONCE.contains(decision.action()));
        } catch (RuntimeException e) {
            return failed(vm, e);
        }
        return recordOutcome(vm, status, decision);
    }

    /** A VM with NICs starts only once its tenant's networking (its TAPs among it) is applied. */
    private boolean networkReady(Vm vm) {
        return store.jdbi().withHandle(h -> store.networks().nicsOfVm(h, vm.id()).isEmpty()
                || store.firewalls().find(h, Scope.ALL_TENANTS, vm.tenantId())
                        .map(fw -> fw.observedGeneration() >= fw.generation()).orElse(false));
    }

    private void perform(Action action, HostAgent agent, Vm vm, Optional<Image> image) {
        switch (action) {
            case NONE, AWAIT_GUEST, AWAIT_POWER_DOWN -> { }
            case CREATE_DISK -> agent.createDisk(runtimeSpec(vm, image));
            case START -> {
                long begin = System.nanoTime();
                agent.start(runtimeSpec(vm, image));
                long qemuMs = (System.nanoTime() - begin) / 1_000_000;
                qemuStarted.accept(vm.id());
                if (vm.generation() == 1) {
                    // Measured by bench/foundation.sh: platform time = accepted → started, less QEMU's own start.
                    log.info("vm {} (tenant {}): QEMU started {} ms after the create was accepted; QEMU's own start took {} ms",
                            vm.id(), vm.tenantId(), Duration.between(vm.createdAt(), clock.instant()).toMillis(), qemuMs);
                }
            }
            case POWER_DOWN -> agent.powerDown(vm.id());
            case FORCE_STOP -> agent.forceStop(vm.id());
            case RESET -> agent.reset(vm.id());
            case RESUME -> agent.resume(vm.id());
            case CLEAR_DEAD_PROCESS -> agent.clearDeadProcess(vm.id());
            case DESTROY -> agent.destroy(vm.id());
        }
        if (action != Action.NONE && action != Action.AWAIT_GUEST && action != Action.AWAIT_POWER_DOWN) {
            log.info("vm {} (tenant {}): {} done (desired {}, generation {})", vm.id(), vm.tenantId(),
                    action.name().toLowerCase(), vm.desiredState().name().toLowerCase(), vm.generation());
        }
    }

    private Result recordOutcome(Vm vm, VmRuntimeStatus status, Decision d) {
        Instant now = clock.instant();
        if (d.stopDesired()) {
            store.jdbi().useTransaction(h -> {
                Vm current = store.vms().lock(h, Scope.ALL_TENANTS, vm.id()).orElse(null);
                if (current == null || current.generation() != vm.generation()) return; // the caller changed it meanwhile
                long gen = store.vms().setDesired(h, vm.id(), DesiredState.STOPPED, false, vm.stopTimeoutSeconds(), now);
                store.vms().recordObserved(h, vm.id(), d.phase(), gen - 1, false, d.message(), now);
                for (Operation op : store.operations().unfinishedForTarget(h, vm.id())) {
                    store.operations().update(h, op.id(), OperationStatus.FAILED, op.progress(), op.message(), d.message(), now);
                }
            });
            log.warn("vm {} (tenant {}): {}; recorded as stopped", vm.id(), vm.tenantId(), d.message());
            return Result.requeueAfter(Duration.ZERO);
        }
        if (d.converged() && vm.desiredState() == DesiredState.DELETED) {
            boolean hadNics = store.jdbi().inTransaction(h -> {
                boolean nics = !store.networks().nicsOfVm(h, vm.id()).isEmpty();
                store.vms().delete(h, vm.id());
                if (nics) store.firewalls().bump(h, vm.tenantId());
                finishOperations(h, vm, now);
                return nics;
            });
            if (hadNics) tenantNetworkChanged.accept(vm.tenantId());
            log.info("vm {} (tenant {}): deleted", vm.id(), vm.tenantId());
            return Result.DONE;
        }
        boolean guestReady = status.guestReady() && d.phase() == VmPhase.RUNNING;
        if (d.converged()) {
            if (unchanged(vm, d, guestReady)) return Result.DONE; // a periodic re-check found nothing new
            store.jdbi().useTransaction(h -> {
                store.vms().recordObserved(h, vm.id(), d.phase(), vm.generation(), guestReady, d.message(), now);
                finishOperations(h, vm, now);
            });
            return Result.DONE;
        }
        store.jdbi().useTransaction(h -> {
            if (d.action() == Action.RESET) store.vms().clearReboot(h, vm.id());
            store.vms().recordObserved(h, vm.id(), d.phase(), vm.observedGeneration(), false, d.message(), now);
            for (Operation op : store.operations().unfinishedForTarget(h, vm.id())) {
                store.operations().update(h, op.id(), OperationStatus.RUNNING, Math.max(op.progress(), progressOf(d.phase())),
                        describe(d.phase()), null, now);
            }
        });
        return switch (d.action()) {
            case AWAIT_GUEST, AWAIT_POWER_DOWN -> Result.requeueAfter(POLL);
            default -> Result.requeueAfter(Duration.ZERO);
        };
    }

    private static boolean unchanged(Vm vm, Decision d, boolean guestReady) {
        return vm.converged() && vm.phase() == d.phase() && vm.guestReady() == guestReady
                && java.util.Objects.equals(vm.message(), d.message());
    }

    private void finishOperations(org.jdbi.v3.core.Handle h, Vm vm, Instant now) {
        for (Operation op : store.operations().unfinishedForTarget(h, vm.id())) {
            if (op.targetGeneration() <= vm.generation()) {
                store.operations().update(h, op.id(), OperationStatus.SUCCEEDED, 100, "done", null, now);
            }
        }
    }

    private Result failed(Vm vm, RuntimeException e) {
        Instant now = clock.instant();
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        if (e instanceof io.enclave.core.error.EnclaveException.Unavailable) {
            // A host (or guest agent) that does not answer is no reason to give the VM up: it may come back,
            // and a dead host's VMs are the HA monitor's business.
            // Once per cause: a long wait (a host away, a disk still locked) is retried every few seconds.
            if (!message.equals(vm.message())) log.warn("vm {} (tenant {}): {}; will retry", vm.id(), vm.tenantId(), message);
            else log.debug("vm {} (tenant {}): still {}; will retry", vm.id(), vm.tenantId(), message);
            record(vm, vm.phase(), vm.observedGeneration(), false, message);
            return Result.requeueAfter(Duration.ofSeconds(5));
        }
        int attempts = store.jdbi().inTransaction(h -> store.vms().recordFailure(h, vm.id(), message, now));
        if (attempts < MAX_ATTEMPTS) {
            log.warn("vm {} (tenant {}): attempt {} of {} failed: {}", vm.id(), vm.tenantId(), attempts, MAX_ATTEMPTS, message);
            return Result.requeueAfter(Duration.ofSeconds(attempts * 2L));
        }
        log.error("vm {} (tenant {}): giving up on generation {} after {} attempts: {}", vm.id(), vm.tenantId(),
                vm.generation(), attempts, message);
        store.jdbi().useTransaction(h -> {
            store.vms().recordObserved(h, vm.id(), VmPhase.FAILED, vm.generation(), false, message, now);
            for (Operation op : store.operations().unfinishedForTarget(h, vm.id())) {
                store.operations().update(h, op.id(), OperationStatus.FAILED, op.progress(), op.message(), message, now);
            }
        });
        return Result.DONE;
    }

    private void record(Vm vm, VmPhase phase, long observedGeneration, boolean ready, String message) {
        store.jdbi().useTransaction(h -> store.vms().recordObserved(h, vm.id(), phase, observedGeneration, ready,
                message, clock.instant()));
    }

    private VmRuntimeSpec runtimeSpec(Vm vm, Optional<Image> image) {
        return specs.forHost(vm, vm.hostId());
    }

    private static int progressOf(VmPhase phase) {
        return switch (phase) {
            case PENDING -> 0;
            case CREATING -> 20;
            case STARTING, REBOOTING, STOPPING, DELETING -> 60;
            default -> 90;
        };
    }

    private static String describe(VmPhase phase) {
        return switch (phase) {
            case CREATING -> "creating disk";
            case STARTING -> "booting guest";
            case REBOOTING -> "rebooting guest";
            case STOPPING -> "powering off guest";
            case DELETING -> "removing VM from host";
            default -> phase.name().toLowerCase();
        };
    }
}
