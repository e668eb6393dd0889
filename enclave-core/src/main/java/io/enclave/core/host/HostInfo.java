package io.enclave.core.host;

/** A host's identity and capacity as its agent reports it. */
public record HostInfo(String id, String name, int cpus, long memoryMib, String accelerator) {}
