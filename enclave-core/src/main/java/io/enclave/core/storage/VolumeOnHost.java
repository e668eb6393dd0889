package io.enclave.core.storage;

import java.util.Map;

/**
 * A volume as its host needs it: the domain volume and, for every device holding one of its copies, that
 * device's directory on the host.
 */
public record VolumeOnHost(Volume volume, Map<String, String> deviceDirs) {
    public VolumeOnHost {
        deviceDirs = Map.copyOf(deviceDirs);
        for (VolumeCopy copy : volume.placement()) {
            if (!deviceDirs.containsKey(copy.deviceId())) {
                throw new IllegalArgumentException("volume " + volume.id() + ": no directory for device " + copy.deviceId());
            }
        }
    }

    public String dirOf(String deviceId) {
        String dir = deviceDirs.get(deviceId);
        if (dir == null) throw new IllegalArgumentException("volume " + volume.id() + ": no directory for device " + deviceId);
        return dir;
    }
}
