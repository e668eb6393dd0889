package io.enclave.core.storage;

import java.time.Instant;

/** A point-in-time snapshot of a volume, kept inside every copy (a qcow2 internal snapshot). */
public record VolumeSnapshot(String name, Instant createdAt) {}
