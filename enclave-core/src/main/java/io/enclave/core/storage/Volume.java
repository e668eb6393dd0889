package io.enclave.core.storage;

import java.util.List;

/**
 * A tenant's virtual disk: {@code copies} qcow2 files of {@code sizeGib}, one per device listed in
 * {@code placement}, served as one disk (QEMU's quorum driver when there is more than one copy).
 *
 * @param attachedVmId the VM it is attached to, or null
 * @param bootDisk     true when it is that VM's boot disk
 */
public record Volume(String id, String tenantId, String name, String poolId, long sizeGib, int copies,
                     List<VolumeCopy> placement, String attachedVmId, boolean bootDisk,
                     List<VolumeSnapshot> snapshots) {

    public Volume {
        placement = List.copyOf(placement);
        snapshots = List.copyOf(snapshots);
        if (placement.size() != copies) {
            throw new IllegalArgumentException("volume " + id + " has " + copies + " copies but " + placement.size()
                    + " placements");
        }
    }

    public VolumeHealth health() {
        return VolumeHealth.of(placement);
    }

    public boolean attached() {
        return attachedVmId != null;
    }

    public long sizeBytes() {
        return sizeGib << 30;
    }

    public Volume withPlacement(List<VolumeCopy> newPlacement) {
        return new Volume(id, tenantId, name, poolId, sizeGib, copies, newPlacement, attachedVmId, bootDisk, snapshots);
    }

    public Volume withSize(long newSizeGib) {
        return new Volume(id, tenantId, name, poolId, newSizeGib, copies, placement, attachedVmId, bootDisk, snapshots);
    }

    public Volume withAttachment(String vmId, boolean boot) {
        return new Volume(id, tenantId, name, poolId, sizeGib, copies, placement, vmId, vmId != null && boot, snapshots);
    }

    public Volume withSnapshots(List<VolumeSnapshot> newSnapshots) {
        return new Volume(id, tenantId, name, poolId, sizeGib, copies, placement, attachedVmId, bootDisk, newSnapshots);
    }

    /** Marks every copy on {@code deviceId} failed (its device went away). */
    public Volume withDeviceFailed(String deviceId) {
        return withPlacement(placement.stream()
                .map(c -> c.deviceId().equals(deviceId) ? c.withState(CopyState.FAILED) : c).toList());
    }
}
