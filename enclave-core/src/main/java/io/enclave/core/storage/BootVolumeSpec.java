package io.enclave.core.storage;

/**
 * What a tenant asks for when a new VM should boot from a volume: the pool (name or id) and the number of
 * copies. The volume's name and size follow from the VM ({@link #volumeName}, the VM's {@code diskGib}).
 * Boxed fields so a missing one is reported, not defaulted.
 */
public record BootVolumeSpec(String pool, Integer copies) {

    /** The boot volume of VM {@code vmName} is the tenant's volume {@code <vm-name>-boot}. */
    public static String volumeName(String vmName) {
        return vmName + "-boot";
    }
}
