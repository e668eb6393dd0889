package io.enclave.core.tenant;

import java.time.Instant;

public record Tenant(String id, String name, Quota quota, Instant createdAt) {}
