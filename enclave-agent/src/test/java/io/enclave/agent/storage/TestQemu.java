package io.enclave.agent.storage;

import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.qemu.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A QEMU process with QMP and no guest OS, paused before the firmware runs (-S): enough for the block
 * layer, hot-plug, block jobs and HMP qemu-io, at almost no CPU. Killed by {@link #close()}.
 */
final class TestQemu implements AutoCloseable {
    final Path dir;
    final Path qmp;
    final QmpClient client;
    private final Path pidFile;

    private TestQemu(Path dir) {
        this.dir = dir;
        this.qmp = dir.resolve("qmp.sock");
        this.pidFile = dir.resolve("qemu.pid");
        this.client = new QmpClient(qmp);
    }

    static TestQemu start(CommandRunner runner, Path dir, List<String> extraArgs) throws IOException {
        Files.createDirectories(dir);
        TestQemu q = new TestQemu(dir);
        String name = "ent4-" + dir.getFileName();
        List<String> argv = new ArrayList<>(List.of("qemu-system-x86_64", "-name", name + ",process=" + name,
                "-machine", "pc", "-accel", "tcg", "-m", "64", "-nodefaults", "-no-user-config", "-display", "none", "-S",
                "-qmp", "unix:" + q.qmp + ",server=on,wait=off", "-pidfile", q.pidFile.toString(), "-daemonize"));
        argv.addAll(extraArgs);
        runner.runChecked(argv, Duration.ofSeconds(30));
        return q;
    }

    /**
     * HMP qemu-io through the guest device's own BlockBackend, as the guest's I/O would go. Its output goes
     * to QEMU's stdout (gone when daemonized), so results are checked by reading back over NBD.
     */
    void qemuIo(String qdevId, String command) {
        String out = client.execute("human-monitor-command", Map.of("command-line",
                "qemu-io -d /machine/peripheral/" + qdevId + "/virtio-backend \"" + command + "\"")).asText();
        if (!out.isBlank()) throw new AssertionError("qemu-io " + command + ": " + out);
    }

    /**
     * Reads through {@code node} inside this QEMU (for a volume: through its quorum, as the guest reads):
     * a read-only NBD export of the node, read by qemu-io with pattern checks. Returns qemu-io's output.
     */
    String readThroughQemu(CommandRunner runner, String node, String... commands) {
        Path sock = dir.resolve("nbd.sock");
        if (!Files.exists(sock)) {
            client.execute("nbd-server-start", Map.of("addr", Map.of("type", "unix", "data", Map.of("path", sock.toString()))));
        }
        client.execute("block-export-add", Map.of("type", "nbd", "id", "x-" + node, "node-name", node, "name", node,
                "writable", false));
        try {
            List<String> argv = new ArrayList<>(List.of("qemu-io", "-r", "-f", "raw"));
            for (String c : commands) {
                argv.add("-c");
                argv.add(c);
            }
            argv.add("nbd+unix:///" + node + "?socket=" + sock);
            var r = runner.run(argv, Duration.ofSeconds(30));
            return r.stdout() + r.stderr();
        } finally {
            client.execute("block-export-del", Map.of("id", "x-" + node));
        }
    }

    List<String> blockDevices() {
        List<String> ids = new ArrayList<>();
        client.execute("query-block").forEach(b -> ids.add(b.path("qdev").asText()));
        return ids;
    }

    @Override
    public void close() {
        try {
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            ProcessHandle.of(pid).ifPresent(p -> {
                p.destroyForcibly();
                p.onExit().orTimeout(5, java.util.concurrent.TimeUnit.SECONDS).exceptionally(e -> null).join();
            });
        } catch (IOException | NumberFormatException e) {
            // never started
        }
    }
}
