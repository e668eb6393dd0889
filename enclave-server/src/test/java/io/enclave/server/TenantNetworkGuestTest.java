package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.NetNames;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.OutsideWorld;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tenant networks and the light firewall with real guests: DHCP, the gateway, source NAT to the
 * tenant's public address, port forwards, default drop, isolation of two tenants with the same CIDR,
 * anti-spoofing and rule counters. The "outside world" is a namespace this test attaches to the public
 * bridge; no traffic leaves the machine.
 */
class TenantNetworkGuestTest {
    static final String PREFIX = "ene";
    static final String EXT_IP = OutsideWorld.IP;
    static final ProcessCommandRunner SH = new ProcessCommandRunner();
    static InProcessEnclave enclave;
    static NetNames names = new NetNames(PREFIX);
    static OutsideWorld outside;
    static String EXT_NS;

    @BeforeAll
    static void start() {
        enclave = InProcessEnclave.start(true, null, PREFIX);
    }

    @AfterAll
    static void stop() {
        try {
            if (outside != null) outside.close();
        } finally {
            enclave.close();
        }
    }

    /** The same behaviour from both firewall forms: the light namespace and the VM appliance. */
    @ParameterizedTest
    @ValueSource(strings = {"light", "vm"})
    void guestsGetLeasesReachOutThroughNatAndAreReachableOnlyWhereOpened(String form) throws Exception {
        try {
            scenario(form);
        } finally {
            if (outside != null) outside.close();
            outside = null;
        }
    }

    private void scenario(String form) throws Exception {
        Response pub = enclave.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/24", "gateway", "198.51.100.1"));
        assertThat(pub.status()).as(pub.toString()).isEqualTo(200);
        TestApi a = enclave.tenant("net-a-" + form, 4, 4096, 20, 5);
        TestApi b = enclave.tenant("net-b-" + form, 4, 4096, 20, 5);
        String netA = created(a.post("/v1/networks", Map.of("name", "lan", "cidr", "10.0.0.0/24", "firewallForm", form)))
                .path("id").asText();
        String netB = created(b.post("/v1/networks", Map.of("name", "lan", "cidr", "10.0.0.0/24", "firewallForm", form)))
                .path("id").asText();
        Response fwA = a.get("/v1/firewall");
        assertThat(fwA.get("form").asText()).as(fwA.toString()).isEqualTo(form);

        // Bad input: named fields, nothing created.
        assertThat(a.post("/v1/networks", Map.of("name", "lan2", "cidr", "10.0.0.128/25")).errorFields()).containsExactly("cidr");
        assertThat(a.post("/v1/networks", Map.of("name", "lan3", "cidr", "10.0.0.1/24")).errorFields()).containsExactly("cidr");
        assertThat(a.post("/v1/networks", Map.of("name", "lan4", "cidr", "300.1.0.0/16")).errorFields()).containsExactly("cidr");
        assertThat(a.get("/v1/networks").json()).hasSize(1);

        String vmA = bootVm(a, "web-a-" + form, netA);
        String vmB = bootVm(b, "web-b-" + form, netB);
        JsonNode nicA = a.get("/v1/vms/" + vmA).get("nics").get(0);
        assertThat(nicA.path("ip").asText()).isEqualTo("10.0.0.2");
        assertThat(nicA.path("networkId").asText()).isEqualTo(netA);
        String publicA = firewallReady(a).path("publicIp").asText();
        String publicB = firewallReady(b).path("publicIp").asText();
        assertThat(publicA).startsWith("198.51.100.").isNotEqualTo(publicB);

        awaitLease(a, vmA, "10.0.0.2");
        awaitLease(b, vmB, "10.0.0.2");
        assertThat(guest(a, vmA, "ping -c1 -W2 10.0.0.1").path("exitCode").asInt()).as("gateway").isZero();

        outside = new OutsideWorld(names);
        EXT_NS = outside.namespace;
        // Egress: the outside sees the tenant's public address as the source.
        Path seen = Files.createTempFile("ene-peer", ".txt");
        Process listener = new ProcessBuilder("ip", "netns", "exec", EXT_NS, "python3", "-c",
                "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                        + "s.bind(('" + EXT_IP + "',9000));s.listen(1);s.settimeout(30)\nc,a=s.accept()\n"
                        + "open(sys.argv[1],'w').write(a[0]);c.close()", seen.toString()).start();
        try {
            long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (!SH.run(List.of("ip", "netns", "exec", EXT_NS, "ss", "-ltn"), Duration.ofSeconds(5)).stdout().contains(":9000")
                    && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            JsonNode sent = guest(a, vmA, "echo hi | nc -w 3 " + EXT_IP + " 9000");
            assertThat(sent.path("exitCode").asInt()).as(sent.toString()).isZero();
            listener.waitFor(20, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(Files.readString(seen).strip()).isEqualTo(publicA);
        } finally {
            listener.destroyForcibly();
            Files.deleteIfExists(seen);
        }

        // Ingress: nothing enters until the tenant opens it.
        guest(a, vmA, "mkdir -p /tmp/www && echo hello-from-a > /tmp/www/index.html && httpd -p 80 -h /tmp/www");
        assertThat(curlFromOutside("http://" + publicA + ":8080/").ok()).as("closed by default").isFalse();
        JsonNode forward = created(a.post("/v1/firewall/forwards", Map.of("publicPort", 8080, "vmId", vmA, "targetPort", 80)));
        firewallReady(a);
        CommandResult opened = curlFromOutside("http://" + publicA + ":8080/");
        assertThat(opened.stdout()).as(opened.toString()).isEqualTo("hello-from-a\n");
        // A route to the private address by hand does not get past the firewall either.
        SH.runChecked(List.of("ip", "-n", EXT_NS, "route", "replace", "10.0.0.0/24", "via", publicA), Duration.ofSeconds(5));
        assertThat(curlFromOutside("http://10.0.0.2:80/").ok()).as("private address from outside").isFalse();

        // Tenant B (same CIDR) reaches A only through A's public address and only where A opened it.
        // (busybox-static wget crashes in this guest, as on the host: plain HTTP through nc instead)
        JsonNode viaPublic = guest(b, vmB, httpGet(publicA, 8080));
        assertThat(viaPublic.path("stdout").asText()).as(viaPublic.toString()).contains("hello-from-a");
        assertThat(guest(b, vmB, httpGet(publicA, 8081)).path("stdout").asText()).doesNotContain("hello-from-a");
        assertThat(guest(a, vmA, "ping -c1 -W2 " + publicB).path("exitCode").asInt()).as("B's firewall").isNotZero();

        // Anti-spoofing: a VM cannot send from an address that is not its own.
        guest(a, vmA, "ip addr add 10.0.0.77/24 dev eth0");
        assertThat(guest(a, vmA, "ping -c1 -W2 -I 10.0.0.77 10.0.0.1").path("exitCode").asInt()).isNotZero();
        assertThat(guest(a, vmA, "ping -c1 -W2 -I 10.0.0.2 10.0.0.1").path("exitCode").asInt()).isZero();

        // The tenant sees the same through the CLI.
        io.enclave.server.testing.CliRun fwShow = io.enclave.server.testing.CliRun.of(a, "firewall", "show");
        assertThat(fwShow.exitCode()).as(fwShow.stderr()).isZero();
        assertThat(fwShow.stdout()).contains(publicA).contains(forward.path("id").asText());
        assertThat(io.enclave.server.testing.CliRun.of(a, "network", "list").stdout()).contains("10.0.0.0/24");

        // Counters, and the bad-input rules around forwards.
        JsonNode rule = findRule(a.get("/v1/firewall").json(), forward.path("id").asText());
        assertThat(rule.path("packets").asLong()).isPositive();
        Map<String, Object> toB = new HashMap<>(Map.of("publicPort", 9090, "vmId", vmB, "targetPort", 80));
        assertThat(a.post("/v1/firewall/forwards", toB).errorFields()).containsExactly("vmId");
        assertThat(a.post("/v1/firewall/forwards", Map.of("publicPort", 70000, "vmId", vmA, "targetPort", 80))
                .errorFields()).containsExactly("publicPort");
        assertThat(a.post("/v1/firewall/forwards", Map.of("publicPort", 8080, "vmId", vmA, "targetPort", 81)).status())
                .isEqualTo(409);
        assertThat(a.delete("/v1/networks/" + netA).status()).isEqualTo(409);

        for (var pair : List.of(Map.entry(a, vmA), Map.entry(b, vmB))) {
            JsonNode op = awaitOperation(pair.getKey(), pair.getKey().delete("/v1/vms/" + pair.getValue()).get("id").asText(),
                    Duration.ofSeconds(60));
            assertThat(op.path("status").asText()).isEqualTo("succeeded");
        }
        assertThat(a.delete("/v1/networks/" + netA).status()).isEqualTo(204);
        assertThat(b.delete("/v1/networks/" + netB).status()).isEqualTo(204);
    }

    private static String httpGet(String ip, int port) {
        return "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 " + ip + " " + port;
    }

    private static JsonNode created(Response r) {
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return r.json();
    }

    private static String bootVm(TestApi api, String name, String networkId) {
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm(name, 1, 160, 1, GuestImages.defaultImageName(), true));
        body.put("networks", List.of(networkId));
        Response r = api.post("/v1/vms", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(202);
        JsonNode op = awaitOperation(api, r.get("operation").path("id").asText(), Duration.ofMinutes(4));
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
        return r.get("vm").path("id").asText();
    }

    private static JsonNode firewallReady(TestApi api) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            JsonNode fw = api.get("/v1/firewall").json();
            if ("ready".equals(fw.path("phase").asText())
                    && fw.path("observedGeneration").asLong() >= fw.path("generation").asLong()) {
                return fw;
            }
            if (System.nanoTime() > deadline) throw new AssertionError("firewall not ready: " + fw);
            InProcessEnclave.sleep(200);
        }
    }

    private static void awaitLease(TestApi api, String vmId, String ip) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!guest(api, vmId, "ip -4 addr show dev eth0").path("stdout").asText().contains("inet " + ip + "/24")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no DHCP lease " + ip + " in " + vmId + ": "
                        + guest(api, vmId, "ip addr; cat /etc/resolv.conf").path("stdout").asText());
            }
            InProcessEnclave.sleep(500);
        }
    }

    private static JsonNode guest(TestApi api, String vmId, String shell) {
        Response r = api.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/sh", "-c", shell),
                "timeoutSeconds", 30));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r.json();
    }

    private static CommandResult curlFromOutside(String url) {
        return outside.curl(url);
    }

    private static JsonNode findRule(JsonNode firewall, String ruleId) {
        for (JsonNode r : firewall.path("rules")) if (r.path("id").asText().equals(ruleId)) return r;
        throw new AssertionError("no rule " + ruleId + " in " + firewall);
    }
}
