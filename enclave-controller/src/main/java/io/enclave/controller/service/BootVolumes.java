package io.enclave.controller.service;

import io.enclave.controller.persistence.StorageRepository.PoolRow;
import io.enclave.controller.persistence.Store;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.BootVolumeSpec;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceSpace;
import io.enclave.core.storage.StorageRules;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.vm.VmSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jdbi.v3.core.Handle;

/**
 * The boot volume of a VM being created, inside the VM's create transaction: its pool resolved and locked,
 * the volume checked and placed like any volume, and recorded attached to the VM as its boot disk. Its files are
 * made on the host when the VM's disk is created (the reconciler's create-disk step), not here.
 *
 * <p>Quota: the boot volume is the VM's disk, which counts against {@code quota.diskGib} through the VM's
 * {@code diskGib}; the volume itself is not counted again (see {@code TenantRepository.usage}). Volumes have no
 * count quota, so neither do boot volumes.
 */
final class BootVolumes {
    private final Store store;
    private final StorageService storage;
    private final StorageRules rules;

    BootVolumes(Store store, StorageService storage, StorageRules rules) {
        this.store = store;
        this.storage = storage;
        this.rules = rules;
    }

    /** A checked, placed boot volume whose pool row is locked for the rest of the transaction. */
    record Planned(Volume volume, String hostId) {}

    Planned plan(Handle h, String vmId, String tenantId, VmSpec vm, BootVolumeSpec spec) {
        PoolRow pool = spec.pool() == null ? null : store.storage().poolByName(h, spec.pool())
                .or(() -> store.storage().pool(h, spec.pool()))
                .flatMap(p -> store.storage().lockPool(h, p.pool().id())).orElse(null);
        List<DeviceSpace> space = pool == null ? List.of() : storage.poolSpace(h, pool.pool().id());
        List<String> devices = rules.validateBootVolume(spec, vm, pool == null ? null : pool.pool(), space);
        String name = BootVolumeSpec.volumeName(vm.name());
        if (store.volumes().nameTaken(h, tenantId, name)) {
            throw new EnclaveException.Conflict("tenant " + tenantId + " already has a volume named '" + name
                    + "', the name of VM '" + vm.name() + "''s boot volume");
        }
        List<VolumeCopy> placement = new ArrayList<>();
        for (int i = 0; i < devices.size(); i++) placement.add(new VolumeCopy(i, devices.get(i), 0, CopyState.IN_SYNC));
        Volume volume = new Volume(Ids.newId("vol"), tenantId, name, pool.pool().id(), vm.diskGib(), spec.copies(),
                placement, vmId, true, List.of());
        return new Planned(volume, pool.pool().hostId());
    }

    void insert(Handle h, Planned planned, Instant now) {
        store.volumes().insert(h, planned.volume(), now);
    }
}
