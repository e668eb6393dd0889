package io.enclave.controller.hosts;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.persistence.VmRepository.Migration;
import io.enclave.controller.service.StorageService;
import io.enclave.controller.reconcile.RuntimeSpecs;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.MigrationProgress;
import io.enclave.core.host.MigrationTarget;
import io.enclave.core.host.PluggedVolume;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.storage.Volume;
import io.enclave.core.operation.Operation;
import io.enclave.core.operation.OperationKind;
import io.enclave.core.operation.OperationStatus;
import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmPhase;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live migration of a running VM to another host, as an operation: checks, then (asynchronously) the
 * destination's networking, a QEMU waiting there, the disk mirrored when it is not on shared storage, the
 * memory copied, the switch-over, and the VM's record moved. The VM keeps running on its host when anything
 * fails. A migration in flight is recorded on the VM, so a restarted controller settles it.
 */
public final class MigrationService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MigrationService.class);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration LIMIT = Duration.ofMinutes(30);
    private static final Duration GUEST_AGENT_WAIT = Duration.ofSeconds(30);
    /** How long a source agent that stopped answering mid-migration (a restart) is waited for. */
    static final Duration SOURCE_AGENT_RETURN = Duration.ofSeconds(90);
    private static final Duration SOURCE_AGENT_RETRY = Duration.ofMillis(500);

    private final Store store;
    private final HostRegistry hosts;
    private final Scheduler scheduler;
    private final RuntimeSpecs specs;
    private final VolumeMoves volumeMoves;
    private final Function<String, Object> applyTenantNetworking;
    private final Consumer<String> reconcileVmSoon;
    private final Consumer<String> reconcileTenantNetworkSoon;
    private final Clock clock;
    /** VMs this process is migrating (or about to record a migration of), with how many claims each. */
    private final Map<String, Integer> running = new ConcurrentHashMap<>();
    private final Map<String, String> incoming = new ConcurrentHashMap<>();
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private volatile boolean closing;

    /**
     * @param applyTenantNetworking converges a tenant's networking on every host now (the destination needs
     *                              the VM's ports before its QEMU starts)
     */
    public MigrationService(Store store, HostRegistry hosts, Scheduler scheduler, RuntimeSpecs specs, StorageService storage,
            Function<String, Object> applyTenantNetworking, Consumer<String> reconcileVmSoon,
            Consumer<String> reconcileTenantNetworkSoon, Clock clock) {
        this.store = store;
        this.hosts = hosts;
        this.scheduler = scheduler;
        this.specs = specs;
        this.volumeMoves = new VolumeMoves(store, storage);
        this.applyTenantNetworking = applyTenantNetworking;
        this.reconcileVmSoon = reconcileVmSoon;
        this.reconcileTenantNetworkSoon = reconcileTenantNetworkSoon;
        this.clock = clock;
    }

    /** Whether a migration owns the VM now (the VM reconciler and the sweeper leave it alone). */
    public boolean busy(String vmId) {
        return running.containsKey(vmId) || store.jdbi().withHandle(h -> store.vms().migration(h, vmId)).isPresent();
    }

    /** Hosts the tenant's VMs are migrating to: they need the tenant's networking too. */
    public Set<String> incomingHosts(String tenantId) {
        Set<String> out = new HashSet<>();
        incoming.forEach((vmId, key) -> {
            String[] parts = key.split("/", 2);
            if (parts[0].equals(tenantId)) out.add(parts[1]);
        });
        return out;
    }

    /** The VM and where it goes; the answer of a request that was accepted. */
    public record Accepted(Vm vm, String toHost, boolean copyStorage, Operation operation) {}

    /**
     * Checks and records a migration of the VM to {@code toHost} (null: the scheduler chooses), then runs it.
     * {@code copyStorage}: null copies the disk when the destination cannot reach it; false refuses that.
     * {@code cold}: the VM is stopped and moves so (a running VM migrates live, and only without it).
     */
    public Accepted migrate(String vmId, String toHost, Boolean copyStorage, boolean cold, String idempotencyKey) {
        if (idempotencyKey != null) {
            Optional<Operation> earlier = store.jdbi().withHandle(h -> store.operations().findByIdempotencyKey(h, "admin", idempotencyKey));
            if (earlier.isPresent()) {
                Vm vm = store.jdbi().withHandle(h -> store.vms().find(h, Scope.ALL_TENANTS, vmId))
                        .orElseThrow(() -> new EnclaveException.NotFound("vm", vmId));
                return new Accepted(vm, vm.hostId(), false, earlier.get());
            }
        }
        Instant now = clock.instant();
        // Claimed before the record commits: settleOpen must never take a migration this process is running. A
        // claim, not a lock: the previous migration of the VM may still be releasing its source (the record, checked
        // below, decides whether one is in flight).
        claim(vmId);
        Accepted accepted;
        try {
            accepted = store.jdbi().inTransaction(h -> {
                Vm vm = store.vms().lock(h, Scope.ALL_TENANTS, vmId).orElseThrow(() -> new EnclaveException.NotFound("vm", vmId));
                store.vms().migration(h, vmId).ifPresent(m -> {
                    throw new EnclaveException.Conflict("vm " + vmId + " is already migrating to host " + m.toHost());
                });
                boolean running = vm.desiredState() == DesiredState.RUNNING && vm.phase() == VmPhase.RUNNING;
                boolean stopped = vm.desiredState() == DesiredState.STOPPED && vm.phase() == VmPhase.STOPPED;
                if (!cold && !running) {
                    throw new EnclaveException.Conflict("vm " + vmId + " is not running (phase " + vm.phase().name().toLowerCase()
                            + "): only a running VM migrates live" + (stopped ? "; a stopped one moves with \"cold\": true" : ""));
                }
                if (cold && !stopped) {
                    throw new EnclaveException.Conflict("vm " + vmId + " is not stopped (phase " + vm.phase().name().toLowerCase()
                            + ", desired " + vm.desiredState().name().toLowerCase() + "): a cold move is for a stopped VM"
                            + (running ? "; a running one migrates live (without \"cold\")" : ""));
                }
                List<Volume> volumes = volumeMoves.movable(h, vmId);
                String shared = store.vms().sharedStorage(h, vmId);
                if (!volumes.isEmpty() && Boolean.FALSE.equals(copyStorage)) {
                    throw new EnclaveException.Conflict("vm " + vmId + (volumes.getFirst().bootDisk() ? " boots from" : " has attached")
                            + " volume " + volumes.getFirst().id() + ", whose copies are on host " + vm.hostId()
                            + "'s devices: it can only move by copying them (copyStorage false refuses that)");
                }
                if (!volumes.isEmpty() && shared != null) {
                    throw new EnclaveException.Conflict("vm " + vmId + " has its disk on shared storage and volumes attached ("
                            + volumes.stream().map(Volume::id).toList() + ") on host " + vm.hostId() + "'s devices: a migration "
                            + "either shares or copies storage; detach the volumes to move it");
                }
                List<HostRow> rows = store.hosts().list(h);
                String group = vm.spec().placement().antiAffinityGroup();
                Set<String> groupHosts = group == null ? Set.of() : store.vms().hostsOfGroup(h, vm.tenantId(), group);
                String target;
                if (toHost == null) {
                    Set<String> excluded = new HashSet<>(groupHosts);
                    excluded.add(vm.hostId());
                    if (shared == null && Boolean.FALSE.equals(copyStorage)) {
                        throw new EnclaveException.Conflict("vm " + vmId + " has its disk on host " + vm.hostId()
                                + "'s own storage: it can only move by copying it (copyStorage false refuses that)");
                    }
                    if (!volumes.isEmpty()) {
                        rows.stream().filter(r -> !excluded.contains(r.id()) && !volumeMoves.fits(h, volumes, r.id()))
                                .forEach(r -> excluded.add(r.id()));
                        if (rows.stream().allMatch(r -> excluded.contains(r.id()))) {
                            throw new EnclaveException.Conflict("no other host has storage pools with room for vm " + vmId
                                    + "'s volumes " + volumes.stream().map(v -> v.id() + " (" + v.copies() + " copies of "
                                    + v.sizeGib() + " GiB)").toList());
                        }
                    }
                    target = scheduler.place(vm.spec(), rows, store.hosts().allocations(h), excluded, shared);
                } else {
                    HostRow row = rows.stream().filter(r -> r.id().equals(toHost)).findFirst()
                            .orElseThrow(() -> new EnclaveException.InvalidRequest("hostId", "unknown host '" + toHost + "'"));
                    checkDestination(vm, row, shared, copyStorage, groupHosts, store.hosts().allocations(h));
                    target = toHost;
                }
                HostRow destination = rows.stream().filter(r -> r.id().equals(target)).findFirst().orElseThrow();
                if (destination.underlayAddress() == null) {
                    throw new EnclaveException.Conflict("host " + target + " has no underlay address to receive a migration on");
                }
                boolean copy = shared == null;
                Operation op = new Operation(Ids.newId("op"), vm.tenantId(), OperationKind.MIGRATE_VM, vmId, vm.generation(),
                        OperationStatus.PENDING, 0, "accepted: " + (cold ? "the stopped VM " : "") + "to host " + target
                                + (copy ? ", copying the disk" : ", shared storage"),
                        null, now, now);
                store.operations().insert(h, op, "admin", idempotencyKey);
                store.vms().startMigration(h, vmId, target, op.id());
                volumeMoves.planAndRecord(h, vmId, volumes, target);
                return new Accepted(vm, target, copy, op);
            });
        } catch (RuntimeException e) {
            unclaim(vmId);
            throw e;
        }
        Vm vm = accepted.vm();
        incoming.put(vmId, vm.tenantId() + "/" + accepted.toHost());
        log.info("vm {} (tenant {}): migration from host {} to host {} accepted ({} storage), operation {}", vmId,
                vm.tenantId(), vm.hostId(), accepted.toHost(), accepted.copyStorage() ? "copied" : "shared",
                accepted.operation().id());
        executor.submit(() -> run(vm, accepted.toHost(), accepted.copyStorage(), accepted.operation().id()));
        return accepted;
    }

    private void checkDestination(Vm vm, HostRow row, String shared, Boolean copyStorage, Set<String> groupHosts,
            List<io.enclave.controller.persistence.HostRepository.Allocation> allocations) {
        String id = row.id();
        if (id.equals(vm.hostId())) throw new EnclaveException.Conflict("vm " + vm.id() + " is already on host " + id);
        if (!"none".equals(row.maintenance())) throw new EnclaveException.Conflict("host " + id + " is in maintenance (" + row.maintenance() + ")");
        if (!"up".equals(row.status())) throw new EnclaveException.Conflict("host " + id + " is down");
        if (row.fenced()) throw new EnclaveException.Conflict("host " + id + " is fenced until what it ran is released");
        var used = allocations.stream().filter(a -> a.hostId().equals(id)).findFirst().orElse(null);
        if (!scheduler.fits(vm.spec(), row, used)) {
            throw new EnclaveException.Conflict("host " + id + " has no room for " + vm.spec().vcpus() + " vCPUs and "
                    + vm.spec().memoryMib() + " MiB");
        }
        if (groupHosts.contains(id)) {
            throw new EnclaveException.Conflict("host " + id + " already runs a VM of anti-affinity group '"
                    + vm.spec().placement().antiAffinityGroup() + "'");
        }
        if (shared != null && !shared.equals(row.sharedStorage())) {
            throw new EnclaveException.Conflict("vm " + vm.id() + " has its disk on shared storage '" + shared
                    + "', which host " + id + " does not reach");
        }
        if (shared == null && Boolean.FALSE.equals(copyStorage)) {
            throw new EnclaveException.Conflict("host " + id + " cannot reach vm " + vm.id() + "'s disk (it is on host "
                    + vm.hostId() + "'s own storage) without copying it, and copyStorage is false");
        }
    }

    private void run(Vm vm, String toHost, boolean copy, String operationId) {
        String vmId = vm.id();
        HostAgent source = hosts.get(vm.hostId()).orElse(null);
        HostAgent destination = hosts.get(toHost).orElse(null);
        // A stopped VM moves cold: its QEMU starts on the source without running the guest and migrates as a running
        // VM's would (disk and volumes mirrored, device state sent), then quits on the destination.
        boolean cold = vm.phase() == VmPhase.STOPPED;
        boolean prepared = false;
        boolean started = false;
        boolean sourceLaunched = false;
        try {
            if (source == null || destination == null) throw new EnclaveException.Unavailable("a host of the migration is not connected");
            progress(operationId, 5, "preparing host " + toHost);
            if (store.jdbi().withHandle(h -> !store.networks().nicsOfVm(h, vmId).isEmpty())) {
                applyTenantNetworking.apply(vm.tenantId());
            }
            String listen = store.jdbi().withHandle(h -> store.hosts().find(h, toHost)).orElseThrow().underlayAddress();
            List<VolumeMoves.Move> moves = store.jdbi().withHandle(h -> volumeMoves.recorded(h, vmId));
            if (cold) {
                sourceLaunched = true;
                source.startForMigration(specs.forHost(vm, vm.hostId()));
                for (VolumeMoves.Move m : moves) if (!m.boot()) source.attachVolume(vmId, m.from());
            }
            VmRuntimeSpec spec = withMovedVolumes(specs.forHost(vm, toHost), moves, source);
            MigrationTarget target = destination.prepareIncoming(spec, copy, listen);
            prepared = true;
            progress(operationId, 10, copy ? "copying the disk" : "copying memory");
            source.startMigration(vmId, target, copy);
            started = true;
            MigrationProgress p = follow(vm.hostId(), vmId, operationId, copy);
            if (!MigrationProgress.COMPLETED.equals(p.status())) {
                // "failed: <why>" reads twice in the operation's "migration … failed: …"; the reason alone says it
                throw new MigrationFailed(p.error() == null ? p.status()
                        : MigrationProgress.FAILED.equals(p.status()) ? p.error() : p.status() + ": " + p.error());
            }
            if (cold) {
                destination.completeColdIncoming(vmId);
            } else {
                destination.completeIncoming(vmId);
                // The guest agent answered on the source; the record moves once it answers on the destination too, so
                // the VM never shows as "starting" (and refuses exec) just because the new host has not asked it yet.
                if (vm.guestReady()) awaitGuestAgent(destination, vmId, toHost);
            }
            String message = (cold ? "moved stopped from host " : "moved from host ") + vm.hostId() + " to host " + toHost
                    + ": total " + p.totalMs() + " ms" + (cold ? "" : ", downtime " + p.downtimeMs() + " ms")
                    + ", storage " + (copy ? "copied" : "shared")
                    + moves.stream().map(m -> ", " + (m.boot() ? "boot volume " : "volume ") + m.to().volume().id()
                            + " now in pool " + m.to().volume().poolId()).collect(java.util.stream.Collectors.joining());
            // The source's paused copy goes before the operation reads "succeeded": whoever sees it succeed sees one
            // QEMU of the VM. A controller crash in between is settled at its next start (only the destination runs).
            HostAgent sourceNow = hosts.get(vm.hostId()).orElse(source);
            try {
                sourceNow.release(vmId);
            } catch (RuntimeException e) {
                // The sweeper releases it later: the record says the VM lives elsewhere now.
                log.warn("vm {}: releasing it on host {} after its migration: {}", vmId, vm.hostId(), e.getMessage());
            }
            moves.forEach(m -> deleteOldCopies(sourceNow, m, vm.hostId()));
            store.jdbi().useTransaction(h -> {
                store.vms().moveToHost(h, vmId, toHost);
                store.volumes().adoptMigrationCopies(h, vmId, clock.instant());
                store.vms().endMigration(h, vmId);
                store.operations().update(h, operationId, OperationStatus.SUCCEEDED, 100, message, null, clock.instant());
            });
            log.info("vm {} (tenant {}): {}", vmId, vm.tenantId(), message);
        } catch (RuntimeException e) {
            if (closing) {
                // Like a crash: the agents carry on, the record stays, and the next start settles it.
                log.info("vm {} (tenant {}): the controller stops during its migration to host {}; settled at the next start",
                        vmId, vm.tenantId(), toHost);
                return;
            }
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            log.warn("vm {} (tenant {}): migration to host {} failed: {}", vmId, vm.tenantId(), toHost, why);
            // the source's agent may have restarted meanwhile: its connection now
            HostAgent sourceNow = hosts.get(vm.hostId()).orElse(source);
            if (started) quietly(() -> sourceNow.cancelMigration(vmId), "cancel on the source");
            if (prepared) quietly(() -> destination.abortIncoming(vmId), "abort on the destination");
            // the QEMU a cold move started on the source (the guest never ran): the VM is stopped there again
            if (sourceLaunched) quietly(() -> sourceNow.forceStop(vmId), "stop the source's QEMU");
            store.jdbi().useTransaction(h -> {
                store.volumes().forgetMigrationCopies(h, vmId);
                store.vms().endMigration(h, vmId);
                store.operations().update(h, operationId, OperationStatus.FAILED, 0, "the VM stays on host " + vm.hostId(),
                        "migration to host " + toHost + " failed: " + why, clock.instant());
            });
        } finally {
            incoming.remove(vmId);
            unclaim(vmId);
            if (!closing) {
                reconcileVmSoon.accept(vmId);
                reconcileTenantNetworkSoon.accept(vm.tenantId());
            }
        }
    }

    /**
     * The spec for the destination with the VM's volumes where the migration puts them: the boot volume, and the
     * hot-plugged ones at the PCI slots their devices hold on the source.
     */
    private static VmRuntimeSpec withMovedVolumes(VmRuntimeSpec spec, List<VolumeMoves.Move> moves, HostAgent source) {
        List<VolumeMoves.Move> plugged = moves.stream().filter(m -> !m.boot()).toList();
        for (VolumeMoves.Move m : moves) if (m.boot()) spec = spec.withBootVolume(m.to());
        if (plugged.isEmpty()) return spec;
        Map<String, Integer> slots = source.pluggedVolumeSlots(spec.vmId());
        Set<String> recorded = new HashSet<>(plugged.stream().map(m -> m.to().volume().id()).toList());
        if (!slots.keySet().equals(recorded)) {
            throw new MigrationFailed("the VM's QEMU has volumes " + new java.util.TreeSet<>(slots.keySet())
                    + " plugged in, but " + new java.util.TreeSet<>(recorded) + " are recorded as attached");
        }
        return spec.withPluggedVolumes(plugged.stream().map(m -> new PluggedVolume(m.to(), slots.get(m.to().volume().id())))
                .toList());
    }

    /** A volume's copies on the source, once the VM runs on the destination's; left (and logged) if that fails. */
    private static void deleteOldCopies(HostAgent source, VolumeMoves.Move move, String sourceHost) {
        try {
            source.deleteVolume(move.from());
        } catch (RuntimeException e) {
            log.warn("volume {}: its old copies on host {} could not be deleted after the migration (their files stay): {}",
                    move.from().volume().id(), sourceHost, e.getMessage());
        }
    }

    private void awaitGuestAgent(HostAgent destination, String vmId, String toHost) {
        long deadline = System.nanoTime() + GUEST_AGENT_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (destination.status(vmId).guestReady()) return;
            sleep(Duration.ofMillis(200));
        }
        log.warn("vm {}: its guest agent did not answer on host {} within {} s of the migration; moving its record anyway",
                vmId, toHost, GUEST_AGENT_WAIT.toSeconds());
    }

    /**
     * Polls the source until the migration is over. A source agent that does not answer (restarting: QEMU runs
     * on without it) is asked again, on its new connection, for up to {@link #SOURCE_AGENT_RETURN}: deciding
     * without it could abort a migration that completed, and leave the VM paused on the source.
     */
    private MigrationProgress follow(String sourceHost, String vmId, String operationId, boolean copy) {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        int lastPercent = -1;
        while (true) {
            MigrationProgress p = sourceProgress(sourceHost, vmId, operationId, Math.max(lastPercent, 10));
            if (p.finished()) return p;
            long total = p.transferredBytes() + p.remainingBytes();
            int percent = total == 0 ? 10 : (int) (10 + 85 * p.transferredBytes() / total);
            if (percent != lastPercent) {
                progress(operationId, percent, (p.totalMs() == 0 && copy ? "copying the disk" : "copying memory")
                        + " (" + p.transferredBytes() / (1 << 20) + " MiB sent)");
                lastPercent = percent;
            }
            if (System.nanoTime() > deadline) throw new MigrationFailed("did not finish within " + LIMIT.toMinutes() + " minutes");
            sleep(POLL);
        }
    }

    private MigrationProgress sourceProgress(String sourceHost, String vmId, String operationId, int percent) {
        long giveUp = System.nanoTime() + SOURCE_AGENT_RETURN.toNanos();
        boolean waiting = false;
        while (true) {
            try {
                HostAgent source = hosts.get(sourceHost).orElseThrow(
                        () -> new EnclaveException.Unavailable("host " + sourceHost + " is not connected"));
                return source.migrationProgress(vmId);
            } catch (EnclaveException.Unavailable e) {
                if (System.nanoTime() > giveUp) {
                    throw new MigrationFailed("the source host " + sourceHost + " did not answer for "
                            + SOURCE_AGENT_RETURN.toSeconds() + " s: " + e.getMessage());
                }
                if (!waiting) {
                    log.warn("vm {}: the source host {} does not answer during the migration; asking again for up to {} s: {}",
                            vmId, sourceHost, SOURCE_AGENT_RETURN.toSeconds(), e.getMessage());
                    progress(operationId, percent, "waiting for the agent of host " + sourceHost + " to answer again");
                    waiting = true;
                }
                sleep(SOURCE_AGENT_RETRY);
            }
        }
    }

    /**
     * Settles every migration recorded as in flight that this process is not running: what a stopped or crashed
     * controller left (called at start, then by housekeeping). If the destination runs the VM and the source does
     * not, or the source reports the migration completed, it completed; otherwise the destination's part is
     * removed and the VM stays. A migration whose hosts do not both answer while they are still up is left open
     * (the VM stays busy) and tried again later: deciding without them could leave a paused or a second copy.
     */
    public void settleOpen() {
        List<Migration> open = store.jdbi().withHandle(h -> store.vms().migrations(h));
        for (Migration m : open) {
            if (running.containsKey(m.vmId())) continue;
            try {
                settle(m);
            } catch (RuntimeException e) {
                log.warn("vm {}: the migration left by a controller restart is not settled yet (tried again later): {}",
                        m.vmId(), e.getMessage());
            }
        }
    }

    private void settle(Migration m) {
        Optional<HostAgent> from = reachable(m.fromHost());
        Optional<HostAgent> to = reachable(m.toHost());
        // The phase recorded when the migration was accepted (nothing changes it while the migration owns the VM).
        boolean cold = store.jdbi().withHandle(h -> store.vms().find(h, Scope.ALL_TENANTS, m.vmId()))
                .map(vm -> vm.phase() == VmPhase.STOPPED).orElse(false);
        boolean onSource = from.isPresent() && from.get().status(m.vmId()).processAlive();
        boolean arrived;
        if (cold) {
            arrived = to.isPresent() && coldMoveArrived(from.filter(a -> onSource), to.get(), m.vmId());
        } else {
            boolean onDestination = to.isPresent() && to.get().status(m.vmId()).processAlive();
            if (onDestination && onSource) {
                arrived = MigrationProgress.COMPLETED.equals(from.get().migrationProgress(m.vmId()).status());
            } else {
                arrived = onDestination;
            }
            if (arrived) to.get().completeIncoming(m.vmId());
        }
        List<VolumeMoves.Move> moves = store.jdbi().withHandle(h -> volumeMoves.recorded(h, m.vmId()));
        if (arrived) {
            from.ifPresent(a -> quietly(() -> a.release(m.vmId()), "release on the source"));
            from.ifPresent(a -> moves.forEach(move -> deleteOldCopies(a, move, m.fromHost())));
        } else {
            from.ifPresent(a -> quietly(() -> a.cancelMigration(m.vmId()), "cancel on the source"));
            to.ifPresent(a -> quietly(() -> a.abortIncoming(m.vmId()), "abort on the destination"));
            if (cold) from.ifPresent(a -> quietly(() -> a.forceStop(m.vmId()), "stop the source's QEMU"));
        }
        store.jdbi().useTransaction(h -> {
            if (arrived) {
                store.vms().moveToHost(h, m.vmId(), m.toHost());
                store.volumes().adoptMigrationCopies(h, m.vmId(), clock.instant());
            } else {
                store.volumes().forgetMigrationCopies(h, m.vmId());
            }
            store.vms().endMigration(h, m.vmId());
            if (m.operationId() != null) {
                store.operations().update(h, m.operationId(), arrived ? OperationStatus.SUCCEEDED : OperationStatus.FAILED,
                        100, arrived ? "completed (settled after a controller restart)" : "the VM stays on host " + m.fromHost(),
                        arrived ? null : "the controller restarted during the migration", clock.instant());
            }
        });
        log.info("vm {} (tenant {}): migration interrupted by a controller restart settled: {}", m.vmId(), m.tenantId(),
                arrived ? "now on host " + m.toHost() : "stays on host " + m.fromHost());
        reconcileVmSoon.accept(m.vmId());
        reconcileTenantNetworkSoon.accept(m.tenantId());
    }

    /**
     * Whether a cold move reached the destination: the source's QEMU (if it still runs) reports the migration
     * completed, and the destination completes its part (or had completed it: the VM's files there, no waiting
     * QEMU). A destination that cannot complete it did not get it.
     */
    private static boolean coldMoveArrived(Optional<HostAgent> runningSource, HostAgent destination, String vmId) {
        if (runningSource.isPresent()) {
            try {
                if (!MigrationProgress.COMPLETED.equals(runningSource.get().migrationProgress(vmId).status())) return false;
            } catch (EnclaveException.Conflict noMigration) {
                return false; // its QEMU runs but never started migrating
            }
        }
        try {
            destination.completeColdIncoming(vmId);
            return true;
        } catch (RuntimeException e) {
            log.info("vm {}: the cold move did not reach the destination: {}", vmId, e.getMessage());
            return false;
        }
    }

    /**
     * The host's agent when the host is up (empty when it is declared down: what it ran is gone or fenced).
     * Throws Unavailable when an up host has no connection yet, so the migration is settled later.
     */
    private Optional<HostAgent> reachable(String hostId) {
        var row = store.jdbi().withHandle(h -> store.hosts().find(h, hostId));
        if (row.isEmpty() || !"up".equals(row.get().status())) return Optional.empty();
        return Optional.of(hosts.get(hostId).orElseThrow(
                () -> new EnclaveException.Unavailable("host " + hostId + " is up but not connected yet")));
    }

    private void claim(String vmId) {
        running.merge(vmId, 1, Integer::sum);
    }

    private void unclaim(String vmId) {
        running.computeIfPresent(vmId, (id, claims) -> claims == 1 ? null : claims - 1);
    }

    private void progress(String operationId, int percent, String message) {
        store.jdbi().useTransaction(h -> store.operations().update(h, operationId, OperationStatus.RUNNING, percent, message,
                null, clock.instant()));
    }

    private static void quietly(Runnable step, String what) {
        try {
            step.run();
        } catch (RuntimeException e) {
            log.warn("migration clean-up ({}) failed: {}", what, e.getMessage());
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationFailed("interrupted");
        }
    }

    private static final class MigrationFailed extends RuntimeException {
        MigrationFailed(String message) {
            super(message);
        }
    }

    @Override
    public void close() {
        closing = true;
        executor.shutdownNow();
    }
}
