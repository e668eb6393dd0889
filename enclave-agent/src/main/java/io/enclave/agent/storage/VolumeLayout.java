package io.enclave.agent.storage;

import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeOnHost;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Pattern;

/** What the host needs to know of a volume: its id, size and where each copy is. */
public record VolumeLayout(String volumeId, long sizeBytes, List<CopyLocation> copies) {
    /** Node names are limited to 31 characters; the longest suffix is "-c2g999f" (8). */
    private static final Pattern ID = Pattern.compile("[a-z][a-z0-9-]{0,22}");

    public VolumeLayout {
        copies = List.copyOf(copies);
        if (!ID.matcher(volumeId).matches()) {
            throw new IllegalArgumentException("volume id must be 1-23 characters of a-z, 0-9 and '-', starting with a letter: "
                    + volumeId);
        }
        if (copies.isEmpty() || copies.size() > 3) throw new IllegalArgumentException("a volume has 1-3 copies");
        if (sizeBytes <= 0 || sizeBytes % 512 != 0) throw new IllegalArgumentException("size must be a positive multiple of 512");
    }

    /** The host's view of a domain volume; {@code deviceDir} maps a device id to its directory on this host. */
    public static VolumeLayout of(Volume volume, Function<String, Path> deviceDir) {
        return new VolumeLayout(volume.id(), volume.sizeBytes(), volume.placement().stream()
                .map(c -> new CopyLocation(c.index(), c.deviceId(), deviceDir.apply(c.deviceId()), c.generation(), c.state()))
                .toList());
    }

    /** The host's view of a volume the controller sent with its devices' directories. */
    public static VolumeLayout of(VolumeOnHost volume) {
        return of(volume.volume(), deviceId -> Path.of(volume.dirOf(deviceId)));
    }

    public List<CopyLocation> inSyncCopies() {
        return copies.stream().filter(CopyLocation::inSync).toList();
    }

    public CopyLocation copy(int index) {
        return copies.stream().filter(c -> c.index() == index).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(volumeId + " has no copy " + index));
    }

    public VolumeLayout withCopy(CopyLocation replaced) {
        return new VolumeLayout(volumeId, sizeBytes,
                copies.stream().map(c -> c.index() == replaced.index() ? replaced : c).toList());
    }

    public VolumeLayout withSize(long newSizeBytes) {
        return new VolumeLayout(volumeId, newSizeBytes, copies);
    }

    /** The qdev id of the guest device this volume is attached as. */
    public String qdevId() {
        return volumeId + "-dev";
    }

    /** The guest device's serial number (virtio-blk takes at most 20 characters): the guest finds the volume by it. */
    public String serial() {
        return volumeId.length() > 20 ? volumeId.substring(0, 20) : volumeId;
    }
}
