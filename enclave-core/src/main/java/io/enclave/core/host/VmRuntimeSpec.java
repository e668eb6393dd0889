package io.enclave.core.host;

import io.enclave.core.network.TenantNetworking;
import java.util.List;

/**
 * Everything a host agent needs to create and run one VM. {@code nics} are TAPs in the network namespace
 * {@code netns}, in which QEMU then runs (null: the host's namespace, and no NICs). The controller does
 * not know host names of TAPs: it sends {@code networking}, the tenant's networking with this VM's NICs,
 * and the host agent resolves it to {@code nics} and {@code netns}.
 */
public record VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
        BootImage image, List<VmNic> nics, String netns, TenantNetworking networking) {

    public VmRuntimeSpec {
        nics = nics == null ? List.of() : List.copyOf(nics);
    }

    public VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
            BootImage image, List<VmNic> nics, String netns) {
        this(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, nics, netns, null);
    }

    /** A VM without network interfaces. */
    public VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
            BootImage image) {
        this(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, List.of(), null, null);
    }

    /** This spec with its NICs resolved to host TAPs in {@code netns}. */
    public VmRuntimeSpec withNics(List<VmNic> resolved, String namespace) {
        return new VmRuntimeSpec(vmId, tenantId, name, vcpus, memoryMib, diskGib, image, resolved, namespace, networking);
    }
}
