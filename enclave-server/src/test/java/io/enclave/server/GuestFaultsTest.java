package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Faults with a real guest: its QEMU killed, its kernel panicking, and a guest that ignores the ACPI
 * power button. Each is reported as what it is, and the VM can be started again.
 */
class GuestFaultsTest {
    static final Duration BOOT = Duration.ofMinutes(4);
    static InProcessEnclave enclave;
    static TestApi tenant;

    @BeforeAll
    static void start() {
        enclave = InProcessEnclave.start(true, null);
        tenant = enclave.tenant("faults", 4, 4096, 20, 5);
    }

    @AfterAll
    static void stop() {
        enclave.close();
    }

    @Test
    void deadQemuPanickedGuestAndIgnoredPowerButton() throws Exception {
        Response created = tenant.post("/v1/vms", vm("faulty", 1, 192, 1, GuestImages.defaultImageName(), true));
        String vmId = created.get("vm").path("id").asText();
        assertSucceeded(created.get("operation").path("id").asText(), BOOT);

        // 1. QEMU dies (kill -9): reported as crashed, with the reason.
        long pid = Long.parseLong(Files.readString(enclave.dir.resolve("vms").resolve(vmId).resolve("qemu.pid")).strip());
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        JsonNode crashed = awaitPhase(vmId, "crashed", Duration.ofSeconds(30));
        assertThat(crashed.path("message").asText()).contains("QEMU process exited unexpectedly");
        assertThat(crashed.path("desiredState").asText()).isEqualTo("stopped");

        // 2. Started again, then the guest kernel panics.
        assertSucceeded(tenant.post("/v1/vms/" + vmId + "/start", null).get("id").asText(), BOOT);
        Response trigger = exec(vmId, "/bin/sh", "-c", "(sleep 1; echo c > /proc/sysrq-trigger) >/dev/null 2>&1 &");
        assertThat(trigger.get("exitCode").asInt()).isZero();
        JsonNode panicked = awaitPhase(vmId, "crashed", Duration.ofSeconds(60));
        assertThat(panicked.path("message").asText()).isEqualTo("guest kernel panicked");
        assertThat(tenant.get("/v1/vms/" + vmId + "/console").text()).contains("Kernel panic");

        // 3. A guest that ignores the power button is forced off after the stop timeout.
        assertSucceeded(tenant.post("/v1/vms/" + vmId + "/start", null).get("id").asText(), BOOT);
        assertThat(exec(vmId, "/bin/sh", "-c", "killall acpid").get("exitCode").asInt()).isZero();
        long asked = System.nanoTime();
        Response stop = tenant.post("/v1/vms/" + vmId + "/stop", Map.of("timeoutSeconds", 4));
        assertSucceeded(stop.get("id").asText(), Duration.ofSeconds(60));
        assertThat(Duration.ofNanos(System.nanoTime() - asked)).isGreaterThanOrEqualTo(Duration.ofSeconds(4));
        assertThat(tenant.get("/v1/vms/" + vmId).get("phase").asText()).isEqualTo("stopped");
        assertThat(enclave.agent.status(vmId).processAlive()).isFalse();

        assertSucceeded(tenant.delete("/v1/vms/" + vmId).get("id").asText(), Duration.ofSeconds(60));
        assertThat(enclave.agent.listVms()).doesNotContain(vmId);
    }

    private void assertSucceeded(String operationId, Duration timeout) {
        JsonNode op = awaitOperation(tenant, operationId, timeout);
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
    }

    private JsonNode awaitPhase(String vmId, String phase, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode vm = tenant.get("/v1/vms/" + vmId).json();
            if (vm.path("phase").asText().equals(phase)) return vm;
            if (System.nanoTime() > deadline) throw new AssertionError("vm never reached " + phase + ": " + vm);
            InProcessEnclave.sleep(200);
        }
    }

    private Response exec(String vmId, String... command) {
        Response r = tenant.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of(command), "timeoutSeconds", 30));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r;
    }
}
