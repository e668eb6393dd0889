package io.enclave.agent.qemu;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides once whether guests can use KVM. /dev/kvm existing is not enough (on some hosts vCPU setup
 * fails later), so the probe starts a real KVM guest on the firmware and checks it is still running.
 */
public final class AcceleratorProbe {
    private static final Logger log = LoggerFactory.getLogger(AcceleratorProbe.class);

    private AcceleratorProbe() {}

    public static Accelerator probe(CommandRunner runner, String qemuBinary) {
        if (!Files.exists(Path.of("/dev/kvm"))) {
            log.info("no /dev/kvm: guests use TCG (software emulation)");
            return Accelerator.TCG;
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("enclave-kvm-probe");
            Path qmp = dir.resolve("qmp.sock");
            Path pid = dir.resolve("pid");
            CommandResult started = runner.run(List.of(qemuBinary, "-accel", "kvm", "-cpu", "host", "-M", "pc",
                    "-m", "64M", "-nodefaults", "-no-user-config", "-display", "none",
                    "-qmp", "unix:" + qmp + ",server=on,wait=off", "-pidfile", pid.toString(), "-daemonize"),
                    Duration.ofSeconds(20));
            if (!started.ok()) {
                log.info("KVM guest did not start ({}): guests use TCG", started.stderr().strip());
                return Accelerator.TCG;
            }
            Thread.sleep(1500);
            QmpClient client = new QmpClient(qmp);
            String status;
            try {
                status = client.execute("query-status").path("status").asText();
            } catch (QmpException e) {
                status = "gone: " + e.getMessage();
            }
            try {
                client.execute("quit");
            } catch (QmpException ignored) {
                // it may have died already; the status above says so
            }
            boolean works = "running".equals(status);
            log.info("KVM probe guest status '{}': guests use {}", status, works ? "KVM" : "TCG");
            return works ? Accelerator.KVM : Accelerator.TCG;
        } catch (IOException e) {
            log.warn("KVM probe failed: {}; guests use TCG", e.getMessage());
            return Accelerator.TCG;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Accelerator.TCG;
        } finally {
            if (dir != null) deleteQuietly(dir);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.deleteIfExists(f);
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            log.warn("could not remove probe directory {}: {}", dir, e.getMessage());
        }
    }
}
