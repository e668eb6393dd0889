package io.enclave.controller.hosts;

import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.StorageRepository.PoolRow;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.persistence.VolumeRepository.PlannedCopies;
import io.enclave.controller.persistence.VolumeRepository.VolumeRow;
import io.enclave.controller.service.StorageService;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.Placement;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * Where the volumes of a VM that migrates live go (its boot volume and the volumes attached to it): each the same
 * number of copies, placed like any volume's (distinct online devices with room), in a pool of the destination
 * host. The copies are new files (the generation after the highest the volume has had), so a file left over from
 * an earlier stay on that host can never pass for data. Snapshots refuse the move: the mirror carries the
 * volume's current data only.
 */
final class VolumeMoves {
    private final Store store;
    private final StorageService storage;

    VolumeMoves(Store store, StorageService storage) {
        this.store = store;
        this.storage = storage;
    }

    /** The VM's volumes (boot volume first), checked that they may move. */
    List<Volume> movable(Handle h, String vmId) {
        List<Volume> volumes = new ArrayList<>(store.volumes().attachedTo(h, vmId).stream().map(VolumeRow::volume).toList());
        volumes.sort((a, b) -> Boolean.compare(b.bootDisk(), a.bootDisk()));
        for (Volume volume : volumes) {
            if (!volume.snapshots().isEmpty()) {
                throw new EnclaveException.Conflict("vm " + vmId + (volume.bootDisk() ? " boots from" : " has attached")
                        + " volume " + volume.id() + ", which has " + volume.snapshots().size() + " snapshot(s): a live "
                        + "migration copies the volume's current data only; delete the snapshots first");
            }
        }
        return volumes;
    }

    /** Whether pools of the host have room for each of the volumes (for the scheduler's choice of a host). */
    boolean fits(Handle h, List<Volume> volumes, String hostId) {
        List<PoolRow> pools = pools(h, hostId);
        return volumes.stream().allMatch(v -> pools.stream().anyMatch(pool -> place(h, v, pool).isPresent()));
    }

    /**
     * Places every volume's copies in a pool of {@code hostId} and records the plan with the VM's migration (so the
     * next volume's placement, and any other, sees the room taken), locking the pools for the transaction.
     */
    void planAndRecord(Handle h, String vmId, List<Volume> volumes, String hostId) {
        for (Volume volume : volumes) store.volumes().recordMigrationCopies(h, vmId, plan(h, volume, hostId));
    }

    private PlannedCopies plan(Handle h, Volume volume, String hostId) {
        List<PoolRow> pools = pools(h, hostId);
        for (PoolRow pool : pools) {
            store.storage().lockPool(h, pool.pool().id());
            Optional<List<String>> devices = place(h, volume, pool);
            if (devices.isPresent()) {
                int generation = volume.placement().stream().mapToInt(VolumeCopy::generation).max().orElse(0) + 1;
                List<VolumeCopy> copies = new ArrayList<>();
                for (int i = 0; i < devices.get().size(); i++) {
                    copies.add(new VolumeCopy(i, devices.get().get(i), generation, CopyState.IN_SYNC));
                }
                return new PlannedCopies(volume.id(), pool.pool().id(), copies);
            }
        }
        throw new EnclaveException.Conflict("host " + hostId + " has " + (pools.isEmpty() ? "no storage pool"
                : "no storage pool with " + volume.copies() + " online device(s) with " + volume.sizeGib() + " GiB free each")
                + " for " + (volume.bootDisk() ? "the boot volume " : "the attached volume ") + volume.id() + " of the VM ("
                + volume.copies() + " copies of " + volume.sizeGib() + " GiB)");
    }

    /** A recorded move: the volume where it is now and where the migration puts it. */
    record Move(VolumeOnHost from, VolumeOnHost to) {
        boolean boot() {
            return from.volume().bootDisk();
        }
    }

    /** The volume moves recorded with the VM's migration (boot volume first). */
    List<Move> recorded(Handle h, String vmId) {
        List<Move> moves = new ArrayList<>();
        for (PlannedCopies copies : store.volumes().migrationCopies(h, vmId)) {
            Volume volume = store.volumes().find(h, Scope.ALL_TENANTS, copies.volumeId())
                    .orElseThrow(() -> new IllegalStateException("volume " + copies.volumeId() + " of migrating vm " + vmId
                            + " is gone")).volume();
            Volume moved = new Volume(volume.id(), volume.tenantId(), volume.name(), copies.toPoolId(), volume.sizeGib(),
                    volume.copies(), copies.copies(), volume.attachedVmId(), volume.bootDisk(), List.of());
            moves.add(new Move(storage.onHost(h, volume), storage.onHost(h, moved)));
        }
        moves.sort((a, b) -> Boolean.compare(b.boot(), a.boot()));
        return moves;
    }

    private List<PoolRow> pools(Handle h, String hostId) {
        return store.storage().pools(h).stream().filter(p -> p.pool().hostId().equals(hostId)).toList();
    }

    private Optional<List<String>> place(Handle h, Volume volume, PoolRow pool) {
        try {
            return Optional.of(Placement.place(volume.copies(), volume.sizeBytes(), storage.poolSpace(h, pool.pool().id())));
        } catch (EnclaveException.InvalidRequest tooSmall) {
            return Optional.empty();
        }
    }
}
