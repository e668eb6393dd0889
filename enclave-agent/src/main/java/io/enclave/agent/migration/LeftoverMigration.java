package io.enclave.agent.migration;

import io.enclave.agent.exec.Pause;
import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.agent.qemu.VmFiles;
import io.enclave.core.host.MigrationProgress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An outgoing migration that an earlier process of this agent started, as its QEMU shows it: the relays and the
 * driving thread died with that process, so QEMU's migration stream broke, and the disk mirror's job and NBD
 * node may still be in the QEMU. Reports how it ended (from QEMU's run state and {@code query-migrate}) and
 * removes what the mirror left, so that the VM can migrate again.
 */
public final class LeftoverMigration {
    private static final Logger log = LoggerFactory.getLogger(LeftoverMigration.class);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration MIRROR_GONE_TIMEOUT = Duration.ofSeconds(30);
    static final String RESTARTED = "the agent of the source host restarted during the migration";

    private LeftoverMigration() {}

    /**
     * How the migration a previous agent process started stands; empty when the QEMU shows none. A migration that
     * failed or stopped in its disk phase has its mirror leftovers removed first.
     */
    public static Optional<MigrationProgress> find(String vmId, VmFiles files) {
        QmpClient qmp = new QmpClient(files.qmpSocket());
        JsonNode info = qmp.execute("query-migrate");
        MigrationProgress ram = MigrationStatus.fromQueryMigrate(info);
        String qemuStatus = info.path("status").asText("none");
        if (MigrationProgress.COMPLETED.equals(ram.status())) {
            // fromQueryMigrate only reports "completed" for an outgoing migration (it has a total-time); the
            // source QEMU then stays paused (postmigrate) and the destination holds the VM.
            return Optional.of(ram);
        }
        if (!"none".equals(qemuStatus) && !ram.finished() && info.has("total-time")) {
            return Optional.of(ram); // still sending into a relay that is gone: it fails in a moment
        }
        String mirror = clearMirror(vmId, qmp);
        if (mirror != null) {
            return Optional.of(failed(RESTARTED + " (disk mirror: " + mirror + ")"));
        }
        if (MigrationProgress.FAILED.equals(ram.status()) || MigrationProgress.CANCELLED.equals(ram.status())) {
            return Optional.of(failed(RESTARTED + " (QEMU: " + qemuStatus + (ram.error() == null ? "" : ", " + ram.error()) + ")"));
        }
        return Optional.empty();
    }

    private static MigrationProgress failed(String why) {
        return new MigrationProgress(MigrationProgress.FAILED, 0, 0, 0, 0, why);
    }

    /**
     * Removes the mirror jobs and their NBD target nodes if the QEMU still has them; returns what the jobs showed
     * (their status and error), or null if there was nothing. Only for a QEMU whose migration no thread drives.
     */
    public static String clearMirror(String vmId, QmpClient qmp) {
        List<String> shown = new ArrayList<>();
        List<JsonNode> jobs = jobs(qmp);
        for (JsonNode job : jobs) {
            String status = job.path("status").asText();
            shown.add(job.path("id").asText() + " " + status + (job.hasNonNull("error") ? ": " + job.get("error").asText() : ""));
            if (!"concluded".equals(status) && !"null".equals(status)) {
                qmp.execute("block-job-cancel", Map.of("device", job.path("id").asText(), "force", true));
            }
        }
        long deadline = System.nanoTime() + MIRROR_GONE_TIMEOUT.toNanos();
        while (!(jobs = jobs(qmp)).isEmpty()) {
            boolean dismissed = false;
            for (JsonNode job : jobs) {
                if ("concluded".equals(job.path("status").asText())) {
                    qmp.execute("job-dismiss", Map.of("id", job.path("id").asText()));
                    dismissed = true;
                }
            }
            if (dismissed) continue;
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("vm " + vmId + ": the disk mirrors left by the previous agent process did"
                        + " not end within " + MIRROR_GONE_TIMEOUT.toSeconds() + " s: " + jobs);
            }
            Pause.sleep(POLL);
        }
        for (JsonNode node : qmp.execute("query-named-block-nodes", Map.of("flat", true))) {
            String name = node.path("node-name").asText();
            if (name.startsWith(MigratingDisk.TARGET_PREFIX)) {
                qmp.execute("blockdev-del", Map.of("node-name", name));
                shown.add("target node " + name + " was left");
            }
        }
        if (shown.isEmpty()) return null;
        String what = String.join(", ", shown);
        log.info("vm {}: removed the disk mirrors left by the previous agent process ({})", vmId, what);
        return what;
    }

    /** The migration mirror jobs in the QEMU (a volume resync's jobs have other names). */
    private static List<JsonNode> jobs(QmpClient qmp) {
        List<JsonNode> mine = new ArrayList<>();
        for (JsonNode job : qmp.execute("query-jobs")) {
            if (job.path("id").asText().startsWith(MigratingDisk.JOB_PREFIX)) mine.add(job);
        }
        return mine;
    }
}
