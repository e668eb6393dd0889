package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The --wait polling loop against a server that answers a scripted sequence of operation states. */
class WaitTest {
    private static final String VM = """
            {"id":"vm-1","tenantId":"t-1","name":"web","vcpus":1,"memoryMib":512,"diskGib":1,"image":"alpine",
             "hostId":"h-1","desiredState":"running","generation":1,"phase":"running","observedGeneration":1,
             "guestReady":true,"message":null,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:09Z"}""";

    private FakeApi api;

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private static String op(String kind, String status, int progress, String message, String error) {
        return """
                {"id":"op-1","tenantId":"t-1","kind":"%s","targetId":"vm-1","targetGeneration":1,"status":"%s",
                 "progress":%d,"message":%s,"error":%s,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:01Z"}"""
                .formatted(kind, status, progress, quoted(message), quoted(error));
    }

    private static String quoted(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }

    private static JsonNode json(String text) throws IOException {
        return Json.read(text.getBytes(StandardCharsets.UTF_8));
    }

    private String[] create(String... extra) {
        String[] base = {"vm", "create", "web", "--vcpus", "1", "--memory-mib", "512", "--disk-gib", "1",
                "--image", "alpine", "--tenant", "t-1", "--wait", "--poll-interval-ms", "5"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    @Test
    void reportsEachChangeOnceThenPrintsTheFinalVm() throws IOException {
        api.on("POST", "/vms", 202, "{\"vm\":" + VM + ",\"operation\":" + op("create_vm", "pending", 0, null, null) + "}")
                .on("GET", "/operations/op-1", 200, op("create_vm", "pending", 0, null, null))
                .on("GET", "/operations/op-1", 200, op("create_vm", "running", 30, "creating disk", null))
                .on("GET", "/operations/op-1", 200, op("create_vm", "running", 30, "creating disk", null))
                .on("GET", "/operations/op-1", 200, op("create_vm", "running", 60, "booting guest", null))
                .on("GET", "/operations/op-1", 200, op("create_vm", "succeeded", 100, "running", null))
                .on("GET", "/vms/vm-1", 200, VM);

        Cli.Result r = Cli.run(api.env(), create("-o", "json"));

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEqualTo("""
                [  0%] pending
                [ 30%] running: creating disk
                [ 60%] running: booting guest
                [100%] succeeded: running
                """);
        assertThat(json(r.out())).isEqualTo(json(VM));
        assertThat(api.requests("GET", "/operations/op-1")).hasSize(5);
        assertThat(api.requests("GET", "/vms/vm-1")).hasSize(1);
    }

    @Test
    void aFailedOperationExitsThreeWithItsError() throws IOException {
        api.on("POST", "/vms", 202, "{\"vm\":" + VM + ",\"operation\":" + op("create_vm", "pending", 0, null, null) + "}")
                .on("GET", "/operations/op-1", 200, op("create_vm", "running", 40, "starting", null))
                .on("GET", "/operations/op-1", 200, op("create_vm", "failed", 40, "starting", "qemu exited with 1"));

        Cli.Result r = Cli.run(api.env(), create());

        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.err()).endsWith("[ 40%] failed: qemu exited with 1\n"
                + "error: operation op-1 (create_vm of vm-1) failed: qemu exited with 1\n");
        assertThat(r.out()).isEmpty();
        assertThat(api.requests("GET", "/vms/vm-1")).isEmpty();
    }

    @Test
    void givesUpAfterTheWaitTimeoutWithExitOne() {
        api.on("POST", "/vms/vm-1/stop", 202, op("stop_vm", "running", 10, "powering down", null))
                .on("GET", "/operations/op-1", 200, op("stop_vm", "running", 10, "powering down", null));

        long started = System.nanoTime();
        Cli.Result r = Cli.run(api.env(), "vm", "stop", "vm-1", "--wait", "--wait-timeout", "1",
                "--poll-interval-ms", "50");
        long elapsedMillis = (System.nanoTime() - started) / 1_000_000;

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("error: gave up waiting for operation op-1 after 1s; it is still running (10%)")
                .contains("enclave op wait op-1");
        assertThat(elapsedMillis).isBetween(900L, 10_000L);
        assertThat(api.requests("GET", "/operations/op-1").size()).isBetween(5, 25);
    }

    @Test
    void retriesPollsThatFailWithAServerError() {
        api.on("POST", "/vms/vm-1/start", 202, op("start_vm", "pending", 0, null, null))
                .on("GET", "/operations/op-1", 503,
                        "{\"error\":{\"status\":503,\"code\":\"internal_error\",\"message\":\"restarting\",\"fields\":[]}}")
                .on("GET", "/operations/op-1", 503,
                        "{\"error\":{\"status\":503,\"code\":\"internal_error\",\"message\":\"restarting\",\"fields\":[]}}")
                .on("GET", "/operations/op-1", 200, op("start_vm", "succeeded", 100, null, null))
                .on("GET", "/vms/vm-1", 200, VM);

        Cli.Result r = Cli.run(api.env(), "vm", "start", "vm-1", "--wait", "--poll-interval-ms", "5");

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEqualTo("""
                [  0%] pending
                polling failed, retrying: restarting
                [100%] succeeded
                """);
        assertThat(r.out()).contains("id:").contains("vm-1").contains("phase:").contains("running");
    }

    @Test
    void aPollAnsweredNotFoundStopsTheWait() {
        api.on("POST", "/vms/vm-1/reboot", 202, op("reboot_vm", "pending", 0, null, null));
        // GET /operations/op-1 is unscripted: the fake answers 404

        Cli.Result r = Cli.run(api.env(), "vm", "reboot", "vm-1", "--wait", "--poll-interval-ms", "5");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).endsWith("error: unscripted /v1/operations/op-1\n");
    }

    @Test
    void deleteWaitPrintsTheFinishedOperationNotTheVm() throws IOException {
        api.on("DELETE", "/vms/vm-1", 202, op("delete_vm", "pending", 0, null, null))
                .on("GET", "/operations/op-1", 200, op("delete_vm", "succeeded", 100, "deleted", null));

        Cli.Result r = Cli.run(api.env(), "-o", "json", "vm", "delete", "vm-1", "--wait", "--poll-interval-ms", "5",
                "--idempotency-key", "k-1");

        assertThat(r.exitCode()).isZero();
        assertThat(json(r.out())).isEqualTo(json(op("delete_vm", "succeeded", 100, "deleted", null)));
        assertThat(api.requests("GET", "/vms/vm-1")).isEmpty();
        assertThat(api.requests("DELETE", "/vms/vm-1").getFirst().header("Idempotency-Key")).isEqualTo("k-1");
    }

    @Test
    void onATerminalTheProgressLineIsRedrawnInPlace() {
        api.on("POST", "/vms/vm-1/start", 202, op("start_vm", "pending", 0, null, null))
                .on("GET", "/operations/op-1", 200, op("start_vm", "running", 50, "booting", null))
                .on("GET", "/operations/op-1", 200, op("start_vm", "succeeded", 100, null, null))
                .on("GET", "/vms/vm-1", 200, VM);

        Cli.Result r = Cli.run(true, api.env(), "vm", "start", "vm-1", "--wait", "--poll-interval-ms", "5");

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEqualTo("\r\033[K[  0%] pending\r\033[K[ 50%] running: booting\r\033[K[100%] succeeded\n");
    }

    @Test
    void opWaitFollowsAnExistingOperationAndPrintsIt() {
        api.on("GET", "/operations/op-1", 200, op("stop_vm", "running", 20, null, null))
                .on("GET", "/operations/op-1", 200, op("stop_vm", "succeeded", 100, null, null));

        Cli.Result r = Cli.run(api.env(), "op", "wait", "op-1", "--poll-interval-ms", "5");

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEqualTo("[ 20%] running\n[100%] succeeded\n");
        assertThat(r.out()).containsPattern("(?m)^status: +succeeded$");
    }

    @Test
    void withoutWaitTheAcceptedOperationIsPrintedAndNotPolled() {
        api.on("POST", "/vms/vm-1/stop", 202, op("stop_vm", "pending", 0, null, null));

        Cli.Result r = Cli.run(api.env(), "vm", "stop", "vm-1", "--timeout", "0");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).containsPattern("(?m)^id: +op-1$").containsPattern("(?m)^kind: +stop_vm$");
        assertThat(r.err()).isEmpty();
        assertThat(api.requests("POST", "/vms/vm-1/stop").getFirst().body()).isEqualTo("{\"timeoutSeconds\":0}");
        assertThat(api.requests("GET", "/operations/op-1")).isEmpty();
    }
}
