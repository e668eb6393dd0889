package io.enclave.agent.storage;

import io.enclave.core.storage.DeviceHealth;
import java.nio.file.Path;

/** A device as last probed: filesystem size and use (statvfs), health, and the reason when failed. */
public record DeviceStatus(String deviceId, Path dir, long capacityBytes, long usedBytes, long availableBytes,
                           DeviceHealth health, String problem) {}
