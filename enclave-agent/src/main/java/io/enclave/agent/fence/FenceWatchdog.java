package io.enclave.agent.fence;

import io.enclave.agent.exec.CommandRunner;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fencing that does not need the agent: the agent renews a lease file every second, and a small watchdog process
 * ({@code fence-watchdog.sh}, started detached so it outlives the agent) kills the host's shared-storage QEMUs
 * once the lease is older than the limit. An agent that died or hangs therefore leaves no VM running that the
 * controller may restart on another host. (The agent fences itself when cut off from the controller; this covers
 * the agent being gone.) The limit must exceed the time an agent takes to restart, and stay below the
 * controller's host-dead plus fence-wait time.
 */
public final class FenceWatchdog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FenceWatchdog.class);
    static final String SCRIPT = "fence-watchdog.sh";
    private static final Duration RENEW_EVERY = Duration.ofSeconds(1);

    private final Path fenceDir;
    private final ScheduledExecutorService renewer;

    private FenceWatchdog(Path fenceDir) {
        this.fenceDir = fenceDir;
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fence-lease");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Renews the lease now and every second from here on, and makes sure a watchdog for {@code dataDir} with this
     * limit runs (a running one is kept; one with another limit, or none, is replaced by a new one).
     */
    public static FenceWatchdog start(Path dataDir, Duration limit, CommandRunner runner) {
        if (limit.toSeconds() < 2) throw new IllegalArgumentException("the fence watchdog's limit must be 2 s at least");
        Path fenceDir = dataDir.resolve("fence");
        FenceWatchdog watchdog = new FenceWatchdog(fenceDir);
        try {
            Files.createDirectories(fenceDir);
            watchdog.renew();
            watchdog.renewer.scheduleAtFixedRate(watchdog::renewQuietly, RENEW_EVERY.toMillis(), RENEW_EVERY.toMillis(),
                    TimeUnit.MILLISECONDS);
            Path script = fenceDir.resolve(SCRIPT);
            try (InputStream in = FenceWatchdog.class.getResourceAsStream(SCRIPT)) {
                if (in == null) throw new IllegalStateException("the agent's jar lacks " + SCRIPT);
                byte[] wanted = in.readAllBytes();
                if (!Files.exists(script) || !java.util.Arrays.equals(Files.readAllBytes(script), wanted)) {
                    Files.write(script, wanted);
                }
            }
            Optional<ProcessHandle> running = running(fenceDir, dataDir, limit);
            if (running.isPresent()) {
                log.info("fence watchdog {} already watches {} (limit {} s)", running.get().pid(), dataDir, limit.toSeconds());
            } else {
                // setsid -f: a session of its own, so it outlives the agent and is no child the agent waits for
                runner.runChecked(List.of("setsid", "-f", "sh", script.toString(), dataDir.toString(),
                        Long.toString(limit.toSeconds())), Duration.ofSeconds(10));
                log.info("fence watchdog started for {}: kills its shared-storage QEMUs when the agent is gone for {} s",
                        dataDir, limit.toSeconds());
            }
            return watchdog;
        } catch (IOException e) {
            watchdog.close();
            throw new UncheckedIOException("cannot set up the fence watchdog in " + fenceDir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            watchdog.close();
            throw e;
        }
    }

    /** The watchdog its pidfile names, if alive and watching this data directory with this limit. */
    static Optional<ProcessHandle> running(Path fenceDir, Path dataDir, Duration limit) throws IOException {
        Path pidFile = fenceDir.resolve("watchdog.pid");
        if (!Files.exists(pidFile)) return Optional.empty();
        long pid;
        try {
            pid = Long.parseLong(Files.readString(pidFile).strip());
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        String expected = fenceDir.resolve(SCRIPT) + " " + dataDir + " " + limit.toSeconds();
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(p -> p.info().commandLine().map(c -> c.endsWith(expected)).orElse(false));
    }

    private void renew() throws IOException {
        Path lease = fenceDir.resolve("lease");
        if (!Files.exists(lease)) Files.createFile(lease);
        Files.setLastModifiedTime(lease, FileTime.from(Instant.now()));
    }

    private void renewQuietly() {
        try {
            renew();
        } catch (IOException | RuntimeException e) {
            log.error("cannot renew the fence lease in {} (the watchdog kills this host's shared-storage VMs if this "
                    + "goes on): {}", fenceDir, e.getMessage());
        }
    }

    /** Stops renewing (the watchdog stays: an agent that stops for good must leave its shared-storage VMs fenced). */
    @Override
    public void close() {
        renewer.shutdownNow();
    }
}
