package io.enclave.controller.service;

import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import io.enclave.core.host.ExecResult;
import io.enclave.core.host.HostAgent;
import io.enclave.core.image.Image;
import io.enclave.core.operation.Operation;
import io.enclave.core.operation.OperationKind;
import io.enclave.core.operation.OperationStatus;
import io.enclave.core.storage.BootVolumeSpec;
import io.enclave.core.storage.StorageRules;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.validation.Validator;
import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmLimits;
import io.enclave.core.vm.VmPhase;
import io.enclave.core.vm.VmSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.jdbi.v3.core.JdbiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records what callers want done with VMs. Nothing here touches a host: each change is written to the
 * store as a new desired state with an operation, and the VM is handed to the reconcilers.
 */
public final class VmService {
    private static final Logger log = LoggerFactory.getLogger(VmService.class);
    public static final int DEFAULT_STOP_TIMEOUT_SECONDS = 30;
    public static final long MAX_DISK_GIB = 16 * 1024;

    /** A VM change together with the operation that tracks it. */
    public record Accepted(Vm vm, Operation operation) {}

    public enum Action { START, STOP, REBOOT, DELETE }

    private final Store store;
    private final Scheduler scheduler;
    private final HostRegistry hosts;
    private final Consumer<String> reconcileSoon;
    private final Clock clock;
    private final NetworkService networks;
    private final Consumer<String> reconcileTenantNetworkSoon;
    private final BootVolumes bootVolumes;

    public VmService(Store store, Scheduler scheduler, HostRegistry hosts, Consumer<String> reconcileSoon, Clock clock) {
        this(store, scheduler, hosts, reconcileSoon, clock, null, t -> { });
    }

    public VmService(Store store, Scheduler scheduler, HostRegistry hosts, Consumer<String> reconcileSoon, Clock clock,
            NetworkService networks, Consumer<String> reconcileTenantNetworkSoon) {
        this(store, scheduler, hosts, reconcileSoon, clock, networks, reconcileTenantNetworkSoon, null);
    }

    /** @param storage the storage pools boot volumes are placed in; null: VMs cannot have boot volumes */
    public VmService(Store store, Scheduler scheduler, HostRegistry hosts, Consumer<String> reconcileSoon, Clock clock,
            NetworkService networks, Consumer<String> reconcileTenantNetworkSoon, StorageService storage) {
        this.bootVolumes = storage == null ? null
                : new BootVolumes(store, storage, new StorageRules(VolumeService.MAX_VOLUME_GIB));
        this.networks = networks;
        this.reconcileTenantNetworkSoon = reconcileTenantNetworkSoon;
        this.store = store;
        this.scheduler = scheduler;
        this.hosts = hosts;
        this.reconcileSoon = reconcileSoon;
        this.clock = clock;
    }

    public Accepted create(Caller caller, String tenantIdForAdmin, VmSpec spec, boolean start, String idempotencyKey) {
        return create(caller, tenantIdForAdmin, spec, List.of(), start, idempotencyKey);
    }

    public Accepted create(Caller caller, String tenantIdForAdmin, VmSpec spec, List<String> networkIds, boolean start,
            String idempotencyKey) {
        return create(caller, tenantIdForAdmin, spec, networkIds, null, start, idempotencyKey);
    }

    /**
     * @param bootVolume null: the VM boots from a per-VM overlay of its image on its host; otherwise from a volume
     *                   {@code <name>-boot} of {@code diskGib} in that pool, created with the VM, on the pool's host
     */
    public Accepted create(Caller caller, String tenantIdForAdmin, VmSpec spec, List<String> networkIds,
            BootVolumeSpec bootVolume, boolean start, String idempotencyKey) {
        Scope scope = Scope.of(caller);
        if (bootVolume != null && bootVolumes == null) {
            throw new EnclaveException.InvalidRequest("bootVolume", "this controller has no storage service");
        }
        String tenantId = Tenancy.targetTenant(caller, tenantIdForAdmin);
        Optional<Accepted> replay = replay(scope, idempotencyKey);
        if (replay.isPresent()) return replay.get();

        Optional<Image> image = spec.image() == null ? Optional.empty()
                : store.jdbi().withHandle(h -> store.images().findByName(h, spec.image()));
        Validator v = new Validator();
        limits().validate(spec, image.isPresent(), v);
        image.ifPresent(img -> v.require(spec.diskGib() * (1L << 30) >= img.virtualSizeBytes(), "diskGib",
                "must be at least the image's size (" + ceilGib(img.virtualSizeBytes()) + " GiB for '" + img.name() + "')"));
        v.throwIfInvalid();

        Instant now = clock.instant();
        String vmId = Ids.newId("vm");
        try {
            Accepted accepted = store.jdbi().inTransaction(h -> {
                Tenant tenant = store.tenants().lock(h, tenantId)
                        .orElseThrow(() -> new EnclaveException.NotFound("tenant", tenantId));
                List<FieldError> over = tenant.quota().exceededBy(store.tenants().usage(h, tenantId), spec.usage());
                if (!over.isEmpty()) throw new EnclaveException.QuotaExceeded(over);
                if (store.vms().nameTaken(h, tenantId, spec.name())) {
                    throw new EnclaveException.Conflict("tenant " + tenantId + " already has a VM named '" + spec.name() + "'");
                }
                // The tenant's row lock above serialises its creates, so two VMs of one group cannot both
                // see a host as free of the group.
                String group = spec.placement().antiAffinityGroup();
                java.util.Set<String> excluded = group == null ? java.util.Set.of() : store.vms().hostsOfGroup(h, tenantId, group);
                List<io.enclave.controller.persistence.HostRepository.HostRow> hostRows = store.hosts().list(h);
                BootVolumes.Planned boot = bootVolume == null ? null : bootVolumes.plan(h, vmId, tenantId, spec, bootVolume);
                String hostId = boot == null
                        ? scheduler.place(spec, hostRows, store.hosts().allocations(h), excluded, null)
                        : placeOnPoolHost(spec, hostRows, store.hosts().allocations(h), excluded, boot, bootVolume.pool());
                String sharedStorage = spec.placement().sharedStorage() ? hostRows.stream()
                        .filter(r -> r.id().equals(hostId)).findFirst().orElseThrow().sharedStorage() : null;
                Vm vm = new Vm(vmId, tenantId, spec, hostId, start ? DesiredState.RUNNING : DesiredState.STOPPED, 1,
                        false, DEFAULT_STOP_TIMEOUT_SECONDS, VmPhase.PENDING, 0, false, null, now, now);
                store.vms().insert(h, vm, sharedStorage);
                if (boot != null) bootVolumes.insert(h, boot, now);
                if (networks != null) networks.attachNewVm(h, vm, networkIds);
                Operation op = newOperation(tenantId, OperationKind.CREATE_VM, vmId, 1, now);
                store.operations().insert(h, op, scope.idempotencyNamespace(), idempotencyKey);
                return new Accepted(vm, op);
            });
            log.info("vm {} (tenant {}): create accepted: {} on host {}{}", vmId, tenantId, spec, accepted.vm().hostId(),
                    bootVolume == null ? "" : ", booting from a " + bootVolume.copies() + "-copy volume in pool "
                            + bootVolume.pool());
            if (networkIds != null && !networkIds.isEmpty()) reconcileTenantNetworkSoon.accept(tenantId);
            reconcileSoon.accept(vmId);
            return accepted;
        } catch (JdbiException e) {
            // Two requests with one idempotency key raced: the loser answers with the winner's result.
            return replay(scope, idempotencyKey).orElseThrow(() -> e);
        }
    }

    /** A VM with a boot volume runs where the volume's pool is: the scheduler only gets to check that host's room. */
    private String placeOnPoolHost(VmSpec spec, List<io.enclave.controller.persistence.HostRepository.HostRow> hostRows,
            List<io.enclave.controller.persistence.HostRepository.Allocation> allocations, java.util.Set<String> excluded,
            BootVolumes.Planned boot, String pool) {
        try {
            return scheduler.place(spec, hostRows.stream().filter(r -> r.id().equals(boot.hostId())).toList(), allocations,
                    excluded, null);
        } catch (EnclaveException.Conflict e) {
            throw new EnclaveException.Conflict("bootVolume.pool '" + pool + "' is on host " + boot.hostId()
                    + ", which cannot take the VM: " + e.getMessage());
        }
    }

    /** The boot volume of each of the given VMs that has one, by VM id. */
    public java.util.Map<String, String> bootVolumesOf(Caller caller, List<Vm> page) {
        if (page.isEmpty()) return java.util.Map.of();
        return store.jdbi().withHandle(h -> store.volumes().bootVolumeIds(h, Scope.of(caller),
                page.stream().map(Vm::id).toList()));
    }

    public Vm get(Caller caller, String vmId) {
        return store.jdbi().withHandle(h -> store.vms().find(h, Scope.of(caller), vmId))
                .orElseThrow(() -> new EnclaveException.NotFound("vm", vmId));
    }

    public List<Vm> list(Caller caller, String after, int limit) {
        return store.jdbi().withHandle(h -> store.vms().list(h, Scope.of(caller), after, limit));
    }

    /** The NICs of the given VMs (one page, ordered by id), by VM id. */
    public java.util.Map<String, List<io.enclave.controller.persistence.NetworkRepository.NicRow>> nicsOf(Caller caller,
            List<Vm> page) {
        if (page.isEmpty()) return java.util.Map.of();
        return store.jdbi().withHandle(h -> store.networks().nicsInRange(h, Scope.of(caller), page.getFirst().id(),
                page.getLast().id())).stream().collect(java.util.stream.Collectors.groupingBy(n -> n.nic().vmId()));
    }

    public Operation change(Caller caller, String vmId, Action action, Integer stopTimeoutSeconds, String idempotencyKey) {
        Scope scope = Scope.of(caller);
        Optional<Accepted> replay = replay(scope, idempotencyKey);
        if (replay.isPresent()) return replay.get().operation();
        if (stopTimeoutSeconds != null && (stopTimeoutSeconds < 0 || stopTimeoutSeconds > 3600)) {
            throw new EnclaveException.InvalidRequest("timeoutSeconds", "must be between 0 and 3600, got " + stopTimeoutSeconds);
        }
        Instant now = clock.instant();
        try {
            Operation op = store.jdbi().inTransaction(h -> {
                Vm vm = store.vms().lock(h, scope, vmId).orElseThrow(() -> new EnclaveException.NotFound("vm", vmId));
                store.vms().migration(h, vmId).ifPresent(m -> {
                    throw new EnclaveException.Conflict("vm " + vmId + " is migrating to host " + m.toHost()
                            + " (operation " + m.operationId() + "); try again when it is done");
                });
                if (vm.desiredState() == DesiredState.DELETED) {
                    if (action == Action.DELETE) {
                        List<Operation> pending = store.operations().unfinishedForTarget(h, vmId);
                        if (!pending.isEmpty()) return pending.getLast();
                    }
                    throw new EnclaveException.Conflict("vm " + vmId + " is being deleted");
                }
                if (action == Action.REBOOT && (vm.desiredState() != DesiredState.RUNNING || vm.phase() != VmPhase.RUNNING)) {
                    throw new EnclaveException.Conflict("vm " + vmId + " is not running (phase " + vm.phase().name().toLowerCase() + ")");
                }
                DesiredState desired = switch (action) {
                    case START, REBOOT -> DesiredState.RUNNING;
                    case STOP -> DesiredState.STOPPED;
                    case DELETE -> DesiredState.DELETED;
                };
                int timeout = stopTimeoutSeconds != null ? stopTimeoutSeconds : DEFAULT_STOP_TIMEOUT_SECONDS;
                long generation = store.vms().setDesired(h, vmId, desired, action == Action.REBOOT, timeout, now);
                Operation created = newOperation(vm.tenantId(), kindOf(action), vmId, generation, now);
                for (Operation older : store.operations().unfinishedForTarget(h, vmId)) {
                    store.operations().update(h, older.id(), OperationStatus.FAILED, older.progress(), older.message(),
                            "superseded by operation " + created.id() + " (" + kindOf(action).name().toLowerCase() + ")", now);
                }
                store.operations().insert(h, created, scope.idempotencyNamespace(), idempotencyKey);
                return created;
            });
            log.info("vm {}: {} accepted as operation {}", vmId, action.name().toLowerCase(), op.id());
            reconcileSoon.accept(vmId);
            return op;
        } catch (JdbiException e) {
            return replay(scope, idempotencyKey).map(Accepted::operation).orElseThrow(() -> e);
        }
    }

    public String console(Caller caller, String vmId, int maxBytes) {
        Vm vm = get(caller, vmId);
        return agentFor(vm).console(vmId, maxBytes);
    }

    public ExecResult exec(Caller caller, String vmId, List<String> command, Duration timeout) {
        Vm vm = get(caller, vmId);
        if (vm.phase() != VmPhase.RUNNING || !vm.guestReady()) {
            throw new EnclaveException.Conflict("vm " + vmId + " is not running with its guest agent ready (phase "
                    + vm.phase().name().toLowerCase() + ", guestReady " + vm.guestReady() + ")");
        }
        return agentFor(vm).exec(vmId, command, timeout);
    }

    /** Spec bounds from the largest host the controller knows. */
    public VmLimits limits() {
        var rows = store.jdbi().withHandle(h -> store.hosts().list(h));
        int cpus = rows.stream().mapToInt(r -> r.info().cpus()).max().orElse(1);
        long mem = rows.stream().mapToLong(r -> r.info().memoryMib()).max().orElse(VmLimits.MIN_MEMORY_MIB);
        return new VmLimits(cpus, mem, MAX_DISK_GIB);
    }

    private HostAgent agentFor(Vm vm) {
        return hosts.get(vm.hostId()).orElseThrow(() -> new EnclaveException.Conflict(
                "host " + vm.hostId() + " of vm " + vm.id() + " is not reachable"));
    }

    private Optional<Accepted> replay(Scope scope, String key) {
        if (key == null) return Optional.empty();
        return store.jdbi().withHandle(h -> store.operations().findByIdempotencyKey(h, scope.idempotencyNamespace(), key)
                .map(op -> new Accepted(store.vms().find(h, Scope.ALL_TENANTS, op.targetId()).orElse(null), op)));
    }

    private static Operation newOperation(String tenantId, OperationKind kind, String target, long generation, Instant now) {
        return new Operation(Ids.newId("op"), tenantId, kind, target, generation, OperationStatus.PENDING, 0,
                "accepted", null, now, now);
    }

    private static OperationKind kindOf(Action action) {
        return switch (action) {
            case START -> OperationKind.START_VM;
            case STOP -> OperationKind.STOP_VM;
            case REBOOT -> OperationKind.REBOOT_VM;
            case DELETE -> OperationKind.DELETE_VM;
        };
    }

    private static long ceilGib(long bytes) {
        return (bytes + (1L << 30) - 1) >> 30;
    }

}
