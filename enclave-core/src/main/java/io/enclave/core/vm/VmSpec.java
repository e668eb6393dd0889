package io.enclave.core.vm;

import io.enclave.core.tenant.Usage;

/** The shape a tenant asks for: name, vCPUs, memory (MiB), boot disk (GiB) and image name. */
public record VmSpec(String name, int vcpus, long memoryMib, long diskGib, String image) {
    public Usage usage() {
        return new Usage(vcpus, memoryMib, diskGib, 1);
    }
}
