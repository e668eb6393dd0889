package io.enclave.core.host;

import io.enclave.core.network.TenantNetworking;
import io.enclave.core.storage.VolumeOnHost;
import java.util.List;

/**
 * Everything a host agent needs to create and run one VM. {@code nics} are TAPs in the network namespace
 * {@code netns}, in which QEMU then runs (null: the host's namespace, and no NICs). The controller does
 * not know host names of TAPs: it sends {@code networking}, the tenant's networking with this VM's NICs,
 * and the host agent resolves it to {@code nics} and {@code netns}.
 *
 * <p>{@code diskDir}: null keeps the boot disk in the VM's own directory on the host; otherwise the disk is
 * {@code diskDir/disk.qcow2} in a directory several hosts reach (shared storage), so the VM can migrate live
 * without copying its disk.
 *
 * <p>{@code bootVolume}: null boots from that per-VM overlay; otherwise the boot disk is this volume (its copies
 * on the pool's devices, qcow2 overlays of {@code image}'s base file, served through the volume's block graph).
 * A VM has either a boot volume or a {@code diskDir}, never both.
 *
 * <p>{@code pluggedVolumes}: empty when a VM starts (its attached volumes are hot-plugged once it runs); for the
 * QEMU that receives a live migration, the volumes the source has hot-plugged, each at the PCI slot it holds
 * there, since the incoming QEMU must have every device the migration stream carries, where it was.
 */
public record VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
        BootImage image, List<VmNic> nics, String netns, TenantNetworking networking, String diskDir,
        VolumeOnHost bootVolume, List<PluggedVolume> pluggedVolumes) {

    public VmRuntimeSpec {
        nics = nics == null ? List.of() : List.copyOf(nics);
        pluggedVolumes = pluggedVolumes == null ? List.of() : List.copyOf(pluggedVolumes);
        if (bootVolume != null && diskDir != null) {
            throw new IllegalArgumentException("vm " + vmId + ": a boot volume and a shared disk directory exclude each other");
        }
        if (bootVolume != null && bootVolume.volume().sizeGib() != diskGib) {
            throw new IllegalArgumentException("vm " + vmId + ": boot volume " + bootVolume.volume().id() + " has "
                    + bootVolume.volume().sizeGib() + " GiB but the VM's disk is " + diskGib + " GiB");
        }
    }

    public VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
            BootImage image, List<VmNic> nics, String netns, TenantNetworking networking, String diskDir) {
        this(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, networking, diskDir, null, List.of());
    }

    public VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
            BootImage image, List<VmNic> nics, String netns, TenantNetworking networking) {
        this(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, networking, null);
    }

    public VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
            BootImage image, List<VmNic> nics, String netns) {
        this(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, null, null);
    }

    /** A VM without network interfaces. */
    public VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
            BootImage image) {
        this(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, List.of(), null, null, null);
    }

    /** This spec with its NICs resolved to host TAPs in {@code netns}. */
    public VmRuntimeSpec withNics(List<VmNic> resolved, String namespace) {
        return new VmRuntimeSpec(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, resolved, namespace, networking,
                diskDir, bootVolume, pluggedVolumes);
    }

    /** This spec with its boot disk in {@code dir} (shared storage), or in the VM's directory when null. */
    public VmRuntimeSpec withDiskDir(String dir) {
        return new VmRuntimeSpec(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, networking, dir,
                bootVolume, pluggedVolumes);
    }

    /** This spec booting from {@code volume} (null: the per-VM overlay). */
    public VmRuntimeSpec withBootVolume(VolumeOnHost volume) {
        return new VmRuntimeSpec(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, networking, diskDir,
                volume, pluggedVolumes);
    }

    /** This spec with {@code volumes} on its command line at their slots (for an incoming migration). */
    public VmRuntimeSpec withPluggedVolumes(List<PluggedVolume> volumes) {
        return new VmRuntimeSpec(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, networking, diskDir,
                bootVolume, volumes);
    }
}
