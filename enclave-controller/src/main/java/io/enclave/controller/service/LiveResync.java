package io.enclave.controller.service;

import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostAgent;
import io.enclave.core.operation.Operation;
import io.enclave.core.operation.OperationKind;
import io.enclave.core.operation.OperationStatus;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceSpace;
import io.enclave.core.storage.Placement;
import io.enclave.core.storage.ResyncProgress;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds a failed copy of a volume attached to a running VM, while the guest keeps using it: the new copy
 * is recorded as resyncing and a QEMU mirror job fills it; an operation shows the job's progress, and the copy
 * is recorded in sync once the host has swapped it in. One failed copy per call.
 */
public final class LiveResync {
    private static final Logger log = LoggerFactory.getLogger(LiveResync.class);
    private static final Duration POLL = Duration.ofMillis(300);
    private static final Duration LIMIT = Duration.ofHours(6);

    private record Job(Volume before, VolumeCopy rebuilt, String dir, String jobId, String operationId,
            HostAgent agent, VolumeOnHost onHost) {}

    private final Store store;
    private final StorageService storage;
    private final Clock clock;

    public LiveResync(Store store, StorageService storage, Clock clock) {
        this.store = store;
        this.storage = storage;
        this.clock = clock;
    }

    /** Starts the rebuild and returns the operation that follows it. */
    public Operation start(Caller caller, String volumeId, String deviceId) {
        Instant now = clock.instant();
        Job job = store.jdbi().inTransaction(h -> {
            String poolId = store.volumes().find(h, Scope.of(caller), volumeId)
                    .orElseThrow(() -> new EnclaveException.NotFound("volume", volumeId)).volume().poolId();
            store.storage().lockPool(h, poolId);
            Volume volume = store.volumes().lock(h, Scope.of(caller), volumeId).orElseThrow().volume();
            if (!volume.attached()) throw new EnclaveException.Conflict("volume " + volumeId + " is not attached");
            if (volume.placement().stream().anyMatch(c -> c.state() == CopyState.RESYNCING)) {
                throw new EnclaveException.Conflict("volume " + volumeId + " is already resyncing a copy");
            }
            if (!volume.snapshots().isEmpty()) {
                throw new EnclaveException.Conflict("volume " + volumeId + " has snapshots, which a live rebuild does not "
                        + "copy: detach it (or stop its VM) and resync then");
            }
            VolumeCopy failed = volume.placement().stream().filter(c -> c.state() == CopyState.FAILED).findFirst()
                    .orElseThrow(() -> new EnclaveException.Conflict("volume " + volumeId + " has no failed copy to resync"));
            String target = target(volume, failed, storage.poolSpace(h, poolId), deviceId);
            VolumeCopy rebuilt = failed.rebuiltOn(target);
            VolumeOnHost onHost = storage.onHost(h, volume);
            HostAgent agent = storage.agentOfPool(h, poolId);
            store.volumes().saveCopy(h, volumeId, rebuilt, false);
            Operation op = new Operation(Ids.newId("op"), volume.tenantId(), OperationKind.RESYNC_VOLUME, volumeId,
                    rebuilt.generation(), OperationStatus.RUNNING, 0, "rebuilding copy " + failed.index() + " on device "
                    + target, null, now, now);
            store.operations().insert(h, op, Scope.of(caller).idempotencyNamespace(), null);
            String jobId = agent.startResync(volume.attachedVmId(), onHost, rebuilt, onHost.dirOf(target));
            return new Job(volume, rebuilt, onHost.dirOf(target), jobId, op.id(), agent, onHost);
        });
        log.info("volume {} of tenant {}: live rebuild of copy {} on device {} started (operation {})", volumeId,
                job.before().tenantId(), job.rebuilt().index(), job.rebuilt().deviceId(), job.operationId());
        Thread.ofVirtual().name("resync-" + volumeId).start(() -> follow(job));
        return store.jdbi().withHandle(h -> store.operations().find(h, Scope.ALL_TENANTS, job.operationId()).orElseThrow());
    }

    private void follow(Job job) {
        String vmId = job.before().attachedVmId();
        String volumeId = job.before().id();
        long deadline = System.nanoTime() + LIMIT.toNanos();
        try {
            while (true) {
                ResyncProgress p = job.agent().resyncProgress(vmId, job.jobId());
                if (p.error() != null) throw new IllegalStateException("the host's copy job failed: " + p.error());
                if (p.ready()) break;
                if (System.nanoTime() > deadline) throw new IllegalStateException("not done after " + LIMIT);
                record(job, OperationStatus.RUNNING, Math.min(99, p.percent()), "copying: " + (p.currentBytes() >> 20)
                        + " of " + (p.totalBytes() >> 20) + " MiB", null);
                Thread.sleep(POLL);
            }
            job.agent().completeResync(vmId, job.onHost(), job.rebuilt(), job.dir());
            store.jdbi().useTransaction(h -> {
                store.volumes().saveCopy(h, volumeId, job.rebuilt().withState(CopyState.IN_SYNC), false);
                record(job, OperationStatus.SUCCEEDED, 100, "copy " + job.rebuilt().index() + " in sync on device "
                        + job.rebuilt().deviceId(), null);
            });
            log.info("volume {} of tenant {}: copy {} rebuilt live on device {}", volumeId, job.before().tenantId(),
                    job.rebuilt().index(), job.rebuilt().deviceId());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(job, "interrupted");
        } catch (RuntimeException e) {
            log.error("volume {} of tenant {}: live rebuild of copy {} failed: {}", volumeId, job.before().tenantId(),
                    job.rebuilt().index(), e.getMessage(), e);
            fail(job, e.getMessage());
        }
    }

    private void fail(Job job, String error) {
        store.jdbi().useTransaction(h -> {
            store.volumes().saveCopy(h, job.before().id(), job.rebuilt().withState(CopyState.FAILED), false);
            record(job, OperationStatus.FAILED, 0, "rebuild failed", error);
        });
    }

    private void record(Job job, OperationStatus status, int progress, String message, String error) {
        store.jdbi().useHandle(h -> store.operations().update(h, job.operationId(), status, progress, message, error,
                clock.instant()));
    }

    /**
     * After a controller restart: a rebuild that was being followed is failed cleanly (its copy failed again,
     * its operation failed with the reason), so the admin can start it again; the host cancels the stale copy
     * job when the next rebuild of the volume starts. Returns the volumes concerned.
     */
    public List<String> failInterrupted() {
        Instant now = clock.instant();
        List<String> volumes = store.jdbi().inTransaction(h -> {
            List<String> ids = new java.util.ArrayList<>();
            for (var entry : store.volumes().resyncingCopies(h)) {
                store.volumes().saveCopy(h, entry.getKey(), entry.getValue().withState(CopyState.FAILED), false);
                for (Operation op : store.operations().unfinishedForTarget(h, entry.getKey())) {
                    if (op.kind() != OperationKind.RESYNC_VOLUME) continue;
                    store.operations().update(h, op.id(), OperationStatus.FAILED, op.progress(), "rebuild interrupted",
                            "the controller restarted during the rebuild of copy " + entry.getValue().index()
                                    + "; start the resync again", now);
                }
                ids.add(entry.getKey());
            }
            return ids;
        });
        if (!volumes.isEmpty()) log.warn("live rebuilds interrupted by a controller restart failed cleanly: {}", volumes);
        return volumes;
    }

    /** Where a failed copy is rebuilt: on {@code deviceId} when given, else where placement finds room. */
    static String target(Volume volume, VolumeCopy failed, List<DeviceSpace> space, String deviceId) {
        Set<String> occupied = volume.placement().stream().filter(c -> c.index() != failed.index())
                .map(VolumeCopy::deviceId).collect(Collectors.toSet());
        List<DeviceSpace> candidates = deviceId == null ? space
                : space.stream().filter(d -> d.deviceId().equals(deviceId)).toList();
        if (deviceId != null && candidates.isEmpty()) {
            throw new EnclaveException.InvalidRequest("deviceId", "device '" + deviceId + "' is not in pool " + volume.poolId());
        }
        return Placement.replacement(volume.sizeBytes(), candidates, occupied);
    }
}
