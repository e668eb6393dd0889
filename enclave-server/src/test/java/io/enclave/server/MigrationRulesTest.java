package io.enclave.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.image.ImageLibrary;
import io.enclave.agent.simulator.SimulatedHostAgent;
import io.enclave.controller.Controller;
import io.enclave.controller.persistence.Database;
import io.enclave.core.host.HostInfo;
import io.enclave.core.host.RuntimeState;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The controller's migration rules on three small SIMULATED hosts (control-plane logic only; the real
 * migrations run in MultiHostMigrationTest): a destination without room, one that already runs a VM of
 * the anti-affinity group, and no host left for the scheduler are each refused, and the VM stays put.
 */
class MigrationRulesTest {
    private Controller controller;
    private Path dir;
    private final Map<String, SimulatedHostAgent> agents = new HashMap<>();

    @AfterEach
    void stop() {
        if (controller != null) controller.close();
        if (dir != null) InProcessEnclave.deleteTree(dir);
    }

    @Test
    void migrationsThatCannotFitAreRefusedAndTheVmStaysWhereItRuns() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "encm-");
        Path images = Files.createDirectories(dir.resolve("images"));
        InProcessEnclave.makeTinyImageForTests(images);
        controller = new Controller(Database.open(Database.h2Url(dir), null, null),
                new ImageLibrary(images, new ProcessCommandRunner()),
                Controller.Settings.defaults(0).withResyncEvery(Duration.ofSeconds(1)));
        for (int i = 1; i <= 3; i++) {
            SimulatedHostAgent a = new SimulatedHostAgent(new HostInfo("host-sim" + i, "sim" + i, 2, 1024, "simulated"));
            agents.put(a.info().id(), a);
            controller.addHost(a, "10.96.0." + i, null, null);
        }
        String token = controller.tenants().bootstrapAdminToken();
        controller.start();
        TestApi admin = new TestApi("http://127.0.0.1:" + controller.port(), token);
        Response tenant = admin.post("/v1/tenants", Map.of("name", "rules",
                "quota", Map.of("vcpus", 8, "memoryMib", 8192, "diskGib", 10, "vms", 5)));
        String tenantId = tenant.get("id").asText();

        String vm1 = create(admin, tenantId, "a-1", 768, "g");
        String vm2 = create(admin, tenantId, "a-2", 768, "g");
        String vm3 = create(admin, tenantId, "big", 1000, null);
        String host1 = hostOf(admin, vm1);
        String host2 = hostOf(admin, vm2);
        String host3 = hostOf(admin, vm3);
        assertThat(List.of(host1, host2, host3)).doesNotHaveDuplicates();
        for (String vm : List.of(vm1, vm2, vm3)) awaitRunning(admin, vm);

        Response sameGroup = admin.post("/v1/vms/" + vm1 + "/migrate", Map.of("hostId", host2));
        assertThat(sameGroup.status()).isEqualTo(409);
        assertThat(sameGroup.errorMessage()).contains("anti-affinity group 'g'");

        Response noRoom = admin.post("/v1/vms/" + vm1 + "/migrate", Map.of("hostId", host3));
        assertThat(noRoom.status()).isEqualTo(409);
        assertThat(noRoom.errorMessage()).contains("no room");

        Response noHostLeft = admin.post("/v1/vms/" + vm1 + "/migrate", Map.of());
        assertThat(noHostLeft.status()).isEqualTo(409);
        assertThat(noHostLeft.errorMessage()).contains("no host has room");

        Response badBody = admin.post("/v1/vms/" + vm1 + "/migrate", Map.of("hostId", 7));
        assertThat(badBody.status()).isEqualTo(400);

        assertThat(hostOf(admin, vm1)).isEqualTo(host1);
        assertThat(agents.get(host1).status(vm1).state()).isEqualTo(RuntimeState.RUNNING);
        assertThat(admin.get("/v1/operations?targetId=" + vm1).json().findValuesAsText("kind")).doesNotContain("migrate_vm");
    }

    private static String create(TestApi admin, String tenantId, String name, long memoryMib, String group) {
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm(name, 1, memoryMib, 1, InProcessEnclave.TINY_IMAGE, true));
        body.put("tenantId", tenantId);
        if (group != null) body.put("antiAffinityGroup", group);
        Response r = admin.post("/v1/vms", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(202);
        return r.get("vm").get("id").asText();
    }

    private static String hostOf(TestApi admin, String vmId) {
        return admin.get("/v1/vms/" + vmId).get("hostId").asText();
    }

    private static void awaitRunning(TestApi admin, String vmId) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (admin.get("/v1/vms/" + vmId).get("phase").asText().equals("running")) return;
            InProcessEnclave.sleep(100);
        }
        throw new AssertionError(vmId + " not running: " + admin.get("/v1/vms/" + vmId));
    }
}
