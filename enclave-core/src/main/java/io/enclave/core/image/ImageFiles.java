package io.enclave.core.image;

import io.enclave.core.host.BootImage;

/** An image as found on a host: its name, how to boot it, and its disk's virtual size. */
public record ImageFiles(String name, BootImage boot, long virtualSizeBytes) {}
