package io.enclave.agent.storage;

import io.enclave.core.storage.VolumeSnapshot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A host's storage: devices (directories on their own filesystems), volumes (one qcow2 file per copy on
 * distinct devices) and their life in QEMU. Methods taking {@code attachedTo} act through that QEMU's QMP
 * socket when the volume is attached there (QEMU holds the images' locks), and with qemu-img when it is
 * null. The controller decides what is allowed (see {@code io.enclave.core.storage.StorageRules}); the
 * driver only refuses what the host cannot do.
 */
public interface StorageDriver {

    /** Checks that {@code dir} is the root of its own filesystem and writable, and labels it as {@code deviceId}. */
    DeviceStatus registerDevice(String deviceId, Path dir);

    /** Measures capacity and use, and probes the device with a synced write and a read. Never throws. */
    DeviceStatus probeDevice(String deviceId, Path dir);

    /** Creates one qcow2 file per copy; on failure nothing is left. */
    void createVolume(VolumeLayout layout);

    /**
     * Creates a boot volume: every in-sync copy a qcow2 overlay of {@code baseFile} (the image the VM boots, in
     * {@code baseFormat}) of the volume's size, so each copy starts with the image's content. Atomic (on failure
     * no copy is left) and idempotent (when every in-sync copy's file exists, nothing is done). Returns whether it
     * created the copies.
     */
    boolean createBootVolume(VolumeLayout layout, Path baseFile, String baseFormat);

    /** Grows every copy to {@code newSizeBytes}; the guest sees the new size when attached. */
    VolumeLayout growVolume(VolumeLayout layout, long newSizeBytes, Path attachedTo);

    /** Removes every copy's file that can still be reached. */
    void deleteVolume(VolumeLayout layout);

    BlockGraph graph(VolumeLayout layout);

    /** Hot-plugs the volume into a running (or paused) QEMU as a virtio-blk-pci device. */
    void attach(Path qmpSocket, VolumeLayout layout);

    /** Unplugs the guest device, waits for DEVICE_DELETED, then removes the volume's block nodes. */
    void detach(Path qmpSocket, VolumeLayout layout, Duration timeout);

    List<VolumeSnapshot> listSnapshots(VolumeLayout layout, Path attachedTo);

    void createSnapshot(VolumeLayout layout, String name, Path attachedTo);

    /** Reverts every in-sync copy; the volume must be detached (or its VM stopped). */
    void revertSnapshot(VolumeLayout layout, String name);

    void deleteSnapshot(VolumeLayout layout, String name, Path attachedTo);

    /** Which of the volume's in-sync copies are on a device that fails its probe. */
    List<Integer> failedCopies(VolumeLayout layout);

    /**
     * Starts rebuilding copy {@code replacement.index()} at {@code replacement} (a new device, or the
     * repaired one with a new generation) from the in-sync copies, while the volume serves its VM. Returns
     * the job id to follow with {@link #jobProgress}.
     */
    String startResync(Path qmpSocket, VolumeLayout layout, CopyLocation replacement);

    JobProgress jobProgress(Path qmpSocket, String jobId);

    /**
     * Once the job is ready: swaps the rebuilt copy into the volume's graph in place of the failed one,
     * drops the failed copy's nodes, and returns the new layout (the copy in sync).
     */
    VolumeLayout completeResync(Path qmpSocket, VolumeLayout layout, CopyLocation replacement, Duration timeout);

    /** Rebuilds a copy of a detached volume by copying an in-sync copy's file (snapshots included). */
    VolumeLayout resyncDetached(VolumeLayout layout, CopyLocation replacement);
}
