package io.enclave.server;

import static io.enclave.server.MultiHostTest.awaitFirewallReady;
import static io.enclave.server.MultiHostTest.awaitGuestReady;
import static io.enclave.server.MultiHostTest.awaitLease;
import static io.enclave.server.MultiHostTest.qemuPid;
import static io.enclave.server.MultiHostTest.shell;
import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.NetNames;
import io.enclave.server.testing.DataCentre;
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
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Moving running VMs between two hosts (namespaces with their own agents, sharing one directory as
 * "shared storage"): live migration with copied and with shared storage while a counter and a TCP stream
 * run in the guest, refusals of bad migrations, draining a host, and a host dying with a highly-available
 * VM restarted elsewhere and nothing run twice when the host returns. The steps share two guests.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiHostMigrationTest {
    static final ProcessCommandRunner SH = new ProcessCommandRunner();
    static DataCentre dc;
    static Path shared;
    static DataCentre.Host host1;
    static DataCentre.Host host2;
    static TestApi t;
    static String mover;
    static String ha;

    @BeforeAll
    static void start() throws Exception {
        dc = DataCentre.start(true);
        shared = Files.createDirectories(dc.dir.resolve("shared"));
        host1 = dc.addHost(shared);
        host2 = dc.addHost(shared);
        assertThat(dc.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/24", "gateway", "198.51.100.1")).status())
                .isEqualTo(200);
        t = dc.tenant("movers", 4, 2048, 20, 4);
    }

    @AfterAll
    static void stop() {
        if (dc != null) dc.close();
    }

    static DataCentre.Host hostOf(String vmId) {
        String id = t.get("/v1/vms/" + vmId).get("hostId").asText();
        return id.equals(host1.id()) ? host1 : host2;
    }

    static DataCentre.Host other(DataCentre.Host h) {
        return h == host1 ? host2 : host1;
    }

    static JsonNode migrate(String vmId, Map<String, Object> body) {
        Response r = dc.admin.post("/v1/vms/" + vmId + "/migrate", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(202);
        return awaitOperation(dc.admin, r.get("id").asText(), Duration.ofMinutes(5));
    }

    @Test
    @Order(1)
    void aRunningVmMovesWithItsDiskCopiedWhileACounterAndATcpStreamRun() throws Exception {
        String net = t.post("/v1/networks", Map.of("name", "lan", "cidr", "10.0.0.0/24")).get("id").asText();
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm("mover", 1, 256, 2, GuestImages.defaultImageName(), true));
        body.put("networks", List.of(net));
        Response created = t.post("/v1/vms", body);
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        mover = created.get("vm").get("id").asText();
        awaitGuestReady(t, mover);
        awaitLease(t, mover, "10.0.0.2");
        awaitFirewallReady(t);
        DataCentre.Host from = hostOf(mover);
        DataCentre.Host to = other(from);

        shell(t, mover, "dd if=/dev/urandom of=/root/data bs=1M count=8 2>/dev/null; sync; md5sum /root/data > /root/data.md5");
        String md5 = shell(t, mover, "cat /root/data.md5").get("stdout").asText();
        shell(t, mover, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done) >/dev/null 2>&1 &");

        // A TCP stream from the guest to a receiver outside (on the public network of the host it leaves).
        try (OutsideWorld outside = new OutsideWorld(new NetNames(from.netPrefix))) {
            Path received = Files.createTempFile(dc.dir, "stream", ".txt");
            Process receiver = new ProcessBuilder("ip", "netns", "exec", outside.namespace, "python3", "-c",
                    "import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                            + "s.bind(('" + OutsideWorld.IP + "',9000));s.listen(1);c,a=s.accept()\n"
                            + "f=open(sys.argv[1],'wb')\nwhile True:\n d=c.recv(65536)\n if not d: break\n f.write(d);f.flush()",
                    received.toString()).start();
            try {
                awaitListening(outside.namespace, 9000);
                shell(t, mover, "(i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done) | nc " + OutsideWorld.IP
                        + " 9000 >/dev/null 2>&1 &");
                awaitLines(received, 20);
                int counterBefore = Integer.parseInt(shell(t, mover, "cat /tmp/counter").get("stdout").asText().strip());

                JsonNode op = migrate(mover, Map.of("hostId", to.id()));
                assertThat(op.get("status").asText()).as(op.toString()).isEqualTo("succeeded");
                assertThat(op.get("message").asText()).contains("storage copied").containsPattern("downtime \\d+ ms");

                assertThat(t.get("/v1/vms/" + mover).get("hostId").asText()).isEqualTo(to.id());
                awaitGuestReady(t, mover);
                int counterAfter = Integer.parseInt(shell(t, mover, "cat /tmp/counter").get("stdout").asText().strip());
                assertThat(counterAfter).as("the guest's memory came along: the counter went on").isGreaterThan(counterBefore);
                assertThat(shell(t, mover, "cat /proc/uptime").get("exitCode").asInt()).isZero();
                assertThat(shell(t, mover, "md5sum /root/data").get("stdout").asText()).isEqualTo(md5);
                assertThat(qemuPid(to, mover)).isPositive();
                assertThat(SH.run(List.of("pgrep", "-f", from.dataDir + "/vms/" + mover), Duration.ofSeconds(5)).stdout())
                        .as("nothing of the VM left running on the host it left").isBlank();
                // The network followed: the gateway answers, and the same TCP connection kept streaming.
                assertThat(shell(t, mover, "ping -c1 -W2 10.0.0.1").get("exitCode").asInt()).isZero();
                int linesAtMigration = lines(received).size();
                awaitLines(received, linesAtMigration + 20);
                List<String> got = lines(received);
                for (int i = 0; i < got.size(); i++) {
                    assertThat(got.get(i)).as("line %d of the stream", i).isEqualTo(Integer.toString(i + 1));
                }
            } finally {
                receiver.destroyForcibly();
            }
        }
    }

    @Test
    @Order(2)
    void aVmOnSharedStorageMovesWithoutCopyingItsDisk() {
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm("keeper", 1, 192, 2, GuestImages.defaultImageName(), true));
        body.put("storage", "shared");
        body.put("highlyAvailable", true);
        Response created = t.post("/v1/vms", body);
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        ha = created.get("vm").get("id").asText();
        assertThat(created.get("vm").get("storage").asText()).isEqualTo("shared");
        awaitGuestReady(t, ha);
        assertThat(Files.exists(shared.resolve("vms").resolve(ha).resolve("disk.qcow2"))).as("disk on shared storage").isTrue();
        shell(t, ha, "echo before-migration > /root/note; sync");

        DataCentre.Host to = other(hostOf(ha));
        JsonNode op = migrate(ha, Map.of("hostId", to.id(), "copyStorage", false));
        assertThat(op.get("status").asText()).as(op.toString()).isEqualTo("succeeded");
        assertThat(op.get("message").asText()).contains("storage shared");
        awaitGuestReady(t, ha);
        assertThat(shell(t, ha, "cat /root/note").get("stdout").asText()).isEqualTo("before-migration\n");
        assertThat(Files.exists(shared.resolve("vms").resolve(ha).resolve("disk.qcow2"))).as("the shared disk stays").isTrue();
    }

    @Test
    @Order(3)
    void badMigrationsAreRefusedAndTheVmKeepsRunningWhereItWas() {
        DataCentre.Host here = hostOf(mover);
        long pid = qemuPid(here, mover);
        Response same = dc.admin.post("/v1/vms/" + mover + "/migrate", Map.of("hostId", here.id()));
        assertThat(same.status()).isEqualTo(409);
        assertThat(same.errorMessage()).contains("already on host");
        Response unknown = dc.admin.post("/v1/vms/" + mover + "/migrate", Map.of("hostId", "host-nowhere0"));
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.errorFields()).containsExactly("hostId");
        Response noCopy = dc.admin.post("/v1/vms/" + mover + "/migrate", Map.of("copyStorage", false));
        assertThat(noCopy.status()).isEqualTo(409);
        assertThat(noCopy.errorMessage()).contains("copying");
        Response byTenant = t.post("/v1/vms/" + mover + "/migrate", Map.of());
        assertThat(byTenant.status()).isEqualTo(403);
        Response missing = dc.admin.post("/v1/vms/vm-000000000000/migrate", Map.of());
        assertThat(missing.status()).isEqualTo(404);

        Response stopped = t.post("/v1/vms", InProcessEnclave.vm("idle", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        String idle = stopped.get("vm").get("id").asText();
        awaitOperation(t, stopped.get("operation").get("id").asText(), Duration.ofSeconds(60));
        Response notRunning = dc.admin.post("/v1/vms/" + idle + "/migrate", Map.of());
        assertThat(notRunning.status()).isEqualTo(409);
        assertThat(notRunning.errorMessage()).contains("not running").contains("\"cold\": true");
        Response coldWhileRunning = dc.admin.post("/v1/vms/" + mover + "/migrate", Map.of("cold", true));
        assertThat(coldWhileRunning.status()).isEqualTo(409);
        assertThat(coldWhileRunning.errorMessage()).contains("not stopped");
        awaitOperation(t, t.delete("/v1/vms/" + idle).get("id").asText(), Duration.ofSeconds(60));

        DataCentre.Host there = other(here);
        assertThat(dc.admin.post("/v1/hosts/" + there.id() + "/maintenance", null).status()).isEqualTo(202);
        Response toMaintenance = dc.admin.post("/v1/vms/" + mover + "/migrate", Map.of("hostId", there.id()));
        assertThat(toMaintenance.status()).isEqualTo(409);
        assertThat(toMaintenance.errorMessage()).contains("maintenance");
        awaitMaintenance(there, "on");
        assertThat(dc.admin.delete("/v1/hosts/" + there.id() + "/maintenance").get("maintenance").asText()).isEqualTo("none");

        assertThat(qemuPid(here, mover)).as("untouched by the refusals").isEqualTo(pid);
        assertThat(t.get("/v1/vms/" + mover).get("hostId").asText()).isEqualTo(here.id());
    }

    @Test
    @Order(4)
    void drainingAHostMovesItsRunningVmsAway() {
        // A stopped VM on shared storage: re-homed by the drain (nothing to copy).
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm("parked", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        body.put("storage", "shared");
        Response created = t.post("/v1/vms", body);
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        String parked = created.get("vm").get("id").asText();
        awaitOperation(t, created.get("operation").get("id").asText(), Duration.ofSeconds(60));
        DataCentre.Host drained = hostOf(parked);
        DataCentre.Host remaining = other(drained);
        // A stopped VM on the host's own disk, with a pattern written into that disk: moved cold by the admin to the
        // host about to be drained if it is not there, then cold again by the drain.
        Response cellarCreated = t.post("/v1/vms", InProcessEnclave.vm("cellar", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        String cellar = cellarCreated.get("vm").get("id").asText();
        awaitOperation(t, cellarCreated.get("operation").get("id").asText(), Duration.ofSeconds(60));
        assertThat(t.get("/v1/vms/" + cellar).get("phase").asText()).isEqualTo("stopped");
        Path cellarDisk = hostOf(cellar).dataDir.resolve("vms").resolve(cellar).resolve("disk.qcow2");
        SH.runChecked(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 256k", cellarDisk.toString()), Duration.ofSeconds(30));
        if (hostOf(cellar) != drained) {
            JsonNode moved = migrate(cellar, Map.of("hostId", drained.id(), "cold", true));
            assertThat(moved.get("status").asText()).as(moved.toString()).isEqualTo("succeeded");
            assertThat(moved.get("message").asText()).contains("moved stopped");
            assertThat(cellarDisk).as("gone from the host it left").doesNotExist();
            assertThat(hostOf(cellar)).isEqualTo(drained);
        }
        Response r = dc.admin.post("/v1/hosts/" + drained.id() + "/maintenance", null);
        assertThat(r.status()).isEqualTo(202);
        assertThat(r.get("maintenance").asText()).isIn("draining", "on");
        awaitMaintenance(drained, "on");
        for (String vm : List.of(mover, ha)) {
            assertThat(t.get("/v1/vms/" + vm).get("hostId").asText()).as(vm).isEqualTo(remaining.id());
            awaitGuestReady(t, vm);
        }
        assertThat(t.get("/v1/vms/" + parked).get("hostId").asText()).as("the stopped shared-storage VM re-homed")
                .isEqualTo(remaining.id());
        assertThat(t.get("/v1/vms/" + cellar).get("hostId").asText()).as("the stopped local-disk VM moved cold")
                .isEqualTo(remaining.id());
        assertThat(t.get("/v1/vms/" + cellar).get("phase").asText()).isEqualTo("stopped");
        assertThat(runningQemus(cellar)).as("and not started by the move").isEmpty();
        assertThat(Files.exists(drained.dataDir.resolve("vms").resolve(cellar))).isFalse();
        Path movedDisk = remaining.dataDir.resolve("vms").resolve(cellar).resolve("disk.qcow2");
        assertThat(SH.runChecked(List.of("qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 1M 256k", movedDisk.toString()),
                Duration.ofSeconds(30)).stdout()).as("the pattern written into its disk came along").doesNotContain("Pattern verification failed");
        awaitOperation(t, t.delete("/v1/vms/" + cellar).get("id").asText(), Duration.ofSeconds(60));
        JsonNode started = awaitOperation(t, t.post("/v1/vms/" + parked + "/start", null).get("id").asText(), Duration.ofSeconds(90));
        assertThat(started.get("status").asText()).as(started.toString()).isEqualTo("succeeded");
        assertThat(qemuPid(remaining, parked)).as("it starts on its new host").isPositive();
        assertThat(Files.exists(shared.resolve("vms").resolve(parked).resolve("disk.qcow2"))).isTrue();
        awaitOperation(t, t.delete("/v1/vms/" + parked).get("id").asText(), Duration.ofSeconds(60));
        Response placed = t.post("/v1/vms", InProcessEnclave.vm("while-drained", 1, 128, 1, InProcessEnclave.TINY_IMAGE, false));
        assertThat(placed.get("vm").get("hostId").asText()).as("no new VM on a host in maintenance").isEqualTo(remaining.id());
        awaitOperation(t, t.delete("/v1/vms/" + placed.get("vm").get("id").asText()).get("id").asText(), Duration.ofSeconds(60));
        assertThat(dc.admin.delete("/v1/hosts/" + drained.id() + "/maintenance").get("maintenance").asText()).isEqualTo("none");
    }

    @Test
    @Order(5)
    void aControllerRestartDuringAMigrationIsSettledWithExactlyOneCopyOfTheVm() {
        // The controller stops while the disk or memory is being copied; the agents carry on. The next controller
        // finds the migration recorded and settles it from what the hosts report: arrived or stays, never both.
        String settledOp = null;
        for (int attempt = 1; attempt <= 3 && settledOp == null; attempt++) {
            awaitGuestReady(t, mover);
            int counterBefore = Integer.parseInt(shell(t, mover, "cat /tmp/counter").get("stdout").asText().strip());
            DataCentre.Host from = hostOf(mover);
            Response r = dc.admin.post("/v1/vms/" + mover + "/migrate", Map.of("hostId", other(from).id()));
            assertThat(r.status()).as(r.toString()).isEqualTo(202);
            String opId = r.get("id").asText();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline && dc.admin.get("/v1/operations/" + opId).get("progress").asInt() < 10) {
                InProcessEnclave.sleep(20);
            }
            DataCentre.Host haHost = hostOf(ha);
            long haPid = qemuPid(haHost, ha);
            long stopped = System.nanoTime();
            dc.restartController();
            long restartMs = (System.nanoTime() - stopped) / 1_000_000;
            JsonNode op = awaitOperation(dc.admin, opId, Duration.ofMinutes(2));
            String message = op.get("message").asText() + " / " + op.path("error").asText();
            if (message.contains("controller restart")) settledOp = message;

            DataCentre.Host where = hostOf(mover);
            assertThat(where).as("op %s: %s", op.get("status"), message)
                    .isEqualTo(op.get("status").asText().equals("succeeded") ? other(from) : from);
            assertThat(runningQemus(mover)).as("exactly one QEMU of the VM after the restart (%d ms)", restartMs).hasSize(1);
            assertThat(qemuPid(haHost, ha)).as("a VM on shared storage keeps running: a controller that is down is no "
                    + "reason to self-fence").isEqualTo(haPid);
            assertThat(Files.exists(where.dataDir.resolve("vms").resolve(mover).resolve("qemu.pid"))).isTrue();
            assertThat(Files.exists(other(where).dataDir.resolve("vms").resolve(mover))).as("nothing left on the other host").isFalse();
            awaitGuestReady(t, mover);
            int counterAfter = Integer.parseInt(shell(t, mover, "cat /tmp/counter").get("stdout").asText().strip());
            assertThat(counterAfter).as("the same guest, still counting").isGreaterThan(counterBefore);
        }
        assertThat(settledOp).as("one of three migrations was still in flight when the controller stopped").isNotNull();
        // No migration stays recorded (a second one would be refused 409): the VM moves again on request.
        JsonNode op = migrate(mover, Map.of());
        assertThat(op.get("status").asText()).as(op.toString()).isEqualTo("succeeded");
    }

    @Test
    @Order(6)
    void aSourceAgentRestartDuringAMigrationEndsItVisiblyWithExactlyOneCopyOfTheVm() {
        // The source's agent dies while the disk (copied storage) or the memory (shared storage) is being sent,
        // its relays with it, and comes back; its QEMU runs on. The operation must end (either way), one QEMU of
        // the VM be left, nothing on the other host, and the VM move again (no mirror job or NBD node left over).
        restartSourceAgentDuringMigration(mover, "/tmp/counter");
        shell(t, ha, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/ha-counter; sleep 0.1; done) >/dev/null 2>&1 &");
        restartSourceAgentDuringMigration(ha, "/tmp/ha-counter");
    }

    private static void restartSourceAgentDuringMigration(String vmId, String counterFile) {
        awaitGuestReady(t, vmId);
        int counterBefore = counter(vmId, counterFile);
        DataCentre.Host from = hostOf(vmId);
        DataCentre.Host to = other(from);
        long sourcePid = qemuPid(from, vmId);
        Response r = dc.admin.post("/v1/vms/" + vmId + "/migrate", Map.of("hostId", to.id()));
        assertThat(r.status()).as(r.toString()).isEqualTo(202);
        String opId = r.get("id").asText();
        // once the source reports progress (mirror or RAM under way), not while startMigration is still being called
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String phaseAtKill = "";
        while (System.nanoTime() < deadline && !phaseAtKill.contains("MiB sent")) {
            JsonNode now = dc.admin.get("/v1/operations/" + opId).json();
            phaseAtKill = now.get("message").asText();
            assertThat(now.get("status").asText()).as("still running: %s", now).isEqualTo("running");
            InProcessEnclave.sleep(20);
        }
        from.killAgent();
        from.startAgent();

        JsonNode op = awaitOperation(dc.admin, opId, Duration.ofMinutes(3));
        String message = op.get("message").asText() + " / " + op.path("error").asText();
        DataCentre.Host where = hostOf(vmId);
        assertThat(where).as("killed at '%s'; op %s: %s", phaseAtKill, op.get("status"), message)
                .isEqualTo(op.get("status").asText().equals("succeeded") ? to : from);
        if (where == from) {
            assertThat(op.path("error").asText()).as("a failed migration says why").contains("restarted during the migration");
            assertThat(qemuPid(from, vmId)).as("the same QEMU, re-adopted by the restarted agent").isEqualTo(sourcePid);
        }
        assertThat(runningQemus(vmId)).as("exactly one QEMU of the VM (%s)", message).hasSize(1);
        DataCentre.Host left = other(where);
        assertThat(SH.run(List.of("pgrep", "-f", "qemu-system.*" + left.dataDir + "/vms/" + vmId), Duration.ofSeconds(5))
                .stdout()).as("no QEMU of the VM on the other host").isBlank();
        assertThat(Files.exists(left.dataDir.resolve("vms").resolve(vmId))).as("nothing of it on the other host").isFalse();
        for (DataCentre.Host h : dc.hosts()) {
            assertThat(migrationListeners(h)).as("no migration relay left listening on host %d", h.index).isEmpty();
        }
        awaitGuestReady(t, vmId);
        int counterAfter = counter(vmId, counterFile);
        assertThat(counterAfter).as("the same guest, still counting").isGreaterThan(counterBefore);

        JsonNode again = migrate(vmId, Map.of());
        assertThat(again.get("status").asText()).as("migrates again: %s", again).isEqualTo("succeeded");
        assertThat(runningQemus(vmId)).hasSize(1);
        awaitGuestReady(t, vmId);
        assertThat(counter(vmId, counterFile)).as("still the same guest").isGreaterThan(counterAfter);
    }

    static int counter(String vmId, String file) {
        return Integer.parseInt(shell(t, vmId, "cat " + file).get("stdout").asText().strip());
    }

    /** TCP listeners in the host's namespace on the agents' default migration ports (61000-61999). */
    static List<String> migrationListeners(DataCentre.Host host) {
        return host.exec("ss", "-ltnH").stdout().lines().filter(l -> l.matches(".*:61\\d\\d\\d\\s.*")).toList();
    }

    @Test
    @Order(7)
    void whenAHostDiesItsHighlyAvailableVmRestartsElsewhereAndNeverRunsTwice() {
        DataCentre.Host dying = hostOf(ha);
        DataCentre.Host survivor = other(dying);
        shell(t, ha, "echo survives-the-host > /root/ha-note; sync");
        dying.kill();

        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline && !t.get("/v1/vms/" + ha).get("hostId").asText().equals(survivor.id())) {
            InProcessEnclave.sleep(500);
        }
        assertThat(t.get("/v1/vms/" + ha).get("hostId").asText()).as("restarted on the surviving host").isEqualTo(survivor.id());
        assertThat(dc.admin.get("/v1/hosts/" + dying.id()).get("fenced").asBoolean()).isTrue();
        awaitGuestReady(t, ha);
        assertThat(shell(t, ha, "cat /root/ha-note").get("stdout").asText()).isEqualTo("survives-the-host\n");
        JsonNode vmMover = t.get("/v1/vms/" + mover).json();
        if (vmMover.get("hostId").asText().equals(dying.id())) {
            assertThat(vmMover.get("message").asText()).as("a VM that is not HA stays, marked").contains("is down");
        }

        // The host comes back: it is released of what now runs elsewhere before it takes VMs again.
        dying.startAgent();
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < until && dc.admin.get("/v1/hosts/" + dying.id()).get("fenced").asBoolean()) {
            InProcessEnclave.sleep(500);
        }
        assertThat(dc.admin.get("/v1/hosts/" + dying.id()).get("fenced").asBoolean()).isFalse();
        assertThat(runningQemus(ha)).as("exactly one QEMU of the HA VM").hasSize(1);
        assertThat(SH.run(List.of("pgrep", "-f", "qemu-system.*" + dying.dataDir + "/vms/" + ha), Duration.ofSeconds(5))
                .stdout()).as("none on the returning host").isBlank();
        assertThat(Files.exists(dying.dataDir.resolve("vms").resolve(ha))).as("released on the returning host").isFalse();
        assertThat(Files.exists(shared.resolve("vms").resolve(ha).resolve("disk.qcow2"))).isTrue();
    }

    @Test
    @Order(8)
    void aHostCutOffFencesItselfBeforeItsHaVmIsRestartedElsewhere() {
        DataCentre.Host cutOff = hostOf(ha);
        DataCentre.Host survivor = other(cutOff);
        awaitGuestReady(t, ha);
        long oldPid = qemuPid(cutOff, ha);
        cutOff.partition();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            boolean selfFenced = false;
            while (System.nanoTime() < deadline) {
                List<Long> qemus = runningQemus(ha);
                assertThat(qemus.size()).as("never two QEMUs of the HA VM: %s", qemus).isLessThanOrEqualTo(1);
                selfFenced |= ProcessHandle.of(oldPid).isEmpty();
                if (t.get("/v1/vms/" + ha).get("hostId").asText().equals(survivor.id()) && qemus.size() == 1
                        && !qemus.contains(oldPid)) {
                    break;
                }
                InProcessEnclave.sleep(200);
            }
            assertThat(selfFenced).as("the cut-off host killed its HA VM itself").isTrue();
            assertThat(t.get("/v1/vms/" + ha).get("hostId").asText()).isEqualTo(survivor.id());
        } finally {
            cutOff.heal();
        }
        awaitGuestReady(t, ha);
        assertThat(shell(t, ha, "cat /root/ha-note").get("stdout").asText()).isEqualTo("survives-the-host\n");
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < until && dc.admin.get("/v1/hosts/" + cutOff.id()).get("fenced").asBoolean()) {
            InProcessEnclave.sleep(500);
        }
        assertThat(dc.admin.get("/v1/hosts/" + cutOff.id()).get("status").asText()).isEqualTo("up");
        assertThat(dc.admin.get("/v1/hosts/" + cutOff.id()).get("fenced").asBoolean()).isFalse();
        assertThat(runningQemus(ha)).hasSize(1);
    }

    /**
     * Only the agent dies (its QEMUs run on, nobody fences them): the host is declared down and the HA VM's
     * restart on the other host must not run a second QEMU on the same disk. QEMU's image lock refuses the
     * second one while the first runs (the start waits, visibly, instead of failing); when the agent comes
     * back it releases its copy, and the VM then runs on exactly one host with its disk intact.
     */
    @Test
    @Order(9)
    void anAgentThatDiesWithItsWatchdogWhileItsHaVmRunsOnNeverLeadsToTwoCopies() {
        // Agent and fence watchdog both gone (nothing on the host can fence): the disk's lock keeps the copy elsewhere
        // from starting until the agent returns and releases the orphaned QEMU.
        DataCentre.Host orphaned = hostOf(ha);
        DataCentre.Host survivor = other(orphaned);
        awaitGuestReady(t, ha);
        long oldPid = qemuPid(orphaned, ha);
        orphaned.killWatchdog();
        orphaned.killAgent();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
            while (System.nanoTime() < deadline) {
                assertThat(settledQemus(ha)).as("never two QEMUs of the HA VM").hasSizeLessThanOrEqualTo(1);
                assertThat(ProcessHandle.of(oldPid).map(ProcessHandle::isAlive)).as("the orphaned QEMU runs on").contains(true);
                InProcessEnclave.sleep(300);
            }
            assertThat(dc.admin.get("/v1/hosts/" + orphaned.id()).get("status").asText()).isEqualTo("down");
            JsonNode waiting = t.get("/v1/vms/" + ha).json();
            assertThat(waiting.path("hostId").asText()).as("re-placed on the surviving host").isEqualTo(survivor.id());
            assertThat(waiting.path("message").asText()).as("%s", waiting).contains("disk is in use by another QEMU");
            assertThat(waiting.path("phase").asText()).as("waiting, not given up").isNotEqualTo("failed");
        } finally {
            orphaned.startAgent();
        }
        long until = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < until) {
            List<Long> qemus = settledQemus(ha);
            assertThat(qemus).as("never two QEMUs of the HA VM").hasSizeLessThanOrEqualTo(1);
            if (qemus.size() == 1 && !qemus.contains(oldPid) && "running".equals(t.get("/v1/vms/" + ha).get("phase").asText())) break;
            InProcessEnclave.sleep(300);
        }
        assertThat(ProcessHandle.of(oldPid).map(ProcessHandle::isAlive).orElse(false)).as("the orphaned copy released").isFalse();
        assertThat(t.get("/v1/vms/" + ha).get("hostId").asText()).isEqualTo(survivor.id());
        assertThat(runningQemus(ha)).hasSize(1);
        awaitGuestReady(t, ha);
        assertThat(shell(t, ha, "cat /root/ha-note").get("stdout").asText()).isEqualTo("survives-the-host\n");
    }

    @Test
    @Order(10)
    void anAgentThatDiesLeavesItsWatchdogToFenceItsHaVmWhichThenRunsElsewhereWithoutTheAgentBack() {
        DataCentre.Host orphaned = hostOf(ha);
        DataCentre.Host survivor = other(orphaned);
        awaitGuestReady(t, ha);
        long oldPid = qemuPid(orphaned, ha);
        long killedAt = System.nanoTime();
        orphaned.killAgent();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            Long fencedAfterMs = null;
            while (System.nanoTime() < deadline) {
                List<Long> qemus = settledQemus(ha);
                assertThat(qemus).as("never two QEMUs of the HA VM").hasSizeLessThanOrEqualTo(1);
                if (fencedAfterMs == null && !ProcessHandle.of(oldPid).map(ProcessHandle::isAlive).orElse(false)) {
                    fencedAfterMs = (System.nanoTime() - killedAt) / 1_000_000;
                }
                if (qemus.size() == 1 && !qemus.contains(oldPid) && "running".equals(t.get("/v1/vms/" + ha).get("phase").asText())) break;
                InProcessEnclave.sleep(300);
            }
            assertThat(fencedAfterMs).as("the watchdog killed the orphaned QEMU").isNotNull();
            System.out.println("HA VM fenced by the watchdog " + fencedAfterMs + " ms after its agent died");
            assertThat(orphaned.watchdogLog()).contains("killed QEMU " + oldPid + " of vm " + ha);
            assertThat(orphaned.agentAlive()).as("without the agent coming back").isFalse();
            assertThat(t.get("/v1/vms/" + ha).get("hostId").asText()).isEqualTo(survivor.id());
            assertThat(runningQemus(ha)).hasSize(1);
            awaitGuestReady(t, ha);
            assertThat(shell(t, ha, "cat /root/ha-note").get("stdout").asText()).isEqualTo("survives-the-host\n");
        } finally {
            orphaned.startAgent();
        }
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < until && dc.admin.get("/v1/hosts/" + orphaned.id()).get("fenced").asBoolean()) {
            InProcessEnclave.sleep(500);
        }
        assertThat(dc.admin.get("/v1/hosts/" + orphaned.id()).get("fenced").asBoolean()).isFalse();
        assertThat(Files.exists(orphaned.dataDir.resolve("vms").resolve(ha))).as("released on the returning host").isFalse();
        assertThat(runningQemus(ha)).hasSize(1);
    }

    /**
     * {@link #runningQemus} that have run for 3 s at least: a QEMU refused by the disk lock lives for a moment
     * (its pidfile is written before it opens the disk) and never runs the guest.
     */
    static List<Long> settledQemus(String vmId) {
        java.time.Instant settled = java.time.Instant.now().minusSeconds(3);
        return runningQemus(vmId).stream().filter(pid -> ProcessHandle.of(pid).flatMap(p -> p.info().startInstant())
                .map(start -> start.isBefore(settled)).orElse(false)).toList();
    }

    /**
     * The live QEMUs of a VM across the hosts, by the pidfile each host's agent keeps (a QEMU that is still
     * daemonizing shows up twice in the process list for a moment; its pidfile names the one that stays).
     */
    static List<Long> runningQemus(String vmId) {
        return runningQemusIn(dc.hosts(), vmId);
    }

    static List<Long> runningQemusIn(List<DataCentre.Host> hosts, String vmId) {
        List<Long> pids = new java.util.ArrayList<>();
        for (DataCentre.Host h : hosts) {
            Path pidFile = h.dataDir.resolve("vms").resolve(vmId).resolve("qemu.pid");
            try {
                if (!Files.exists(pidFile)) continue;
                long pid = Long.parseLong(Files.readString(pidFile).strip());
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) pids.add(pid);
            } catch (java.io.IOException | NumberFormatException e) {
                // being written or removed right now: not a running copy
            }
        }
        return pids;
    }

    static void awaitMaintenance(DataCentre.Host host, String state) {
        long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (System.nanoTime() < deadline) {
            if (dc.admin.get("/v1/hosts/" + host.id()).get("maintenance").asText().equals(state)) return;
            InProcessEnclave.sleep(500);
        }
        throw new AssertionError("host " + host.id() + " not in maintenance " + state + ": " + dc.admin.get("/v1/hosts/" + host.id()));
    }

    static void awaitListening(String namespace, int port) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            if (SH.run(List.of("ip", "netns", "exec", namespace, "ss", "-ltn"), Duration.ofSeconds(5)).stdout().contains(":" + port)) return;
            InProcessEnclave.sleep(100);
        }
        throw new AssertionError("nothing listens on " + port + " in " + namespace);
    }

    static void awaitLines(Path file, int n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (lines(file).size() >= n) return;
            Thread.sleep(100);
        }
        throw new AssertionError("stream has only " + lines(file).size() + " lines, expected " + n);
    }

    static List<String> lines(Path file) throws Exception {
        List<String> all = Files.readAllLines(file);
        // The last line may still be arriving.
        return all.isEmpty() ? all : all.subList(0, all.size() - 1);
    }
}
