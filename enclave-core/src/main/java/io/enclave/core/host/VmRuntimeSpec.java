package io.enclave.core.host;

import io.enclave.core.network.TenantNetworking;
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
 */
public record VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
        BootImage image, List<VmNic> nics, String netns, TenantNetworking networking, String diskDir) {

    public VmRuntimeSpec {
        nics = nics == null ? List.of() : List.copyOf(nics);
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
                diskDir);
    }

    /** This spec with its boot disk in {@code dir} (shared storage), or in the VM's directory when null. */
    public VmRuntimeSpec withDiskDir(String dir) {
        return new VmRuntimeSpec(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, networking, dir);
    }
}
