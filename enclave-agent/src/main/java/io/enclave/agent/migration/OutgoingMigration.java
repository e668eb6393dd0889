package io.enclave.agent.migration;

import io.enclave.agent.exec.Pause;
import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.agent.qemu.QmpException;
import io.enclave.agent.qemu.VmFiles;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.MigrationProgress;
import io.enclave.core.host.MigrationTarget;
import io.enclave.tls.Pem;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Source side of one live migration of a running VM. With copied storage the boot disk is first mirrored
 * ({@code blockdev-mirror sync=top}: only the overlay's data, the base image is on both hosts) into the
 * destination's NBD export; once the mirror is ready the RAM is migrated; once that completed the mirror is
 * cancelled, which after "ready" leaves the target a consistent copy. QEMU's connections go to unix sockets in
 * the VM's directory and relays carry them over TLS to the destination's TCP ports (pinned to the target's
 * certificate, the target's token sent first: {@link TcpRelay}). A virtual thread drives the phases;
 * {@link #progress()} and {@link #cancel()} may be called from any thread meanwhile.
 */
public final class OutgoingMigration {
    private static final Logger log = LoggerFactory.getLogger(OutgoingMigration.class);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Duration MIRROR_CANCEL_TIMEOUT = Duration.ofSeconds(60);

    private final String vmId;
    private final VmFiles files;
    /** What the mirrors copy when the storage is copied: the boot disk and any hot-plugged volumes. */
    private final List<MigratingDisk> disks;
    private final MigrationTarget target;
    private final boolean copyStorage;
    private final QmpClient qmp;
    private final List<TcpRelay> relays = new ArrayList<>();
    private Thread driver;
    private boolean mirrorStarted;
    private boolean migrating;
    private boolean cancelRequested;
    private volatile MigrationProgress result;

    private OutgoingMigration(String vmId, VmFiles files, List<MigratingDisk> disks, MigrationTarget target,
            boolean copyStorage) {
        this.vmId = vmId;
        this.files = files;
        this.disks = List.copyOf(disks);
        this.target = target;
        this.copyStorage = copyStorage;
        this.qmp = new QmpClient(files.qmpSocket());
    }

    /**
     * Opens the relays, starts a mirror of each of the {@code disks} if copying storage, and leaves the rest to a
     * virtual thread.
     */
    public static OutgoingMigration start(String vmId, VmFiles files, List<MigratingDisk> disks, MigrationTarget target,
            boolean copyStorage) {
        if (copyStorage && target.nbdPort() == null) {
            throw new EnclaveException.InvalidRequest("target.nbdPort", "copying storage needs the destination's NBD port");
        }
        if (target.certificatePem() == null) {
            throw new EnclaveException.InvalidRequest("target.certificatePem", "the destination's migration certificate is missing");
        }
        X509Certificate pinned;
        try {
            pinned = Pem.certificate(target.certificatePem());
        } catch (IllegalArgumentException e) {
            throw new EnclaveException.InvalidRequest("target.certificatePem", e.getMessage());
        }
        byte[] token;
        try {
            token = target.token() == null ? null : HexFormat.of().parseHex(target.token());
        } catch (IllegalArgumentException e) {
            token = null;
        }
        if (token == null || token.length != TcpRelay.TOKEN_BYTES) {
            throw new EnclaveException.InvalidRequest("target.token", "the migration token must be " + TcpRelay.TOKEN_BYTES
                    + " bytes in hex");
        }
        OutgoingMigration m = new OutgoingMigration(vmId, files, disks, target, copyStorage);
        try {
            m.relays.add(TcpRelay.unixToTls(vmId, vmId + "-mig-out", files.migrationOutSocket(),
                    new InetSocketAddress(target.address(), target.migrationPort()), pinned, token));
            if (copyStorage) {
                m.relays.add(TcpRelay.unixToTls(vmId, vmId + "-nbd-out", files.nbdOutSocket(),
                        new InetSocketAddress(target.address(), target.nbdPort()), pinned, token));
            }
            if (copyStorage) m.startMirror();
            // QEMU's defaults on purpose (downtime-limit 300 ms, max-bandwidth 128 MiB/s): on QEMU 7.2 with TCG a
            // 50 ms downtime-limit left 4 of 57 migrated guests hung or panicked, the defaults 0 of 60
            // (docs/benchmarks.md). Revisit with KVM hosts.
        } catch (RuntimeException e) {
            m.cleanUp(true);
            throw new IllegalStateException("vm " + vmId + ": cannot start migrating to " + target.address() + ": "
                    + e.getMessage(), e);
        }
        m.driver = Thread.ofVirtual().name("migrate-" + vmId).start(m::drive);
        return m;
    }

    private void startMirror() {
        mirrorStarted = true;
        for (MigratingDisk disk : disks) {
            qmp.execute("blockdev-add", Map.of("driver", "nbd", "node-name", disk.targetNode(),
                    "server", Map.of("type", "unix", "path", files.nbdOutSocket().toString()),
                    "export", disk.export()));
            // write-blocking: once ready, every guest write reaches the target before it completes, so the mirror
            // never falls behind while RAM is copied and the switch-over has no disk backlog.
            // sync=top copies what is above the backing image, which both hosts have; a volume's top node (a
            // quorum, or a qcow2 without backing file) has nothing below it, so all of its data is copied.
            qmp.execute("blockdev-mirror", Map.of("job-id", disk.job(), "device", disk.node(),
                    "target", disk.targetNode(), "sync", "top", "copy-mode", "write-blocking", "auto-dismiss", false));
        }
    }

    public MigrationTarget target() {
        return target;
    }

    public boolean copyStorage() {
        return copyStorage;
    }

    private void drive() {
        MigrationProgress outcome;
        try {
            outcome = copyStorage ? awaitMirrorReady() : null;
            if (outcome == null) {
                synchronized (this) {
                    if (cancelRequested) {
                        outcome = cancelled();
                    } else {
                        qmp.execute("migrate", Map.of("uri", "unix:" + files.migrationOutSocket()));
                        migrating = true;
                    }
                }
            }
            if (outcome == null) outcome = awaitMigration();
            boolean completed = MigrationProgress.COMPLETED.equals(outcome.status());
            if (completed && mirrorStarted) {
                // The source is paused now; cancelling a ready mirror first copies what is still dirty.
                finishMirror(false);
            }
            cleanUp(!completed);
            if (completed) relays.forEach(r -> r.drainAndClose(Duration.ofSeconds(30)));
            log.info("vm {}: migration to {} {} (total {} ms, downtime {} ms{})", vmId, target.address(),
                    outcome.status(), outcome.totalMs(), outcome.downtimeMs(),
                    outcome.error() == null ? "" : ", " + outcome.error());
        } catch (RuntimeException e) {
            log.warn("vm {}: migration to {} failed: {}", vmId, target.address(), e.getMessage());
            outcome = new MigrationProgress(MigrationProgress.FAILED, 0, 0, 0, 0, "vm " + vmId + ": " + e.getMessage());
            try {
                cleanUp(true);
            } catch (RuntimeException cleanup) {
                log.warn("vm {}: cleaning up after the failed migration: {}", vmId, cleanup.getMessage());
                outcome = new MigrationProgress(MigrationProgress.FAILED, 0, 0, 0, 0, outcome.error()
                        + "; cleaning up: " + cleanup.getMessage());
            }
        }
        result = outcome;
    }

    /** Null once every mirror is ready; the outcome if one failed or the migration was cancelled first. */
    private MigrationProgress awaitMirrorReady() {
        while (true) {
            synchronized (this) {
                if (cancelRequested) return cancelled();
            }
            Map<String, JsonNode> jobs = jobs();
            boolean allReady = true;
            for (MigratingDisk disk : disks) {
                JsonNode job = jobs.get(disk.job());
                if (job == null) throw new IllegalStateException("the mirror job of " + disk.export() + " vanished");
                String status = job.path("status").asText();
                if ("concluded".equals(status) || "aborting".equals(status) || "null".equals(status)) {
                    throw new IllegalStateException("the mirror of " + disk.export() + " stopped before it was ready: "
                            + job.path("error").asText("no error given"));
                }
                allReady &= "ready".equals(status);
            }
            if (allReady) return null;
            Pause.sleep(POLL.multipliedBy(5));
        }
    }

    private MigrationProgress awaitMigration() {
        while (true) {
            MigrationProgress p = MigrationStatus.fromQueryMigrate(qmp.execute("query-migrate"));
            if (p.finished()) return p;
            Pause.sleep(POLL);
        }
    }

    private MigrationProgress cancelled() {
        return new MigrationProgress(MigrationProgress.CANCELLED, 0, 0, 0, 0, null);
    }

    /** This migration's mirror jobs in {@code query-jobs}, by job id. */
    private Map<String, JsonNode> jobs() {
        Map<String, JsonNode> mine = new java.util.HashMap<>();
        for (JsonNode job : qmp.execute("query-jobs")) {
            String id = job.path("id").asText();
            if (disks.stream().anyMatch(d -> d.job().equals(id))) mine.put(id, job);
        }
        return mine;
    }

    /**
     * Cancels the mirrors (forced: at once, without copying what is dirty; otherwise a ready mirror first copies
     * what is still dirty) and waits until they are gone.
     */
    private void finishMirror(boolean force) {
        for (JsonNode job : jobs().values()) {
            if (!"concluded".equals(job.path("status").asText())) {
                qmp.execute("block-job-cancel", Map.of("device", job.path("id").asText(), "force", force));
            }
        }
        long deadline = System.nanoTime() + MIRROR_CANCEL_TIMEOUT.toNanos();
        String error = null;
        while (true) {
            Map<String, JsonNode> left = jobs();
            if (left.isEmpty()) break;
            for (JsonNode job : left.values()) {
                if ("concluded".equals(job.path("status").asText())) {
                    qmp.execute("job-dismiss", Map.of("id", job.path("id").asText()));
                    if (job.hasNonNull("error") && error == null) {
                        error = job.path("id").asText() + ": " + job.get("error").asText();
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the disk mirrors did not end within " + MIRROR_CANCEL_TIMEOUT.toSeconds()
                        + " s: " + left.keySet());
            }
            Pause.sleep(POLL);
        }
        if (!force && error != null) throw new IllegalStateException("a disk mirror ended with an error: " + error);
    }

    /**
     * Drops the mirror (forced, if still there) and its NBD node; after a failure also closes the relays (after
     * a completed migration they drain first, see {@link #drive}).
     */
    private void cleanUp(boolean forceMirror) {
        try {
            if (mirrorStarted) {
                finishMirror(forceMirror);
                for (JsonNode node : qmp.execute("query-named-block-nodes", Map.of("flat", true))) {
                    String name = node.path("node-name").asText();
                    if (disks.stream().anyMatch(d -> d.targetNode().equals(name))) {
                        qmp.execute("blockdev-del", Map.of("node-name", name));
                    }
                }
                mirrorStarted = false;
            }
        } finally {
            if (forceMirror) relays.forEach(TcpRelay::close);
        }
    }

    public MigrationProgress progress() {
        MigrationProgress done = result;
        if (done != null) return done;
        boolean ramPhase;
        synchronized (this) {
            ramPhase = migrating;
        }
        if (!ramPhase) return MigrationStatus.fromMirrorJobs(jobs().values());
        MigrationProgress p = MigrationStatus.fromQueryMigrate(qmp.execute("query-migrate"));
        if (!p.finished()) return p;
        done = result; // the driver may just have finished
        if (done != null) return done;
        // QEMU is done; the driver is still dropping the mirror and relays: not yet reported as over.
        return new MigrationProgress(MigrationProgress.ACTIVE, p.totalMs(), p.downtimeMs(), p.transferredBytes(),
                p.remainingBytes(), null);
    }

    /** Stops the migration and waits until the source holds its VM alone again; refused once completed. */
    public MigrationProgress cancel(Duration timeout) {
        synchronized (this) {
            cancelRequested = true;
            if (migrating && result == null) {
                try {
                    qmp.execute("migrate_cancel");
                } catch (QmpException e) {
                    throw new IllegalStateException("vm " + vmId + ": migrate_cancel failed: " + e.getMessage(), e);
                }
            }
        }
        try {
            driver.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("vm " + vmId + ": interrupted while cancelling the migration", e);
        }
        MigrationProgress done = result;
        if (done == null) {
            throw new IllegalStateException("vm " + vmId + ": the migration did not stop within " + timeout.toSeconds() + " s");
        }
        if (MigrationProgress.COMPLETED.equals(done.status())) {
            throw new EnclaveException.Conflict("the migration of vm " + vmId + " has already completed: the VM runs on "
                    + target.address() + " now");
        }
        return done;
    }

    /** Waits for the driver (bounded) and closes the relays: the VM is being released or destroyed. */
    public void close(Duration timeout) {
        synchronized (this) {
            cancelRequested = true;
        }
        try {
            driver.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        relays.forEach(TcpRelay::close);
    }
}
