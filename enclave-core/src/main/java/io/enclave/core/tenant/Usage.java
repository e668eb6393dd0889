package io.enclave.core.tenant;

/** What a tenant holds now (or asks to add), in the units of {@link Quota}. */
public record Usage(int vcpus, long memoryMib, long diskGib, int vms) {
    public static final Usage NONE = new Usage(0, 0, 0, 0);
}
