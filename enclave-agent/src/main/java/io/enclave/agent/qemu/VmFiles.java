package io.enclave.agent.qemu;

import java.nio.file.Path;

/** Where one VM's files live on its host; everything of a VM is under one directory. */
public record VmFiles(Path dir) {
    /** Unix socket paths are limited to 107 bytes; "console.sock" is the longest name used. */
    public static final int MAX_DIR_LENGTH = 107 - "/console.sock".length();

    public Path disk() { return dir.resolve("disk.qcow2"); }
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
}
