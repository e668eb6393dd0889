package io.enclave.core.host;

/** Everything a host agent needs to create and run one VM. */
public record VmRuntimeSpec(String vmId, String tenantId, String name, int vcpus, long memoryMib, long diskGib,
        BootImage image) {}
