package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.server.agent.ControllerLink;
import io.enclave.server.testing.CliRun;
import io.enclave.server.testing.DataCentre;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import io.enclave.tls.Pem;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two hosts (network namespaces with their own agent processes) joined to one controller over an
 * underlay bridge: membership, identity checks, placement with anti-affinity, a real guest on a remote
 * host driven through the agent protocol, and a host whose heartbeat stops.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiHostTest {
    static DataCentre dc;
    static DataCentre.Host host1;
    static DataCentre.Host host2;

    @BeforeAll
    static void startDataCentre() {
        dc = DataCentre.start(true);
        host1 = dc.addHost(null);
        host2 = dc.addHost(null);
    }

    @AfterAll
    static void stop() {
        if (dc != null) dc.close();
    }

    @Test
    @Order(1)
    void hostsJoinOverTheUnderlayAndReportByHeartbeat() {
        JsonNode hosts = dc.admin.get("/v1/hosts").json();
        Map<String, JsonNode> byId = new HashMap<>();
        hosts.forEach(h -> byId.put(h.get("id").asText(), h));
        assertThat(byId).containsOnlyKeys(host1.id(), host2.id());
        for (DataCentre.Host h : List.of(host1, host2)) {
            JsonNode view = byId.get(h.id());
            assertThat(view.get("status").asText()).isEqualTo("up");
            assertThat(view.get("remote").asBoolean()).isTrue();
            assertThat(view.get("underlayAddress").asText()).isEqualTo(h.address);
            assertThat(view.get("maintenance").asText()).isEqualTo("none");
        }
        // The API is HTTPS only (the join token and the hosts' secrets never cross the underlay in clear).
        assertThat(dc.admin.baseUrl()).startsWith("https://");
        String plainApi = dc.admin.baseUrl().replace("https://", "http://") + "/v1/hosts";
        assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(plainApi))
                .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + dc.admin.token()).build(),
                HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
        // The CLI reaches the HTTPS API by pinning the controller's certificate, and only then.
        Map<String, String> env = new HashMap<>(Map.of("ENCLAVE_URL", dc.admin.baseUrl() + "/v1",
                "ENCLAVE_TOKEN", dc.admin.token()));
        assertThat(CliRun.withEnv(env, "host", "list").exitCode()).as("no pin: the self-signed certificate is not trusted").isNotZero();
        env.put("ENCLAVE_FINGERPRINT", dc.controller().tlsIdentity().fingerprint());
        CliRun listed = CliRun.withEnv(env, "host", "list");
        assertThat(listed.exitCode()).as(listed.stderr()).isZero();
        assertThat(listed.stdout()).contains(host1.id()).contains(host2.id());
        String before = dc.admin.get("/v1/hosts/" + host1.id()).get("heartbeatAt").asText();
        InProcessEnclave.sleep(2500);
        assertThat(dc.admin.get("/v1/hosts/" + host1.id()).get("heartbeatAt").asText()).isNotEqualTo(before);
    }

    @Test
    @Order(2)
    void badOrReusedIdentitiesAreRefusedAndNothingChanges() throws Exception {
        TestApi anonymous = dc.admin.withToken(null);
        String strangerCertificate = TlsIdentity.generate("impostor", List.of(), Duration.ofDays(1)).certificatePem();
        Map<String, Object> join = new HashMap<>(Map.of("hostId", host1.id(), "name", "impostor", "cpus", 2,
                "memoryMib", 4096, "accelerator", "tcg", "agentUrl", "https://" + DataCentre.unusedUnderlayAddress() + ":8471",
                "agentCertificate", strangerCertificate, "agentSecret", "x".repeat(64),
                "underlayAddress", DataCentre.unusedUnderlayAddress()));

        Response wrongToken = anonymous.withToken("not-the-join-token").post("/v1/hosts/join", join);
        assertThat(wrongToken.status()).isEqualTo(401);

        TestApi joiner = anonymous.withToken(DataCentre.JOIN_TOKEN);
        Response reused = joiner.post("/v1/hosts/join", join);
        assertThat(reused.status()).isEqualTo(409);
        assertThat(reused.errorMessage()).contains(host1.id()).contains("already registered");

        // Host 1's own secret (as if stolen) but another certificate: still someone else.
        String host1Secret = Files.readString(host1.dataDir.resolve("host-secret")).strip();
        join.put("agentSecret", host1Secret);
        Response otherCertificate = joiner.post("/v1/hosts/join", join);
        assertThat(otherCertificate.status()).as(otherCertificate.toString()).isEqualTo(409);
        assertThat(otherCertificate.errorMessage()).contains(host1.id()).contains("certificate");
        join.put("agentSecret", "x".repeat(64));

        join.put("hostId", "Host_1");
        join.put("agentUrl", "http://" + DataCentre.unusedUnderlayAddress() + ":8471");
        Response malformed = joiner.post("/v1/hosts/join", join);
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.errorFields()).contains("hostId", "agentUrl");

        // A new host whose certificate is not one: 400 naming the field, and no host is recorded.
        join.put("hostId", "host-badcert1");
        join.put("agentUrl", "https://" + DataCentre.unusedUnderlayAddress() + ":8471");
        for (Object badPem : List.of("-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "hello")) {
            join.put("agentCertificate", badPem);
            Response badCertificate = joiner.post("/v1/hosts/join", join);
            assertThat(badCertificate.status()).as(badCertificate.toString()).isEqualTo(400);
            assertThat(badCertificate.errorFields()).containsExactly("agentCertificate");
        }
        join.remove("agentCertificate");
        Response noCertificate = joiner.post("/v1/hosts/join", join);
        assertThat(noCertificate.status()).isEqualTo(400);
        assertThat(noCertificate.errorFields()).containsExactly("agentCertificate");
        assertThat(dc.admin.get("/v1/hosts/host-badcert1").status()).isEqualTo(404);
        join.put("agentCertificate", strangerCertificate);

        join.put("hostId", "host-newcomer1");
        join.put("underlayAddress", host2.address);
        Response underlayTaken = joiner.post("/v1/hosts/join", join);
        assertThat(underlayTaken.status()).isEqualTo(409);
        assertThat(underlayTaken.errorMessage()).contains(host2.address);

        Response heartbeatWithoutSecret = joiner.post("/v1/hosts/" + host1.id() + "/heartbeat", Map.of("cpus", 2, "memoryMib", 4096));
        assertThat(heartbeatWithoutSecret.status()).isEqualTo(401);
        Response heartbeatWrongSecret = anonymous.withToken("y".repeat(64))
                .post("/v1/hosts/" + host1.id() + "/heartbeat", Map.of("cpus", 2, "memoryMib", 4096));
        assertThat(heartbeatWrongSecret.status()).isEqualTo(401);
        // The right secret still authenticates, against the hash the controller keeps.
        Response heartbeat = anonymous.withToken(host1Secret)
                .post("/v1/hosts/" + host1.id() + "/heartbeat", Map.of("cpus", 2, "memoryMib", 4096));
        assertThat(heartbeat.status()).as(heartbeat.toString()).isEqualTo(204);

        // An agent pinning another fingerprint than the controller's does not join, and sends nothing.
        ControllerLink wrongPin = new ControllerLink(dc.admin.baseUrl() + "/v1", DataCentre.JOIN_TOKEN,
                new ControllerLink.Identity(new io.enclave.core.host.HostInfo("host-wrongpin1", "wrongpin", 2, 4096, "tcg"),
                        "https://" + DataCentre.unusedUnderlayAddress() + ":8471", strangerCertificate, "z".repeat(64),
                        DataCentre.unusedUnderlayAddress(), null, null),
                Duration.ofSeconds(1), null, () -> { }, pem -> { },
                PinnedTls.clientPinnedByFingerprint(null, TlsIdentity.generate("x", List.of(), Duration.ofDays(1)).fingerprint()));
        assertThatThrownBy(() -> wrongPin.start(Duration.ofSeconds(20))).isInstanceOf(ControllerLink.JoinRefused.class)
                .hasMessageContaining("TLS");
        wrongPin.close();
        assertThat(dc.admin.get("/v1/hosts/host-wrongpin1").status()).isEqualTo(404);

        assertThat(dc.admin.get("/v1/hosts").json().size()).isEqualTo(2);
        JsonNode host1View = dc.admin.get("/v1/hosts/" + host1.id()).json();
        assertThat(host1View.get("name").asText()).isEqualTo("host1");
        assertThat(host1View.get("underlayAddress").asText()).isEqualTo(host1.address);
        assertThat(host1View.get("status").asText()).isEqualTo("up");
        // The controller still pins host 1's own certificate (the next tests call host 1 through it).
        assertThat(hostRow(host1.id()).get("AGENT_CERTIFICATE")).isEqualTo(
                Pem.of(Pem.certificate(Files.readString(host1.dataDir.resolve("agent-tls.crt")))));
        assertThat(hostRow(host1.id()).get("AGENT_URL")).isEqualTo("https://" + host1.address + ":8471");
    }

    @Test
    @Order(3)
    void theControllerKeepsNoAgentSecretAndOnlyItsCertificateOpensAnAgentsRpc() throws Exception {
        for (DataCentre.Host h : List.of(host1, host2)) {
            String secret = Files.readString(h.dataDir.resolve("host-secret")).strip();
            Map<String, Object> row = hostRow(h.id());
            assertThat(row).doesNotContainKey("AGENT_SECRET");
            assertThat(row.get("AGENT_SECRET_SHA256")).isEqualTo(HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8))));
            assertThat(row.values()).noneMatch(v -> v != null && v.toString().contains(secret));
            // The agent learnt the controller's certificate from the join answer and kept it.
            assertThat(Pem.certificate(Files.readString(h.dataDir.resolve("controller.crt"))))
                    .isEqualTo(dc.controllerIdentity().certificate());
        }

        URI agent = URI.create(Files.readString(host1.dataDir.resolve("agent-url")).strip() + "/");
        assertThat(agent.getScheme()).isEqualTo("https");
        X509Certificate agentCertificate = Pem.certificate(Files.readString(host1.dataDir.resolve("agent-tls.crt")));
        HttpRequest info = HttpRequest.newBuilder(agent.resolve("agent/v1/call/info")).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString("[]")).build();

        // The controller's certificate opens it (so what fails below fails for the certificate alone).
        HttpResponse<String> asController = client(PinnedTls.client(dc.controllerIdentity(), agentCertificate))
                .send(info, HttpResponse.BodyHandlers.ofString());
        assertThat(asController.statusCode()).isEqualTo(200);
        assertThat(asController.body()).contains(host1.id());

        // No client certificate, or another one: the handshake is refused, nothing is answered.
        assertThatThrownBy(() -> client(PinnedTls.client(null, agentCertificate)).send(info, HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(IOException.class);
        TlsIdentity stranger = TlsIdentity.generate("stranger", List.of(), Duration.ofDays(1));
        assertThatThrownBy(() -> client(PinnedTls.client(stranger, agentCertificate)).send(info, HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(IOException.class);
        // A client that trusts any server and has no certificate (curl -k).
        CommandResult curl = new ProcessCommandRunner().run(List.of("curl", "-sSk", "--max-time", "10", "-X", "POST",
                "--data", "[]", agent.resolve("agent/v1/call/info").toString()), Duration.ofSeconds(20));
        assertThat(curl.exitCode()).as(curl.toString()).isNotZero();
        assertThat(curl.stdout()).doesNotContain(host1.id());

        // Plain HTTP to the agent's port gets no HTTP answer at all.
        try (Socket socket = new Socket(agent.getHost(), agent.getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /agent/v1/call/info HTTP/1.1\r\nHost: " + agent.getHost()
                    + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]").getBytes(StandardCharsets.US_ASCII));
            byte[] answer;
            try {
                answer = socket.getInputStream().readAllBytes();
            } catch (IOException reset) {
                answer = new byte[0];
            }
            String text = new String(answer, StandardCharsets.ISO_8859_1);
            assertThat(text).doesNotStartWith("HTTP/").doesNotContain(host1.id());
        }
    }

    private static HttpClient client(javax.net.ssl.SSLContext tls) {
        return HttpClient.newBuilder().sslContext(tls).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
    }

    /** The host's row as the controller stores it, column names upper-case. */
    private static Map<String, Object> hostRow(String hostId) {
        Map<String, Object> row = dc.db().jdbi().withHandle(h -> h.createQuery("SELECT * FROM hosts WHERE id = :id")
                .bind("id", hostId).mapToMap().one());
        Map<String, Object> upper = new HashMap<>();
        row.forEach((k, v) -> upper.put(k.toUpperCase(java.util.Locale.ROOT), v));
        return upper;
    }

    @Test
    @Order(4)
    void antiAffinitySpreadsAGroupAndRefusesWhenNoHostIsLeft() {
        TestApi t = dc.tenant("spread", 8, 4096, 40, 10);
        Set<String> placed = new java.util.HashSet<>();
        for (String name : List.of("db-1", "db-2")) {
            Map<String, Object> body = new HashMap<>(InProcessEnclave.vm(name, 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
            body.put("antiAffinityGroup", "db");
            Response r = t.post("/v1/vms", body);
            assertThat(r.status()).as(r.toString()).isEqualTo(202);
            assertThat(r.get("vm").get("antiAffinityGroup").asText()).isEqualTo("db");
            placed.add(r.get("vm").get("hostId").asText());
        }
        assertThat(placed).containsExactlyInAnyOrder(host1.id(), host2.id());

        Map<String, Object> third = new HashMap<>(InProcessEnclave.vm("db-3", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        third.put("antiAffinityGroup", "db");
        Response refused = t.post("/v1/vms", third);
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.errorMessage()).contains("anti-affinity group 'db'");
        assertThat(t.get("/v1/vms").get("items").size()).isEqualTo(2);

        Map<String, Object> bad = new HashMap<>(InProcessEnclave.vm("x", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        bad.put("antiAffinityGroup", "Not_A_Label");
        bad.put("storage", "tape");
        bad.put("highlyAvailable", true);
        Response invalid = t.post("/v1/vms", bad);
        assertThat(invalid.status()).isEqualTo(400);
        assertThat(invalid.errorFields()).contains("storage");
        Map<String, Object> haLocal = new HashMap<>(InProcessEnclave.vm("y", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        haLocal.put("highlyAvailable", true);
        Response needsShared = t.post("/v1/vms", haLocal);
        assertThat(needsShared.status()).isEqualTo(400);
        assertThat(needsShared.errorFields()).contains("highlyAvailable");
        // Deleting (the VMs never started) goes through the remote agents too.
        for (JsonNode vm : t.get("/v1/vms").get("items")) {
            Response del = t.delete("/v1/vms/" + vm.get("id").asText());
            assertThat(awaitOperation(t, del.get("id").asText(), Duration.ofSeconds(60)).get("status").asText()).isEqualTo("succeeded");
        }
    }

    @Test
    @Order(5)
    void aRealGuestRunsOnARemoteHostAndSurvivesItsAgentRestarting() {
        TestApi t = dc.tenant("remote", 4, 2048, 20, 4);
        Response created = t.post("/v1/vms", InProcessEnclave.vm("far", 1, 192, 2, GuestImages.defaultImageName(), true));
        assertThat(created.status()).isEqualTo(202);
        String vmId = created.get("vm").get("id").asText();
        String hostId = created.get("vm").get("hostId").asText();
        DataCentre.Host host = hostId.equals(host1.id()) ? host1 : host2;
        assertThat(awaitOperation(t, created.get("operation").get("id").asText(), Duration.ofMinutes(3)).get("status").asText())
                .isEqualTo("succeeded");
        awaitGuestReady(t, vmId);

        Response hostname = exec(t, vmId, "/bin/hostname");
        assertThat(hostname.get("stdout").asText().strip()).isEqualTo("far");
        // The guest's QEMU runs under the remote host's data directory, not the controller's.
        assertThat(new io.enclave.agent.exec.ProcessCommandRunner().run(List.of("pgrep", "-f", host.dataDir + "/vms/" + vmId),
                Duration.ofSeconds(5)).stdout()).isNotBlank();

        long qemuBefore = qemuPid(host, vmId);
        host.killAgent();
        Response whileAgentDown = t.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/true")));
        assertThat(whileAgentDown.status()).isEqualTo(503);
        host.startAgent();
        assertThat(qemuPid(host, vmId)).isEqualTo(qemuBefore);
        awaitGuestReady(t, vmId);
        assertThat(exec(t, vmId, "/bin/cat", "/proc/uptime").get("exitCode").asInt()).isZero();

        Response del = t.delete("/v1/vms/" + vmId);
        assertThat(awaitOperation(t, del.get("id").asText(), Duration.ofSeconds(90)).get("status").asText()).isEqualTo("succeeded");
        assertThat(new io.enclave.agent.exec.ProcessCommandRunner().run(List.of("pgrep", "-f", host.dataDir + "/vms/" + vmId),
                Duration.ofSeconds(5)).stdout()).isBlank();
    }

    @Test
    @Order(6)
    void aSilentHostIsDeclaredDownAndComesBackUp() {
        host2.killAgent();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        String status = "up";
        while (System.nanoTime() < deadline && status.equals("up")) {
            InProcessEnclave.sleep(500);
            status = dc.admin.get("/v1/hosts/" + host2.id()).get("status").asText();
        }
        assertThat(status).isEqualTo("down");
        // A down host takes no new VMs.
        TestApi t = dc.tenant("after-down", 4, 2048, 20, 4);
        for (int i = 0; i < 3; i++) {
            Response r = t.post("/v1/vms", InProcessEnclave.vm("v" + i, 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
            assertThat(r.get("vm").get("hostId").asText()).isEqualTo(host1.id());
        }
        host2.startAgent();
        assertThat(dc.admin.get("/v1/hosts/" + host2.id()).get("status").asText()).isEqualTo("up");
        // On a busy machine the agent may come back only after the host was fenced (dead + fence wait): it then
        // takes VMs again once the controller has swept it, which the next test needs.
        long unfenced = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while (dc.admin.get("/v1/hosts/" + host2.id()).get("fenced").asBoolean() && System.nanoTime() < unfenced) {
            InProcessEnclave.sleep(500);
        }
        assertThat(dc.admin.get("/v1/hosts/" + host2.id()).get("fenced").asBoolean()).as("host 2 released after its return").isFalse();
        for (JsonNode vm : t.get("/v1/vms").get("items")) {
            awaitOperation(t, t.delete("/v1/vms/" + vm.get("id").asText()).get("id").asText(), Duration.ofSeconds(60));
        }
    }

    @Test
    @Order(7)
    void aTenantNetworkSpansHostsAndTheOutsideReachesAVmOnAnyHostThroughItsFirewall() throws Exception {
        assertThat(dc.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/24", "gateway", "198.51.100.1")).status())
                .isEqualTo(200);
        TestApi t = dc.tenant("spanning", 4, 2048, 20, 4);
        Response net = t.post("/v1/networks", Map.of("name", "lan", "cidr", "10.0.0.0/24"));
        assertThat(net.status()).as(net.toString()).isEqualTo(201);
        String netId = net.get("id").asText();
        Map<String, String> vmOnHost = new HashMap<>();
        Map<String, String> ipOf = new HashMap<>();
        for (String name : List.of("web-1", "web-2")) {
            Map<String, Object> body = new HashMap<>(InProcessEnclave.vm(name, 1, 192, 2, GuestImages.defaultImageName(), true));
            body.put("networks", List.of(netId));
            body.put("antiAffinityGroup", "web");
            Response r = t.post("/v1/vms", body);
            assertThat(r.status()).as(r.toString()).isEqualTo(202);
            vmOnHost.put(r.get("vm").get("hostId").asText(), r.get("vm").get("id").asText());
            ipOf.put(r.get("vm").get("id").asText(), r.get("vm").get("nics").get(0).get("ip").asText());
        }
        assertThat(vmOnHost).containsOnlyKeys(host1.id(), host2.id());
        String vm1 = vmOnHost.get(host1.id());
        String vm2 = vmOnHost.get(host2.id());
        for (String vm : List.of(vm1, vm2)) {
            awaitGuestReady(t, vm);
            awaitLease(t, vm, ipOf.get(vm));
        }

        // One switch across hosts: ping and TCP between the two VMs over VXLAN, and both reach the gateway.
        assertThat(shell(t, vm1, "ping -c2 -W2 " + ipOf.get(vm2)).get("exitCode").asInt()).as("vm1 -> vm2").isZero();
        assertThat(shell(t, vm2, "ping -c1 -W2 10.0.0.1").get("exitCode").asInt()).as("vm2 -> gateway").isZero();
        shell(t, vm2, "mkdir -p /tmp/www && echo served-by-host2 > /tmp/www/index.html && httpd -p 80 -h /tmp/www");
        JsonNode tcp = shell(t, vm1, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 " + ipOf.get(vm2) + " 80");
        assertThat(tcp.get("stdout").asText()).as(tcp.toString()).contains("served-by-host2");

        // From outside (a namespace on host 1's end of the public network) only through the tenant's firewall.
        String publicIp = awaitFirewallReady(t);
        try (io.enclave.server.testing.OutsideWorld outside =
                new io.enclave.server.testing.OutsideWorld(new io.enclave.agent.network.NetNames(host1.netPrefix))) {
            assertThat(outside.curl("http://" + publicIp + ":8080/").ok()).as("closed by default").isFalse();
            Response fwd = t.post("/v1/firewall/forwards", Map.of("publicPort", 8080, "vmId", vm2, "targetPort", 80));
            assertThat(fwd.status()).as(fwd.toString()).isEqualTo(201);
            awaitFirewallReady(t);
            var got = outside.curl("http://" + publicIp + ":8080/");
            assertThat(got.stdout()).as(got.toString()).isEqualTo("served-by-host2\n");
        }

        for (String vm : List.of(vm1, vm2)) {
            assertThat(awaitOperation(t, t.delete("/v1/vms/" + vm).get("id").asText(), Duration.ofSeconds(90))
                    .get("status").asText()).isEqualTo("succeeded");
        }
    }

    static String awaitFirewallReady(TestApi t) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode fw = t.get("/v1/firewall").json();
            if (fw.path("phase").asText().equals("ready") && fw.path("observedGeneration").asLong() >= fw.path("generation").asLong()) {
                return fw.path("publicIp").asText();
            }
            InProcessEnclave.sleep(300);
        }
        throw new AssertionError("firewall not ready: " + t.get("/v1/firewall"));
    }

    static void awaitLease(TestApi t, String vmId, String ip) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (shell(t, vmId, "ip -4 addr show eth0").get("stdout").asText().contains(ip + "/")) return;
            InProcessEnclave.sleep(1000);
        }
        throw new AssertionError(vmId + " got no lease " + ip + ": " + shell(t, vmId, "ip -4 addr; cat /var/log/messages 2>/dev/null | tail"));
    }

    static JsonNode shell(TestApi t, String vmId, String command) {
        return exec(t, vmId, "/bin/sh", "-c", command).json();
    }

    static long qemuPid(DataCentre.Host host, String vmId) {
        String out = new io.enclave.agent.exec.ProcessCommandRunner().run(List.of("pgrep", "-f", "qemu-system.*" + host.dataDir + "/vms/" + vmId),
                Duration.ofSeconds(5)).stdout().strip();
        assertThat(out).as("QEMU of %s on host %d", vmId, host.index).isNotBlank();
        return Long.parseLong(out.lines().findFirst().orElseThrow());
    }

    static void awaitGuestReady(TestApi t, String vmId) {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode vm = t.get("/v1/vms/" + vmId).json();
            if (vm.get("phase").asText().equals("running") && vm.get("guestReady").asBoolean()) return;
            InProcessEnclave.sleep(500);
        }
        throw new AssertionError("guest of " + vmId + " not ready: " + t.get("/v1/vms/" + vmId));
    }

    static Response exec(TestApi t, String vmId, String... command) {
        Response r = t.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of(command), "timeoutSeconds", 60));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r;
    }
}
