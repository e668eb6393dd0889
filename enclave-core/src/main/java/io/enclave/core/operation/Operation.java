package io.enclave.core.operation;

import java.time.Instant;

/**
 * An asynchronous change a caller asked for. It finishes when the target reaches
 * {@code targetGeneration} (succeeded) or the reconciler gives up on it (failed, with the reason).
 */
public record Operation(
        String id,
        String tenantId,
        OperationKind kind,
        String targetId,
        long targetGeneration,
        OperationStatus status,
        int progress,
        String message,
        String error,
        Instant createdAt,
        Instant updatedAt) {}
