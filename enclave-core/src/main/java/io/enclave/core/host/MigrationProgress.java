package io.enclave.core.host;

/**
 * One outgoing live migration as its source host sees it.
 *
 * @param status           "active" (copying the disk or RAM), "completed", "failed" or "cancelled"
 * @param totalMs          time since the migration started (QEMU's total-time), 0 before RAM copying starts
 * @param downtimeMs       how long the guest was paused for the switch-over, once completed
 * @param transferredBytes bytes sent so far in the current phase (disk while mirroring, then RAM)
 * @param remainingBytes   bytes left in the current phase, as far as known
 * @param error            why it failed, else null
 */
public record MigrationProgress(String status, long totalMs, long downtimeMs, long transferredBytes,
        long remainingBytes, String error) {
    public static final String ACTIVE = "active";
    public static final String COMPLETED = "completed";
    public static final String FAILED = "failed";
    public static final String CANCELLED = "cancelled";

    public boolean finished() {
        return !ACTIVE.equals(status);
    }
}
