package io.enclave.core.vm;

/**
 * Where a VM may run. {@code highlyAvailable}: restarted on another host when its host dies (needs shared
 * storage). {@code antiAffinityGroup}: a tenant-chosen name; no two VMs of the tenant in one group share a
 * host. {@code sharedStorage}: the boot disk lives on storage several hosts reach, so the VM can move
 * without copying its disk.
 */
public record VmPlacement(boolean highlyAvailable, String antiAffinityGroup, boolean sharedStorage) {
    public static final VmPlacement DEFAULT = new VmPlacement(false, null, false);
}
