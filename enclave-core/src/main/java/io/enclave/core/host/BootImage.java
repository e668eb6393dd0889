package io.enclave.core.host;

/**
 * Where a VM boots from on the host: a base disk (the VM's disk is a copy-on-write overlay of it) and,
 * for direct kernel boot, a kernel, an initrd and a command line. Without a kernel the guest boots from
 * its disk through the firmware.
 */
public record BootImage(String diskPath, String diskFormat, String kernelPath, String initrdPath, String cmdline,
        boolean guestAgent) {

    public boolean directKernelBoot() {
        return kernelPath != null;
    }
}
