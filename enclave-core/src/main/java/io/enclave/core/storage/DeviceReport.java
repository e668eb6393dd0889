package io.enclave.core.storage;

/**
 * A device as its host last measured it: filesystem size and use, health, and the reason when it failed.
 */
public record DeviceReport(long capacityBytes, long usedBytes, long availableBytes, DeviceHealth health,
                           String problem) {}
