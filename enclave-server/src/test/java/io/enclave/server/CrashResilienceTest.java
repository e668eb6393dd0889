package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.NetNames;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.OutsideWorld;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.ServerProcess;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of the enclave-server process (controller and host agent): running VMs keep running and are
 * re-adopted; a create cut short finishes or fails cleanly, leaving no orphan QEMU, disk or record.
 */
class CrashResilienceTest {
    static final Duration BOOT = Duration.ofMinutes(4);
    Path root;
    ServerProcess server;
    final List<String> tenantsWithNetworking = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createTempDirectory(Path.of("/tmp"), "encr-");
        // dnsmasq drops to user nobody and re-reads its lease files there: the tree must be traversable.
        Files.setPosixFilePermissions(root, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path images = Files.createDirectories(root.resolve("images"));
        Files.createSymbolicLink(images.resolve("default"), GuestImages.ensureDefault());
        server = new ServerProcess(root.resolve("data"), images).start();
    }

    @AfterEach
    void tearDown() {
        server.close();
        LinuxNetworkDriver network = new LinuxNetworkDriver(new ProcessCommandRunner(), root.resolve("data").resolve("network"),
                ServerProcess.NET_PREFIX);
        for (String tenant : tenantsWithNetworking) network.removeTenant(tenant);
        network.removePublicNetwork();
        // Whatever a failed test left: stop every QEMU of this data directory and remove it.
        QemuHostAgent agent = new QemuHostAgent(QemuHostAgent.localHostInfo("host-cleanup", "cleanup", Accelerator.TCG),
                root.resolve("data").resolve("vms"), new ProcessCommandRunner(), Accelerator.TCG, "qemu-system-x86_64");
        agent.listVms().forEach(agent::destroy);
        InProcessEnclave.deleteTree(root);
    }

    @Test
    void runningVmsSurviveKill9AndAreReadopted() throws IOException {
        TestApi tenant = tenantOn(server.admin());
        Response created = tenant.post("/v1/vms", vm("survivor", 1, 192, 1, GuestImages.defaultImageName(), true));
        String vmId = created.get("vm").path("id").asText();
        assertThat(awaitOperation(tenant, created.get("operation").path("id").asText(), BOOT).path("status").asText())
                .isEqualTo("succeeded");
        long qemuPid = qemuPid(vmId);

        server.kill9();
        InProcessEnclave.sleep(1000);
        assertThat(ProcessHandle.of(qemuPid).filter(ProcessHandle::isAlive)).as("QEMU outlives the agent").isPresent();

        server.start();
        JsonNode vm = tenant.get("/v1/vms/" + vmId).json();
        assertThat(vm.path("phase").asText()).isEqualTo("running");
        Response uname = tenant.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/uname", "-n")));
        assertThat(uname.status()).as(uname.toString()).isEqualTo(200);
        assertThat(uname.get("stdout").asText()).isEqualTo("survivor\n");
        assertThat(qemuPid(vmId)).as("the same QEMU, re-adopted").isEqualTo(qemuPid);
        assertThat(Files.readString(server.dataDir.resolve("server.log").toAbsolutePath(), java.nio.charset.StandardCharsets.UTF_8))
                .contains("1 running QEMU processes adopted");

        Response delete = tenant.delete("/v1/vms/" + vmId);
        assertThat(awaitOperation(tenant, delete.get("id").asText(), Duration.ofSeconds(60)).path("status").asText())
                .isEqualTo("succeeded");
        assertThat(ProcessHandle.of(qemuPid).filter(ProcessHandle::isAlive)).isEmpty();
    }

    @Test
    void aCreateCutShortByKill9FinishesOrFailsCleanlyAfterRestart() throws Exception {
        TestApi tenant = tenantOn(server.admin());
        List<String> operations = new ArrayList<>();
        for (long killAfterMs : new long[] {0, 120}) {
            String name = "cut-" + killAfterMs;
            CompletableFuture<Response> request = CompletableFuture.supplyAsync(
                    () -> tenant.post("/v1/vms", vm(name, 1, 160, 1, GuestImages.defaultImageName(), true), "create-" + name));
            InProcessEnclave.sleep(killAfterMs);
            server.kill9();
            Response answer = null;
            try {
                answer = request.join();
            } catch (RuntimeException connectionCut) {
                // the controller died before answering: the create may or may not have been recorded
            }
            server.start();
            // The client retries with the same idempotency key, as a careful client does after a lost answer.
            Response retried = tenant.post("/v1/vms", vm(name, 1, 160, 1, GuestImages.defaultImageName(), true), "create-" + name);
            assertThat(retried.status()).as(retried.toString()).isEqualTo(202);
            if (answer != null && answer.status() == 202) {
                assertThat(retried.get("operation").path("id").asText()).isEqualTo(answer.get("operation").path("id").asText());
            }
            operations.add(retried.get("operation").path("id").asText());
        }
        for (String opId : operations) {
            JsonNode op = awaitOperation(tenant, opId, BOOT);
            assertThat(op.path("status").asText()).as(op.toString()).isIn("succeeded", "failed");
        }
        assertNoOrphans(tenant);

        for (JsonNode vm : tenant.get("/v1/vms").get("items")) {
            if (vm.path("phase").asText().equals("running")) {
                assertThat(vm.path("guestReady").asBoolean()).isTrue();
            }
            Response delete = tenant.delete("/v1/vms/" + vm.path("id").asText());
            assertThat(awaitOperation(tenant, delete.get("id").asText(), Duration.ofSeconds(60)).path("status").asText())
                    .isEqualTo("succeeded");
        }
        assertThat(tenant.get("/v1/vms").get("items")).isEmpty();
        assertThat(vmDirs()).isEmpty();
        assertThat(qemuProcessesOf(server.dataDir)).isEmpty();
    }

    @Test
    void networkingKeepsServingThroughKill9AndARemovedFirewallIsRebuilt() throws Exception {
        TestApi admin = server.admin();
        assertThat(admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/24", "gateway", "198.51.100.1")).status())
                .isEqualTo(200);
        TestApi tenant = tenantOn(admin);
        String tenantId = InProcessEnclave.tenantIdOf(tenant);
        tenantsWithNetworking.add(tenantId);
        Response net = tenant.post("/v1/networks", Map.of("name", "lan", "cidr", "10.5.0.0/24"));
        assertThat(net.status()).as(net.toString()).isEqualTo(201);
        Map<String, Object> body = new java.util.HashMap<>(vm("served", 1, 160, 1, GuestImages.defaultImageName(), true));
        body.put("networks", List.of(net.get("id").asText()));
        Response created = tenant.post("/v1/vms", body);
        String vmId = created.get("vm").path("id").asText();
        assertThat(awaitOperation(tenant, created.get("operation").path("id").asText(), BOOT).path("status").asText())
                .isEqualTo("succeeded");
        awaitGuest(tenant, vmId, "ip -4 addr show dev eth0", "inet 10.5.0.2/24");
        exec(tenant, vmId, "mkdir -p /tmp/www && echo still-here > /tmp/www/index.html && httpd -p 80 -h /tmp/www");
        assertThat(tenant.post("/v1/firewall/forwards", Map.of("publicPort", 8080, "vmId", vmId, "targetPort", 80)).status())
                .isEqualTo(201);
        String publicIp = tenant.get("/v1/firewall").get("publicIp").asText();
        NetNames names = new NetNames(ServerProcess.NET_PREFIX);
        try (OutsideWorld outside = new OutsideWorld(names)) {
            String url = "http://" + publicIp + ":8080/";
            awaitCurl(outside, url, Duration.ofSeconds(30));

            server.kill9();
            assertThat(outside.curl(url).stdout()).as("served while the controller and agent are down").isEqualTo("still-here\n");
            server.start();
            assertThat(outside.curl(url).stdout()).isEqualTo("still-here\n");

            // The firewall namespace is destroyed behind the platform's back: the next resync rebuilds it
            // with the same public address, rules and leases.
            String fwNs = names.firewallNamespace(tenantId);
            outside.run("sh", "-c", "ip netns pids " + fwNs + " | xargs -r kill; ip netns del " + fwNs);
            assertThat(outside.curl(url).ok()).as("down with its firewall").isFalse();
            awaitCurl(outside, url, Duration.ofSeconds(60));
            JsonNode renewed = exec(tenant, vmId, "kill -USR1 $(cat /run/udhcpc.eth0.pid); sleep 3; ip -4 addr show dev eth0");
            assertThat(renewed.path("stdout").asText()).contains("inet 10.5.0.2/24");
        }
        Response delete = tenant.delete("/v1/vms/" + vmId);
        assertThat(awaitOperation(tenant, delete.get("id").asText(), Duration.ofSeconds(60)).path("status").asText())
                .isEqualTo("succeeded");
    }

    private static void awaitCurl(OutsideWorld outside, String url, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            var r = outside.curl(url);
            if (r.ok() && r.stdout().equals("still-here\n")) return;
            if (System.nanoTime() > deadline) throw new AssertionError("never served " + url + ": " + r);
            InProcessEnclave.sleep(500);
        }
    }

    private static JsonNode exec(TestApi api, String vmId, String shell) {
        Response r = api.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/sh", "-c", shell), "timeoutSeconds", 30));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r.json();
    }

    private static void awaitGuest(TestApi api, String vmId, String shell, String expected) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!exec(api, vmId, shell).path("stdout").asText().contains(expected)) {
            if (System.nanoTime() > deadline) throw new AssertionError(vmId + " never showed " + expected);
            InProcessEnclave.sleep(500);
        }
    }

    /** Every VM directory and every QEMU process on the host belongs to a VM record, and vice versa. */
    private void assertNoOrphans(TestApi tenant) {
        Set<String> records = new HashSet<>(tenant.get("/v1/vms").get("items").findValuesAsText("id"));
        assertThat(new HashSet<>(vmDirs())).isEqualTo(records);
        for (ProcessHandle qemu : qemuProcessesOf(server.dataDir)) {
            String cmd = String.join(" ", qemu.info().arguments().orElse(new String[0]));
            assertThat(records).anySatisfy(id -> assertThat(cmd).contains(id));
        }
    }

    private List<String> vmDirs() {
        Path vms = server.dataDir.resolve("vms");
        try (var s = Files.list(vms)) {
            return s.map(p -> p.getFileName().toString()).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static List<ProcessHandle> qemuProcessesOf(Path dataDir) {
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().command().orElse("").contains("qemu-system"))
                .filter(p -> String.join(" ", p.info().arguments().orElse(new String[0])).contains(dataDir.toString()))
                .toList();
    }

    private TestApi tenantOn(TestApi admin) {
        Response t = admin.post("/v1/tenants", Map.of("name", "crashy",
                "quota", Map.of("vcpus", 8, "memoryMib", 4096, "diskGib", 20, "vms", 10)));
        assertThat(t.status()).as(t.toString()).isEqualTo(201);
        Response tok = admin.post("/v1/tenants/" + t.get("id").asText() + "/tokens", Map.of("name", "t"));
        return admin.withToken(tok.get("token").asText());
    }

    private long qemuPid(String vmId) {
        try {
            return Long.parseLong(Files.readString(server.dataDir.resolve("vms").resolve(vmId).resolve("qemu.pid")).strip());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
