package io.enclave.core.storage;

/** What a tenant asks for when creating a volume. Boxed fields so a missing one is reported, not defaulted. */
public record VolumeSpec(String name, String pool, Long sizeGib, Integer copies) {}
