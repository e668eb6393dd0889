package io.enclave.agent.migration;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.core.host.MigrationProgress;

/** QEMU's view of a migration ({@code query-migrate}, {@code query-jobs}) as the platform's {@link MigrationProgress}. */
public final class MigrationStatus {

    private MigrationStatus() {}

    /** Maps QEMU's many migration states onto active / completed / failed / cancelled. */
    public static String status(String qemuStatus) {
        return switch (qemuStatus) {
            case "completed" -> MigrationProgress.COMPLETED;
            case "failed" -> MigrationProgress.FAILED;
            case "cancelled" -> MigrationProgress.CANCELLED;
            // none, setup, active, cancelling, pre-switchover, device, wait-unplug, postcopy-*, colo
            default -> MigrationProgress.ACTIVE;
        };
    }

    /** The RAM phase, from the {@code query-migrate} reply of the source. */
    public static MigrationProgress fromQueryMigrate(JsonNode info) {
        JsonNode ram = info.path("ram");
        String qemuStatus = info.path("status").asText("none");
        // A QEMU that itself came in by migration reports that incoming one ("completed", no total-time) until
        // its own outgoing migration has connected: not this migration's end. And QEMU 7.2 sets "completed" a
        // moment before it fills in the times (total-time 0 then): not final yet either.
        if ("completed".equals(qemuStatus) && !info.has("total-time")) qemuStatus = "setup";
        if ("completed".equals(qemuStatus) && info.path("total-time").asLong(0) == 0) qemuStatus = "device";
        String error = info.hasNonNull("error-desc") ? info.get("error-desc").asText() : null;
        if (error == null && "failed".equals(qemuStatus)) error = "QEMU reports the migration failed";
        return new MigrationProgress(status(qemuStatus), info.path("total-time").asLong(0), info.path("downtime").asLong(0),
                ram.path("transferred").asLong(0), ram.path("remaining").asLong(0), error);
    }

    /** The disk-mirror phase, from the jobs' {@code query-jobs} entries (none: not created yet), added up. */
    public static MigrationProgress fromMirrorJobs(java.util.Collection<JsonNode> jobs) {
        long done = 0;
        long total = 0;
        for (JsonNode job : jobs) {
            done += job.path("current-progress").asLong(0);
            total += job.path("total-progress").asLong(0);
        }
        return new MigrationProgress(MigrationProgress.ACTIVE, 0, 0, done, Math.max(0, total - done), null);
    }
}
