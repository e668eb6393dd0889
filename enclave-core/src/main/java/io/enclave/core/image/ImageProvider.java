package io.enclave.core.image;

import java.util.List;

/** Where images live on the hosts: what is there, and adding one from a file on the host. */
public interface ImageProvider {

    List<ImageFiles> scan();

    /** Copies a qcow2 or raw file that is on the host into the image library. */
    ImageFiles importDisk(String name, String path, String kernel, String initrd, String cmdline, boolean guestAgent);
}
