package io.enclave.core.storage;

import java.util.List;

/** A named group of devices on one host; a volume's copies are placed on distinct devices of its pool. */
public record StoragePool(String id, String name, String hostId, List<String> deviceIds) {
    public StoragePool {
        deviceIds = List.copyOf(deviceIds);
    }
}
