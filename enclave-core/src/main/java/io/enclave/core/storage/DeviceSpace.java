package io.enclave.core.storage;

/**
 * How much of a device is promised away. Space is reserved at each copy's full virtual size (qcow2 files
 * are thin, but the platform does not overcommit devices), so a full device never fails a guest write.
 */
public record DeviceSpace(String deviceId, long capacityBytes, long reservedBytes, boolean online) {
    public long freeBytes() {
        return Math.max(0, capacityBytes - reservedBytes);
    }

    public static DeviceSpace of(StorageDevice device, long reservedBytes) {
        return new DeviceSpace(device.id(), device.capacityBytes(), reservedBytes, device.online());
    }
}
