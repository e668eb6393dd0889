package io.enclave.core.host;

import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import io.enclave.core.storage.DeviceReport;
import io.enclave.core.storage.ResyncProgress;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import io.enclave.core.storage.VolumeSnapshot;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What the controller asks of the agent that owns one host. Every call is idempotent: calling it again
 * after a crash or a timeout converges to the same result. Implementations: the in-process agent for a
 * single machine; a remote client for many hosts.
 */
public interface HostAgent {

    HostInfo info();

    /** The VMs the host holds anything of (disk, process, files). */
    List<String> listVms();

    VmRuntimeStatus status(String vmId);

    /** Creates the VM's boot disk (an overlay of the image, of the requested size) if it is not there. */
    void createDisk(VmRuntimeSpec spec);

    /** Starts QEMU for the VM if it is not running. */
    void start(VmRuntimeSpec spec);

    /** Asks the guest to power down (ACPI) and records when it was asked. */
    void powerDown(String vmId);

    /** Ends the VM's QEMU process now. */
    void forceStop(String vmId);

    /** Hard-resets the running guest. */
    void reset(String vmId);

    /** Resumes a paused guest. */
    void resume(String vmId);

    /** Forgets a QEMU process that died by itself, keeping the disk. */
    void clearDeadProcess(String vmId);

    /** Removes everything of the VM from the host: process, disk, sockets, logs. */
    void destroy(String vmId);

    /** The last {@code maxBytes} of the VM's serial console output. */
    String console(String vmId, int maxBytes);

    /** Runs a command inside the guest through its guest agent and waits for it. */
    ExecResult exec(String vmId, List<String> command, Duration timeout);

    /**
     * Converges the public network and one tenant's networks, VM ports, firewall and DHCP/DNS on this
     * host to exactly {@code tenant}. Idempotent; the firewall's rules change atomically.
     */
    void applyNetworking(PublicNetwork publicNetwork, TenantNetworking tenant);

    /** Removes everything of the tenant's networking from this host. */
    void removeNetworking(String tenantId);

    /** Hit counters of the tenant's firewall rules, by rule id. */
    Map<String, RuleCounter> ruleCounters(String tenantId);

    // ------------------------------------------------------------------ storage

    /** Checks that {@code path} is the root of its own writable filesystem, labels it, and measures it. */
    DeviceReport registerDevice(String deviceId, String path);

    /** Measures the device and probes it with a synced write and read. Never throws. */
    DeviceReport probeDevice(String deviceId, String path);

    /** Creates one file per copy of the volume; on failure nothing is left. */
    void createVolume(VolumeOnHost volume);

    /** Grows every copy to {@code newSizeGib}; through the VM's QEMU when {@code attachedVmId} is not null. */
    void growVolume(VolumeOnHost volume, long newSizeGib, String attachedVmId);

    /** Removes every copy's file that can still be reached. */
    void deleteVolume(VolumeOnHost volume);

    /** Hot-plugs the volume into the VM's running QEMU as a virtio disk. */
    void attachVolume(String vmId, VolumeOnHost volume);

    /** Unplugs the volume from the VM (the guest must acknowledge) and drops its block nodes. */
    void detachVolume(String vmId, VolumeOnHost volume, Duration timeout);

    List<VolumeSnapshot> listSnapshots(VolumeOnHost volume, String attachedVmId);

    void createSnapshot(VolumeOnHost volume, String name, String attachedVmId);

    /** Reverts every in-sync copy; the volume must be detached or its VM stopped. */
    void revertSnapshot(VolumeOnHost volume, String name);

    void deleteSnapshot(VolumeOnHost volume, String name, String attachedVmId);

    /**
     * Rebuilds one copy of a detached volume as {@code replacement} (its new device and generation) in
     * {@code replacementDir}, from an in-sync copy (snapshots included).
     */
    void resyncDetached(VolumeOnHost volume, VolumeCopy replacement, String replacementDir);

    /**
     * Starts rebuilding one copy of a volume attached to the VM, live: {@code replacement} (its new device and
     * generation, in {@code replacementDir}) is filled from the in-sync copies while the guest keeps writing.
     * Returns the job id for {@link #resyncProgress}.
     */
    String startResync(String vmId, VolumeOnHost volume, VolumeCopy replacement, String replacementDir);

    ResyncProgress resyncProgress(String vmId, String jobId);

    /** Once ready: swaps the rebuilt copy into the volume in place of the failed one. */
    void completeResync(String vmId, VolumeOnHost volume, VolumeCopy replacement, String replacementDir);

    // ------------------------------------------------------------------ live migration

    /**
     * Destination: starts the VM's QEMU waiting for an incoming migration, listening on {@code listenAddress}.
     * With {@code copyStorage} an empty overlay of the disk (same size, same base image) is created and exported
     * writable over NBD for the source to mirror into; otherwise the disk must already be on shared storage
     * ({@code spec.diskDir()}). Idempotent: the same VM gets the same target again.
     */
    MigrationTarget prepareIncoming(VmRuntimeSpec spec, boolean copyStorage, String listenAddress);

    /**
     * Source of the migration of a stopped VM (a cold move): starts its QEMU without running the guest (QEMU's
     * {@code -S}), so its disk and devices travel as a running VM's do while the guest never runs. {@code release}
     * or {@code forceStop} ends it.
     */
    void startForMigration(VmRuntimeSpec spec);

    /**
     * Destination of a cold move, once the source reports completed: the received QEMU (which never ran the guest)
     * quits, and the VM is a stopped VM of this host with its disk here.
     */
    void completeColdIncoming(String vmId);

    /**
     * Source: starts migrating the running VM to {@code target}; with {@code copyStorage} its disk is mirrored
     * there first. Returns once started; follow it with {@link #migrationProgress}.
     */
    void startMigration(String vmId, MigrationTarget target, boolean copyStorage);

    /**
     * Source, before a migration with copied storage: the volumes hot-plugged into the running VM (by volume id)
     * and the PCI slot each one's device holds, for the destination's QEMU to have them at the same place.
     */
    java.util.Map<String, Integer> pluggedVolumeSlots(String vmId);

    /** Source: the state of the VM's outgoing migration. */
    MigrationProgress migrationProgress(String vmId);

    /** Source: stops the VM's outgoing migration; the VM keeps running here. */
    void cancelMigration(String vmId);

    /** Destination, once the source reports completed: the VM is an ordinary VM of this host from now on. */
    void completeIncoming(String vmId);

    /** Destination: stops the waiting QEMU and removes what {@link #prepareIncoming} created (never a shared disk). */
    void abortIncoming(String vmId);

    /**
     * Stops the VM's QEMU here if any and removes its local files, but never a disk on shared storage: for the
     * source after a completed migration, and for fencing a host that held a VM now running elsewhere.
     */
    void release(String vmId);
}
