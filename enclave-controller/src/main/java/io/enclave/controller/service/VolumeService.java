package io.enclave.controller.service;

import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.persistence.StorageRepository.PoolRow;
import io.enclave.controller.persistence.VolumeRepository.VolumeRow;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import io.enclave.core.operation.Operation;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceSpace;
import io.enclave.core.storage.StorageRules;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeSnapshot;
import io.enclave.core.storage.VolumeSpec;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.tenant.Usage;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmPhase;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenants' volumes. Every change locks what it changes (the tenant row for quota, the pool row for
 * placement, the volume row for its state), does the host work through the pool's host agent inside that
 * transaction (each is well under a second, except a detach, which waits for the guest), and commits only
 * when the host succeeded: a failed host call changes nothing.
 */
public final class VolumeService {
    private static final Logger log = LoggerFactory.getLogger(VolumeService.class);
    public static final long MAX_VOLUME_GIB = 16 * 1024;
    public static final Duration DETACH_TIMEOUT = Duration.ofSeconds(30);

    private final Store store;
    private final StorageService storage;
    private final StorageRules rules = new StorageRules(MAX_VOLUME_GIB);
    private final Clock clock;
    private final LiveResync liveResync;

    public VolumeService(Store store, StorageService storage, Clock clock) {
        this.store = store;
        this.storage = storage;
        this.clock = clock;
        this.liveResync = new LiveResync(store, storage, clock);
    }

    public VolumeRow create(Caller caller, String tenantIdForAdmin, VolumeSpec spec) {
        return create(caller, tenantIdForAdmin, spec, null);
    }

    /** {@code idempotencyKey}: a repeated request with the same key answers with the volume the first one made. */
    public VolumeRow create(Caller caller, String tenantIdForAdmin, VolumeSpec spec, String idempotencyKey) {
        String tenantId = Tenancy.targetTenant(caller, tenantIdForAdmin);
        String keyScope = Scope.of(caller).idempotencyNamespace();
        Optional<VolumeRow> replay = replay(caller, keyScope, idempotencyKey);
        if (replay.isPresent()) return replay.get();
        String id = Ids.newId("vol");
        Instant now = clock.instant();
        VolumeRow row;
        try {
            row = createNew(caller, tenantId, id, spec, now, keyScope, idempotencyKey);
        } catch (org.jdbi.v3.core.JdbiException e) {
            // Two requests with one key raced: the loser answers with the winner's volume.
            return replay(caller, keyScope, idempotencyKey).orElseThrow(() -> e);
        }
        log.info("volume {} ({}) of tenant {} created: {} GiB x {} copies in pool {} on {}", id, spec.name(), tenantId,
                spec.sizeGib(), spec.copies(), spec.pool(), row.volume().placement().stream().map(VolumeCopy::deviceId).toList());
        return row;
    }

    private Optional<VolumeRow> replay(Caller caller, String keyScope, String key) {
        if (key == null) return Optional.empty();
        return store.jdbi().withHandle(h -> store.volumes().idByIdempotencyKey(h, keyScope, key)
                .flatMap(existing -> store.volumes().find(h, Scope.of(caller), existing)));
    }

    private VolumeRow createNew(Caller caller, String tenantId, String id, VolumeSpec spec, Instant now, String keyScope,
            String idempotencyKey) {
        return store.jdbi().inTransaction(h -> {
            Tenant tenant = store.tenants().lock(h, tenantId)
                    .orElseThrow(() -> new EnclaveException.NotFound("tenant", tenantId));
            PoolRow pool = spec.pool() == null ? null : store.storage().poolByName(h, spec.pool())
                    .flatMap(p -> store.storage().lockPool(h, p.pool().id())).orElse(null);
            List<DeviceSpace> space = pool == null ? List.of() : storage.poolSpace(h, pool.pool().id());
            List<String> devices = rules.validateCreate(spec, pool == null ? null : pool.pool(), space);
            List<FieldError> over = tenant.quota().exceededBy(store.tenants().usage(h, tenantId),
                    new Usage(0, 0, spec.sizeGib(), 0));
            if (!over.isEmpty()) {
                throw new EnclaveException.QuotaExceeded(over.stream()
                        .map(f -> new FieldError("sizeGib", f.reason() + " (VM disks and volumes count together)")).toList());
            }
            if (store.volumes().nameTaken(h, tenantId, spec.name())) {
                throw new EnclaveException.Conflict("tenant " + tenantId + " already has a volume named '" + spec.name() + "'");
            }
            List<VolumeCopy> placement = new ArrayList<>();
            for (int i = 0; i < devices.size(); i++) placement.add(new VolumeCopy(i, devices.get(i), 0, CopyState.IN_SYNC));
            Volume volume = new Volume(id, tenantId, spec.name(), pool.pool().id(), spec.sizeGib(), spec.copies(),
                    placement, null, false, List.of());
            store.volumes().insert(h, volume, now);
            if (idempotencyKey != null) store.volumes().recordIdempotencyKey(h, id, keyScope, idempotencyKey);
            storage.agentOfPool(h, volume.poolId()).createVolume(storage.onHost(h, volume));
            return store.volumes().find(h, Scope.ALL_TENANTS, id).orElseThrow();
        });
    }

    public List<VolumeRow> list(Caller caller) {
        return store.jdbi().withHandle(h -> store.volumes().list(h, Scope.of(caller)));
    }

    public VolumeRow get(Caller caller, String id) {
        return store.jdbi().withHandle(h -> store.volumes().find(h, Scope.of(caller), id))
                .orElseThrow(() -> new EnclaveException.NotFound("volume", id));
    }

    public void delete(Caller caller, String id) {
        Volume deleted = store.jdbi().inTransaction(h -> {
            Volume volume = lock(h, caller, id);
            StorageRules.checkDelete(volume);
            store.volumes().delete(h, id);
            storage.agentOfPool(h, volume.poolId()).deleteVolume(storage.onHost(h, volume));
            return volume;
        });
        log.info("volume {} ({}) of tenant {} deleted", id, deleted.name(), deleted.tenantId());
    }

    public VolumeRow grow(Caller caller, String id, Long sizeGib) {
        Instant now = clock.instant();
        VolumeRow row = store.jdbi().inTransaction(h -> {
            Volume found = store.volumes().find(h, Scope.of(caller), id)
                    .orElseThrow(() -> new EnclaveException.NotFound("volume", id)).volume();
            Tenant tenant = store.tenants().lock(h, found.tenantId()).orElseThrow();
            store.storage().lockPool(h, found.poolId());
            Volume volume = lock(h, caller, id);
            rules.validateGrow(volume, sizeGib, storage.poolSpace(h, volume.poolId()));
            List<FieldError> over = tenant.quota().exceededBy(store.tenants().usage(h, volume.tenantId()),
                    new Usage(0, 0, sizeGib - volume.sizeGib(), 0));
            if (!over.isEmpty()) {
                throw new EnclaveException.QuotaExceeded(over.stream().map(f -> new FieldError("sizeGib", f.reason())).toList());
            }
            store.volumes().updateSize(h, id, sizeGib, now);
            storage.agentOfPool(h, volume.poolId()).growVolume(storage.onHost(h, volume), sizeGib, volume.attachedVmId());
            return store.volumes().find(h, Scope.ALL_TENANTS, id).orElseThrow();
        });
        log.info("volume {} of tenant {} grown to {} GiB", id, row.volume().tenantId(), sizeGib);
        return row;
    }

    public VolumeRow attach(Caller caller, String id, String vmId) {
        if (vmId == null) throw new EnclaveException.InvalidRequest("vmId", "is required");
        Instant now = clock.instant();
        VolumeRow row = store.jdbi().inTransaction(h -> {
            Volume volume = lock(h, caller, id);
            // The VM's row lock orders this against a start or stop of the VM.
            Vm vm = store.vms().lock(h, Scope.of(caller), vmId).orElseThrow(() -> new EnclaveException.NotFound("vm", vmId));
            refuseWhileMigrating(h, vmId);
            String poolHost = store.storage().pool(h, volume.poolId()).orElseThrow().pool().hostId();
            StorageRules.checkAttach(volume, vmId, vm.tenantId(), vm.hostId(), poolHost);
            boolean live = plugMode(vm);
            store.volumes().updateAttachment(h, id, vmId, false, now);
            // A stopped VM gets the volume when its QEMU next starts (plugBackIn); a running one at once.
            if (live) storage.agentOfPool(h, volume.poolId()).attachVolume(vmId, storage.onHost(h, volume));
            return store.volumes().find(h, Scope.ALL_TENANTS, id).orElseThrow();
        });
        log.info("volume {} of tenant {} attached to vm {}", id, row.volume().tenantId(), vmId);
        return row;
    }

    public VolumeRow detach(Caller caller, String id) {
        Instant now = clock.instant();
        String[] from = new String[1];
        VolumeRow row = store.jdbi().inTransaction(h -> {
            Volume volume = lock(h, caller, id);
            StorageRules.checkDetach(volume);
            from[0] = volume.attachedVmId();
            Vm vm = store.vms().lock(h, Scope.ALL_TENANTS, volume.attachedVmId()).orElse(null);
            boolean live = vm != null && plugMode(vm);
            store.volumes().updateAttachment(h, id, null, false, now);
            if (live) {
                storage.agentOfPool(h, volume.poolId()).detachVolume(volume.attachedVmId(), storage.onHost(h, volume),
                        DETACH_TIMEOUT);
            }
            return store.volumes().find(h, Scope.ALL_TENANTS, id).orElseThrow();
        });
        log.info("volume {} of tenant {} detached from vm {}", id, row.volume().tenantId(), from[0]);
        return row;
    }

    /**
     * Hot-plugs the volumes recorded as attached to the VM into its freshly started QEMU (a stopped or crashed
     * VM's QEMU took them with it). A volume that cannot be plugged is logged and stays recorded as attached;
     * the VM starts anyway. A boot volume is not among them: it is on QEMU's command line.
     */
    public void plugBackIn(String vmId) {
        List<Volume> attached = store.jdbi().withHandle(h -> store.volumes().attachedTo(h, vmId)).stream()
                .map(VolumeRow::volume).filter(v -> !v.bootDisk()).toList();
        for (Volume volume : attached) {
            try {
                store.jdbi().useHandle(h -> storage.agentOfPool(h, volume.poolId()).attachVolume(vmId,
                        storage.onHost(h, volume)));
                log.info("volume {} of tenant {} plugged back into restarted vm {}", volume.id(), volume.tenantId(), vmId);
            } catch (RuntimeException e) {
                log.error("volume {} of tenant {}: cannot plug it back into restarted vm {}: {}", volume.id(),
                        volume.tenantId(), vmId, e.getMessage(), e);
            }
        }
    }

    // ---------------------------------------------------------------- snapshots

    public VolumeSnapshot createSnapshot(Caller caller, String id, String name) {
        VolumeSnapshot snapshot = new VolumeSnapshot(name, clock.instant());
        String tenantId = store.jdbi().inTransaction(h -> {
            Volume volume = lock(h, caller, id);
            StorageRules.checkNewSnapshot(volume, name);
            store.volumes().insertSnapshot(h, id, snapshot);
            storage.agentOfPool(h, volume.poolId()).createSnapshot(storage.onHost(h, volume), name, volume.attachedVmId());
            return volume.tenantId();
        });
        log.info("volume {} of tenant {}: snapshot '{}' created", id, tenantId, name);
        return snapshot;
    }

    public List<VolumeSnapshot> snapshots(Caller caller, String id) {
        return get(caller, id).volume().snapshots();
    }

    public void revertSnapshot(Caller caller, String id, String name) {
        String tenantId = store.jdbi().inTransaction(h -> {
            Volume volume = lock(h, caller, id);
            StorageRules.checkRevert(volume, name, volume.attached() && vmRunning(h, volume.attachedVmId()));
            storage.agentOfPool(h, volume.poolId()).revertSnapshot(storage.onHost(h, volume), name);
            return volume.tenantId();
        });
        log.info("volume {} of tenant {}: reverted to snapshot '{}'", id, tenantId, name);
    }

    public void deleteSnapshot(Caller caller, String id, String name) {
        String tenantId = store.jdbi().inTransaction(h -> {
            Volume volume = lock(h, caller, id);
            StorageRules.requireSnapshot(volume, name);
            store.volumes().deleteSnapshot(h, id, name);
            storage.agentOfPool(h, volume.poolId()).deleteSnapshot(storage.onHost(h, volume), name, volume.attachedVmId());
            return volume.tenantId();
        });
        log.info("volume {} of tenant {}: snapshot '{}' deleted", id, tenantId, name);
    }

    // ---------------------------------------------------------------- resync (admin)

    /**
     * Rebuilds every failed copy of a detached volume from an in-sync copy, on {@code deviceId} when given
     * (it must be in the pool, online, with room, and hold no other copy) or on the device placement picks.
     */
    public VolumeRow resync(Caller caller, String id, String deviceId) {
        VolumeRow row = store.jdbi().inTransaction(h -> {
            store.storage().lockPool(h, get(caller, id).volume().poolId());
            Volume volume = lock(h, caller, id);
            if (volume.attached()) {
                throw new EnclaveException.Conflict("volume " + id + " is attached to vm " + volume.attachedVmId()
                        + ": it is resynced live");
            }
            List<VolumeCopy> failed = volume.placement().stream().filter(c -> c.state() != CopyState.IN_SYNC).toList();
            if (failed.isEmpty()) throw new EnclaveException.Conflict("volume " + id + " has no failed copy to resync");
            for (VolumeCopy copy : failed) {
                String target = LiveResync.target(volume, copy, storage.poolSpace(h, volume.poolId()), deviceId);
                VolumeCopy rebuilt = copy.rebuiltOn(target);
                var onHost = storage.onHost(h, volume);
                storage.agentOfPool(h, volume.poolId()).resyncDetached(onHost, rebuilt, onHost.dirOf(target));
                VolumeCopy inSync = rebuilt.withState(CopyState.IN_SYNC);
                store.volumes().saveCopy(h, id, inSync, false);
                volume = volume.withPlacement(volume.placement().stream()
                        .map(c -> c.index() == inSync.index() ? inSync : c).toList());
                log.info("volume {} of tenant {}: copy {} rebuilt on device {}", id, volume.tenantId(), copy.index(), target);
            }
            return store.volumes().find(h, Scope.ALL_TENANTS, id).orElseThrow();
        });
        return row;
    }

    /** Rebuilds one failed copy of an attached volume while its VM runs; follow the returned operation. */
    /** At controller start: rebuilds a restart interrupted are failed cleanly (see {@link LiveResync#failInterrupted}). */
    public List<String> failInterruptedResyncs() {
        return liveResync.failInterrupted();
    }

    public Operation startLiveResync(Caller caller, String id, String deviceId) {
        return liveResync.start(caller, id, deviceId);
    }

    /**
     * Whether a volume change reaches the VM's QEMU now (true: running) or only the record (false: stopped, its
     * next start plugs the volume in). A VM between the two cannot take the change.
     */
    private static boolean plugMode(Vm vm) {
        if (vm.phase() == VmPhase.RUNNING && vm.desiredState() == io.enclave.core.vm.DesiredState.RUNNING) return true;
        boolean down = vm.phase() == VmPhase.STOPPED || vm.phase() == VmPhase.CRASHED || vm.phase() == VmPhase.FAILED;
        if (down && vm.desiredState() == io.enclave.core.vm.DesiredState.STOPPED) return false;
        throw new EnclaveException.Conflict("vm " + vm.id() + " is " + vm.phase().name().toLowerCase() + " (desired "
                + vm.desiredState().name().toLowerCase() + "): attach or detach volumes when it is running or stopped");
    }

    /** The volume, locked for a change; refused while the VM it is attached to migrates (its copies may be moving). */
    private Volume lock(Handle h, Caller caller, String id) {
        Volume volume = store.volumes().lock(h, Scope.of(caller), id)
                .orElseThrow(() -> new EnclaveException.NotFound("volume", id)).volume();
        if (volume.attachedVmId() != null) refuseWhileMigrating(h, volume.attachedVmId());
        return volume;
    }

    private void refuseWhileMigrating(Handle h, String vmId) {
        store.vms().migration(h, vmId).ifPresent(m -> {
            throw new EnclaveException.Conflict("vm " + vmId + " is migrating to host " + m.toHost()
                    + ": its volumes change once the migration has ended");
        });
    }

    private boolean vmRunning(Handle h, String vmId) {
        return store.vms().find(h, Scope.ALL_TENANTS, vmId).map(vm -> switch (vm.phase()) {
            case STARTING, RUNNING, REBOOTING, STOPPING -> true;
            default -> false;
        }).orElse(false);
    }
}
