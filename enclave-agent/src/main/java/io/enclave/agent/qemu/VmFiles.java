package io.enclave.agent.qemu;

import java.nio.file.Path;

/**
 * Where one VM's files live on its host; everything of a VM is under one directory, except a boot disk on
 * shared storage ({@code disk} outside {@code dir}).
 */
public record VmFiles(Path dir, Path disk) {
    /** Unix socket paths are limited to 107 bytes; "console.sock" is (one of) the longest name used. */
    public static final int MAX_DIR_LENGTH = 107 - "/console.sock".length();
    public static final String DISK_NAME = "disk.qcow2";

    /** A VM whose disk is in its own directory. */
    public VmFiles(Path dir) {
        this(dir, dir.resolve(DISK_NAME));
    }

    public boolean sharedDisk() { return !disk.getParent().equals(dir); }

    public Path qmpSocket() { return dir.resolve("qmp.sock"); }
    public Path guestAgentSocket() { return dir.resolve("qga.sock"); }
    public Path consoleSocket() { return dir.resolve("console.sock"); }
    public Path consoleLog() { return dir.resolve("console.log"); }
    public Path qemuLog() { return dir.resolve("qemu.log"); }
    public Path pidFile() { return dir.resolve("qemu.pid"); }
    /** Written when QEMU starts or the guest is reset: the boot the guest-ready state refers to. */
    public Path bootedAt() { return dir.resolve("booted-at"); }
    /** Written when a graceful power-down is asked; removed at the next start. */
    public Path stopRequested() { return dir.resolve("stop-requested"); }
    public Path spec() { return dir.resolve("spec.json"); }
    /** Holds the directory of a disk on shared storage; absent when the disk is {@code dir/disk.qcow2}. */
    public Path diskDirFile() { return dir.resolve("disk-dir"); }
    /** The VM's boot volume (the controller's {@code VolumeOnHost}) when it boots from one instead of {@code disk}. */
    public Path bootVolumeFile() { return dir.resolve("boot-volume.json"); }
    /** Destination: the hot-plugged volumes whose copies an incoming migration made here (removed if it fails). */
    public Path incomingVolumesFile() { return dir.resolve("incoming-volumes.json"); }
    /** Present while this host's QEMU waits for (or has just received) an incoming migration. */
    public Path incomingFile() { return dir.resolve("incoming.json"); }
    /** Destination: QEMU's incoming migration stream. */
    public Path migrationInSocket() { return dir.resolve("mig-in.sock"); }
    /** Destination: QEMU's NBD server exporting the disk while the source mirrors it. */
    public Path nbdInSocket() { return dir.resolve("nbd-in.sock"); }
    /** Source: the agent's relay towards the destination's migration port. */
    public Path migrationOutSocket() { return dir.resolve("mig-out.sock"); }
    /** Source: the agent's relay towards the destination's NBD port. */
    public Path nbdOutSocket() { return dir.resolve("nbd-out.sock"); }
}
