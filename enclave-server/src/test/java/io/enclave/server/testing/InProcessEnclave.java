package io.enclave.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.image.ImageLibrary;
import io.enclave.agent.network.FirewallFormsDriver;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.appliance.ApplianceNetworkDriver;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.agent.storage.QemuStorageDriver;
import io.enclave.controller.Controller;
import io.enclave.controller.persistence.Database;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A whole Enclave (controller + real QEMU host agent + H2 or PostgreSQL) in the test's JVM, on a free
 * port, in its own temporary directory. Closing it removes every VM it made from the host.
 */
public final class InProcessEnclave implements AutoCloseable {
    public static final String TINY_IMAGE = "tiny";

    public final Path dir;
    public final QemuHostAgent agent;
    public final FirewallFormsDriver network;
    public final Controller controller;
    public final TestApi admin;

    private InProcessEnclave(Path dir, QemuHostAgent agent, FirewallFormsDriver network, Controller controller,
            TestApi admin) {
        this.network = network;
        this.dir = dir;
        this.agent = agent;
        this.controller = controller;
        this.admin = admin;
    }

    /** With the tiny image only (no guest boots from it): for tests that need no running guest. */
    public static InProcessEnclave start() {
        return start(false, null);
    }

    public static InProcessEnclave start(boolean withDefaultImage, String jdbcUrl) {
        return start(withDefaultImage, jdbcUrl, null);
    }

    /** @param netPrefix with tenant networking: the name prefix of every namespace and interface it makes */
    public static InProcessEnclave start(boolean withDefaultImage, String jdbcUrl, String netPrefix) {
        try {
            Path dir = Files.createTempDirectory(Path.of("/tmp"), "enc-");
            // dnsmasq drops to user nobody and re-reads its lease files there: the tree must be traversable.
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Path images = Files.createDirectories(dir.resolve("images"));
            makeTinyImage(images.resolve(TINY_IMAGE));
            if (withDefaultImage) Files.createSymbolicLink(images.resolve("default"), GuestImages.ensureDefault());
            ProcessCommandRunner runner = new ProcessCommandRunner();
            FirewallFormsDriver network = netPrefix == null ? null : new FirewallFormsDriver(
                    new LinuxNetworkDriver(runner, dir.resolve("network"), netPrefix),
                    new ApplianceNetworkDriver(runner, dir.resolve("network-appliance"), netPrefix,
                            GuestImages.ensureFirewall(), "qemu-system-x86_64", 160, 1, Duration.ofMinutes(3)));
            QemuHostAgent agent = new QemuHostAgent(QemuHostAgent.localHostInfo("host-" + dir.getFileName().toString()
                    .replaceAll("[^a-z0-9]", "").toLowerCase(), "test-host", Accelerator.TCG),
                    dir.resolve("vms"), runner, Accelerator.TCG, "qemu-system-x86_64", network, new QemuStorageDriver(runner));
            Database db = Database.open(jdbcUrl != null ? jdbcUrl : Database.h2Url(dir), null, null);
            Controller.Settings s = Controller.Settings.defaults(0).withResyncEvery(Duration.ofSeconds(2));
            Controller controller = new Controller(db, new ImageLibrary(images, runner), s);
            controller.addHost(agent);
            String token = controller.tenants().bootstrapAdminToken();
            controller.start();
            return new InProcessEnclave(dir, agent, network, controller,
                    new TestApi("http://127.0.0.1:" + controller.port(), token));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates a tenant with the given quota and returns an API client holding a token of that tenant. */
    public TestApi tenant(String name, int vcpus, long memoryMib, long diskGib, int vms) {
        TestApi.Response t = admin.post("/v1/tenants", Map.of("name", name,
                "quota", Map.of("vcpus", vcpus, "memoryMib", memoryMib, "diskGib", diskGib, "vms", vms)));
        if (t.status() != 201) throw new IllegalStateException("tenant create failed: " + t);
        TestApi.Response tok = admin.post("/v1/tenants/" + t.get("id").asText() + "/tokens", Map.of("name", "test"));
        if (tok.status() != 201) throw new IllegalStateException("token create failed: " + tok);
        return admin.withToken(tok.get("token").asText());
    }

    public static String tenantIdOf(TestApi api) {
        return api.get("/v1/whoami").get("tenantId").asText();
    }

    /** A VM create body. */
    public static Map<String, Object> vm(String name, int vcpus, long memoryMib, long diskGib, String image, boolean start) {
        return Map.of("name", name, "vcpus", vcpus, "memoryMib", memoryMib, "diskGib", diskGib, "image", image,
                "start", start);
    }

    /** Waits until the operation finishes and returns it. */
    public static JsonNode awaitOperation(TestApi api, String operationId, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            TestApi.Response r = api.get("/v1/operations/" + operationId);
            String status = r.get("status").asText();
            if (status.equals("succeeded") || status.equals("failed")) return r.json();
            if (System.nanoTime() > deadline) throw new AssertionError("operation " + operationId + " not finished: " + r);
            sleep(200);
        }
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The tiny image in {@code imagesDir}, for tests that build their own controller. */
    public static void makeTinyImageForTests(Path imagesDir) throws IOException {
        makeTinyImage(imagesDir.resolve(TINY_IMAGE));
    }

    /** A firmware-boot qcow2 with no OS: real for QEMU, cheap, and boots nothing. */
    static void makeTinyImage(Path imageDir) throws IOException {
        Files.createDirectories(imageDir);
        new ProcessCommandRunner().runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2",
                imageDir.resolve("disk.qcow2").toString(), "64M"), Duration.ofSeconds(30));
        Files.writeString(imageDir.resolve("manifest.json"),
                "{\"name\":\"" + TINY_IMAGE + "\",\"disk\":\"disk.qcow2\",\"diskFormat\":\"qcow2\",\"guestAgent\":false}");
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        List<String> tenants = controller.store().jdbi().withHandle(h -> controller.store().firewalls().tenantsWithFirewall(h));
        controller.close();
        for (String vmId : agent.listVms()) {
            try {
                agent.destroy(vmId);
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (network != null) {
            try {
                tenants.forEach(network::removeTenant);
                network.removePublicNetwork();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        deleteTree(dir);
        if (failure != null) throw failure;
    }

    public static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new IllegalStateException("cannot remove " + dir, e);
        }
    }
}
