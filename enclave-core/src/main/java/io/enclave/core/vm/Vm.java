package io.enclave.core.vm;

import java.time.Instant;

/**
 * A VM as recorded by the controller: the desired state with its generation, and the last observed
 * status with the generation it reflects.
 */
public record Vm(
        String id,
        String tenantId,
        VmSpec spec,
        String hostId,
        DesiredState desiredState,
        long generation,
        boolean rebootPending,
        int stopTimeoutSeconds,
        VmPhase phase,
        long observedGeneration,
        boolean guestReady,
        String message,
        Instant createdAt,
        Instant updatedAt) {

    public boolean converged() {
        return observedGeneration >= generation;
    }
}
