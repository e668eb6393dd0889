package io.enclave.agent.qemu;

import io.enclave.core.storage.VolumeOnHost;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Optional;

/**
 * Remembers in the VM's directory which volume the VM boots from, with its devices' directories: {@code status},
 * {@code destroy} and a restarted agent only get the VM's id, yet must find the boot volume's copies.
 */
final class BootVolumeRecord {
    private BootVolumeRecord() {}

    static void remember(VmFiles files, String vmId, VolumeOnHost volume) {
        try {
            Files.createDirectories(files.dir());
            Files.writeString(files.bootVolumeFile(), JsonLineChannel.JSON.writeValueAsString(forHost(volume)));
        } catch (IOException e) {
            throw new IllegalStateException("vm " + vmId + ": cannot record its boot volume " + volume.volume().id()
                    + " in " + files.bootVolumeFile() + ": " + e.getMessage(), e);
        }
    }

    static Optional<VolumeOnHost> read(VmFiles files, String vmId) {
        if (!Files.exists(files.bootVolumeFile())) return Optional.empty();
        try {
            return Optional.of(JsonLineChannel.JSON.readValue(Files.readString(files.bootVolumeFile()), VolumeOnHost.class));
        } catch (IOException e) {
            throw new IllegalStateException("vm " + vmId + ": cannot read its boot volume record "
                    + files.bootVolumeFile() + ": " + e.getMessage(), e);
        }
    }

    /**
     * What the host keeps of a volume: where its copies are. The snapshot list is the controller's (and its times
     * would need a date-time module in the agent's JSON).
     */
    static VolumeOnHost forHost(VolumeOnHost volume) {
        if (volume == null || volume.volume().snapshots().isEmpty()) return volume;
        return new VolumeOnHost(volume.volume().withSnapshots(List.of()), volume.deviceDirs());
    }

    static boolean exists(VmFiles files) {
        return Files.exists(files.bootVolumeFile());
    }
}
