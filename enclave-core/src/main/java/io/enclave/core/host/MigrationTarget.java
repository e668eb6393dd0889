package io.enclave.core.host;

/**
 * Where a destination host waits for one VM's live migration: TCP ports on {@code address} that its agent
 * relays to the waiting QEMU. {@code nbdPort} is the disk's NBD export when the storage is copied, null when
 * the disk is on shared storage.
 */
public record MigrationTarget(String address, int migrationPort, Integer nbdPort) {}
