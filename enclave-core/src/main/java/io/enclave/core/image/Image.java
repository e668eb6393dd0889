package io.enclave.core.image;

import io.enclave.core.host.BootImage;
import java.time.Instant;

/** A bootable image that VMs are created from; available to every tenant. */
public record Image(String id, String name, BootImage boot, long virtualSizeBytes, Instant createdAt) {}
