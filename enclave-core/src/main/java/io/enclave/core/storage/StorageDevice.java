package io.enclave.core.storage;

/**
 * One real storage device of a host: a directory that is the root of its own filesystem.
 *
 * @param capacityBytes the filesystem's size, as measured when the device was registered or last probed
 */
public record StorageDevice(String id, String hostId, String path, long capacityBytes, DeviceHealth health) {
    public boolean online() {
        return health == DeviceHealth.ONLINE;
    }
}
