package io.enclave.server.testing;

import io.enclave.server.ServerMain;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * enclave-server as a separate OS process (controller + host agent), so tests can kill -9 it and
 * start it again on the same data directory.
 */
public final class ServerProcess implements AutoCloseable {
    /** Prefix of every namespace and interface the server process makes. */
    public static final String NET_PREFIX = "enr";
    public final Path dataDir;
    public final Path imagesDir;
    public final int port;
    private Process process;

    public ServerProcess(Path dataDir, Path imagesDir) {
        this.dataDir = dataDir;
        this.imagesDir = imagesDir;
        this.port = freePort();
    }

    public ServerProcess start() {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), ServerMain.class.getName(),
                "--data-dir", dataDir.toString(), "--images-dir", imagesDir.toString(), "--port", Integer.toString(port),
                "--accel", "tcg", "--resync-seconds", "2", "--net-prefix", NET_PREFIX));
        try {
            Files.createDirectories(dataDir);
            process = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("server.log").toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start enclave-server", e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        TestApi probe = new TestApi(baseUrl(), null);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new IllegalStateException("enclave-server exited; see " + dataDir.resolve("server.log"));
            try {
                if (probe.get("/v1/health").status() == 200) return this;
            } catch (IllegalStateException notYet) {
                // not listening yet
            }
            InProcessEnclave.sleep(100);
        }
        throw new IllegalStateException("enclave-server did not answer within 60 s");
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public TestApi admin() {
        try {
            return new TestApi(baseUrl(), Files.readString(dataDir.resolve("admin-token")).strip());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public long pid() {
        return process.pid();
    }

    /** kill -9: no shutdown hook, no cleanup. */
    public void kill9() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
