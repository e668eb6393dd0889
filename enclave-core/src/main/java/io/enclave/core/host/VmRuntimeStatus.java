package io.enclave.core.host;

import java.time.Instant;

/**
 * One VM as its host sees it now.
 *
 * @param startedAt       when the current QEMU process (or the last reset) began, if running
 * @param stopRequestedAt when a graceful power-down was asked, if one is pending
 * @param guestReady      whether the guest agent answered since the last boot
 */
public record VmRuntimeStatus(String vmId, RuntimeState state, boolean guestReady, Instant startedAt,
        Instant stopRequestedAt, String detail) {

    public static VmRuntimeStatus absent(String vmId) {
        return new VmRuntimeStatus(vmId, RuntimeState.ABSENT, false, null, null, null);
    }

    public boolean processAlive() {
        return switch (state) {
            case RUNNING, PAUSED, GUEST_SHUTDOWN, GUEST_PANICKED -> true;
            case ABSENT, DEFINED, PROCESS_DIED -> false;
        };
    }
}
