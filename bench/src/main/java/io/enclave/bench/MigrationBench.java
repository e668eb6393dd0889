package io.enclave.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.fs.FileTrees;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.ExecResult;
import io.enclave.core.host.HostInfo;
import io.enclave.core.host.MigrationProgress;
import io.enclave.core.host.MigrationTarget;
import io.enclave.core.host.VmRuntimeSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * Live migration between two host agents on this machine (separate data directories, relays on 127.0.0.1): a
 * real guest of the default image (TCG) with a counter running, migrated back and forth {@code runs} times per
 * configuration (memory 256 MiB / 1 GiB x shared / copied storage). After every hop the guest must answer and
 * its counter must keep growing, else the hop counts as broken.
 *
 * <p>Per hop: QEMU's total-time and downtime (source side: guest stopped until the last byte was sent);
 * "resume lag": the destination's RESUME event (its timestamp) minus the moment the source's query-migrate first
 * answered completed (polled every 5 ms, so up to ~5 ms late plus the QMP round trip); the guest's pause is
 * about downtime + resume lag. End-to-end: startMigration until the agent
 * reports completed (incl. disk mirror, relay drain, mirror cancel).
 */
public final class MigrationBench {
    static final Path IMAGE = Path.of(System.getenv().getOrDefault("ENCLAVE_IMAGES_DIR", "/var/cache/enclave/images"), "default");

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        List<Long> sizes = args.length > 1 ? List.of(args[1].split(",")).stream().map(Long::parseLong).toList()
                : List.of(256L, 1024L);
        Path root = Files.createTempDirectory(Path.of("/tmp"), "enmb");
        BootImage image = new BootImage(IMAGE.resolve("disk.qcow2").toString(), "qcow2", IMAGE.resolve("vmlinuz").toString(),
                IMAGE.resolve("initrd.img").toString(), "console=ttyS0 root=/dev/vda rw quiet", true);
        QemuHostAgent a = agent(root, "a");
        QemuHostAgent b = agent(root, "b");
        try {
            for (long mib : sizes) {
                for (boolean copy : System.getProperty("bench.modes", "shared,copied").contains("shared")
                        ? (System.getProperty("bench.modes", "shared,copied").contains("copied") ? new boolean[] {false, true} : new boolean[] {false})
                        : new boolean[] {true}) {
                    String vmId = String.format("vm-b%011x", System.nanoTime() & 0xffffffffffL);
                    VmRuntimeSpec spec = new VmRuntimeSpec(vmId, "t-bench", "bench", 1, mib, 1, image)
                            .withDiskDir(copy ? null : root.resolve("shared").resolve(vmId).toString());
                    try {
                        run(root, a, b, spec, copy, runs);
                    } finally {
                        a.destroy(vmId);
                        b.destroy(vmId);
                    }
                }
            }
        } finally {
            FileTrees.delete(root);
        }
    }

    static QemuHostAgent agent(Path root, String name) {
        return new QemuHostAgent(new HostInfo(name, name, 2, 4096, "tcg"), root.resolve(name).resolve("vms"),
                new ProcessCommandRunner(), Accelerator.TCG, "qemu-system-x86_64");
    }

    static void run(Path root, QemuHostAgent a, QemuHostAgent b, VmRuntimeSpec spec, boolean copy, int runs)
            throws Exception {
        String what = String.format(Locale.ROOT, "%d MiB, %s storage", spec.memoryMib(), copy ? "copied" : "shared");
        a.start(spec);
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!a.status(spec.vmId()).guestReady()) {
            if (System.nanoTime() > deadline) throw new IllegalStateException(spec.vmId() + ": guest not ready in 120 s");
            Thread.sleep(250);
        }
        sh(a, spec.vmId(), "dd if=/dev/urandom of=/bench-data bs=1M count=32 2>/dev/null && sync");
        sh(a, spec.vmId(), "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.1; done) </dev/null >/dev/null 2>&1 &");
        Stats total = new Stats(), downtime = new Stats(), lag = new Stats(), pause = new Stats(), endToEnd = new Stats();
        int broken = 0;
        QemuHostAgent from = a, to = b;
        String fromName = "a", toName = "b";
        for (int i = 0; i < runs; i++) {
            MigrationTarget target = to.prepareIncoming(spec, copy, "127.0.0.1");
            Path dstQmp = root.resolve(toName).resolve("vms").resolve(spec.vmId()).resolve("qmp.sock");
            Path srcQmp = root.resolve(fromName).resolve("vms").resolve(spec.vmId()).resolve("qmp.sock");
            QmpClient.Session events = new QmpClient(dstQmp).session();
            CompletableFuture<JsonNode> resume = CompletableFuture.supplyAsync(
                    () -> events.awaitEvent("RESUME", e -> true, Duration.ofMinutes(5)), r -> Thread.ofVirtual().start(r));
            long t0 = System.nanoTime();
            long t0Micros = nowMicros();
            from.startMigration(spec.vmId(), target, copy);
            long srcDoneMicros;
            QmpClient src = new QmpClient(srcQmp);
            // A QEMU that itself came in by migration answers "completed" (its incoming one) until the new
            // migration starts: count only a completed that follows this migration's own setup/active.
            boolean started = false;
            while (true) {
                String status = src.execute("query-migrate").path("status").asText();
                if ("setup".equals(status) || "active".equals(status)) started = true;
                if (started && "completed".equals(status)) {
                    srcDoneMicros = nowMicros();
                    break;
                }
                if ("failed".equals(status) || "cancelled".equals(status)) {
                    throw new IllegalStateException(what + ": migration " + status + ": " + from.migrationProgress(spec.vmId()));
                }
                Thread.sleep(5);
            }
            JsonNode ts = resume.get().path("timestamp");
            events.close();
            long resumeMicros = ts.path("seconds").asLong() * 1_000_000 + ts.path("microseconds").asLong();
            MigrationProgress p;
            while (!(p = from.migrationProgress(spec.vmId())).finished()) Thread.sleep(5);
            long e2e = (System.nanoTime() - t0) / 1_000_000;
            if (!MigrationProgress.COMPLETED.equals(p.status())) throw new IllegalStateException(what + ": " + p);
            to.completeIncoming(spec.vmId());
            from.release(spec.vmId());
            double lagMs = (resumeMicros - srcDoneMicros) / 1000.0;
            if (Boolean.getBoolean("bench.raw")) {
                System.out.printf("raw: srcDone %+d us, resume %+d us after start; resume event %s%n", srcDoneMicros - t0Micros,
                        resumeMicros - t0Micros, ts);
            }
            total.add(p.totalMs());
            downtime.add(p.downtimeMs());
            lag.add(lagMs);
            pause.add(p.downtimeMs() + Math.max(0, lagMs));
            endToEnd.add(e2e);
            boolean healthy = healthy(to, spec.vmId());
            if (!healthy) broken++;
            System.out.printf(Locale.ROOT, "hop %d (%s) %s -> %s: total %d ms, downtime %d ms, resume lag %.1f ms, end-to-end %d ms, guest %s%n",
                    i + 1, what, fromName, toName, p.totalMs(), p.downtimeMs(), lagMs, e2e, healthy ? "ok" : "BROKEN");
            if (!healthy) break;
            QemuHostAgent x = from; from = to; to = x;
            String n = fromName; fromName = toName; toName = n;
        }
        System.out.printf(Locale.ROOT, "RESULT migration %s: hops %d, broken %d | QEMU total %s | downtime %s | resume lag %s "
                        + "| pause (downtime + lag) %s | end-to-end %s%n", what, total.size(), broken, total.summary(" ms"),
                downtime.summary(" ms"), lag.summary(" ms"), pause.summary(" ms"), endToEnd.summary(" ms"));
        // leave the VM where it is: main destroys it on both agents
    }

    static boolean healthy(QemuHostAgent agent, String vmId) throws InterruptedException {
        try {
            long c1 = counter(agent, vmId);
            Thread.sleep(500);
            return counter(agent, vmId) > c1;
        } catch (RuntimeException e) {
            System.out.println("guest check failed: " + e.getMessage());
            return false;
        }
    }

    /** The loop truncates then writes /tmp/c: an empty read is retried. */
    static long counter(QemuHostAgent agent, String vmId) throws InterruptedException {
        for (int attempt = 0; ; attempt++) {
            String value = sh(agent, vmId, "cat /tmp/c").stdout().strip();
            if (!value.isEmpty() || attempt == 5) return Long.parseLong(value);
            Thread.sleep(20);
        }
    }

    static ExecResult sh(QemuHostAgent agent, String vmId, String script) {
        ExecResult r = agent.exec(vmId, List.of("/bin/sh", "-c", script), Duration.ofSeconds(60));
        if (r.exitCode() != 0) throw new IllegalStateException(script + ": exit " + r.exitCode() + " " + r.stderr());
        return r;
    }

    static long nowMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000 + now.getNano() / 1000;
    }
}
