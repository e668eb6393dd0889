package io.enclave.core.vm;

import io.enclave.core.tenant.Usage;

/**
 * The shape a tenant asks for: name, vCPUs, memory (MiB), boot disk (GiB), image name, and where it may
 * run.
 */
public record VmSpec(String name, int vcpus, long memoryMib, long diskGib, String image, VmPlacement placement) {

    public VmSpec {
        placement = placement == null ? VmPlacement.DEFAULT : placement;
    }

    public VmSpec(String name, int vcpus, long memoryMib, long diskGib, String image) {
        this(name, vcpus, memoryMib, diskGib, image, VmPlacement.DEFAULT);
    }

    public Usage usage() {
        return new Usage(vcpus, memoryMib, diskGib, 1);
    }
}
