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
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A tenant's first VM, end to end with a real TCG guest: create, guest agent ready, a command inside
 * the guest, graceful stop, start (data kept), reboot (new boot), delete (nothing left on the host).
 */
class GuestLifecycleTest {
    static final Duration BOOT = Duration.ofMinutes(4);
    static InProcessEnclave enclave;
    static TestApi acme;

    @BeforeAll
    static void start() {
        enclave = InProcessEnclave.start(true, null);
        acme = enclave.tenant("acme", 4, 4096, 20, 5);
    }

    @AfterAll
    static void stop() {
        enclave.close();
    }

    @Test
    void createExecStopStartRebootDelete() {
        Response created = acme.post("/v1/vms", vm("web-1", 1, 192, 2, GuestImages.defaultImageName(), true));
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        String vmId = created.get("vm").path("id").asText();
        assertThat(created.get("vm").path("desiredState").asText()).isEqualTo("running");
        assertThat(created.get("operation").path("kind").asText()).isEqualTo("create_vm");

        JsonNode op = awaitOperation(acme, created.get("operation").path("id").asText(), BOOT);
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
        assertThat(op.path("progress").asInt()).isEqualTo(100);
        JsonNode vm = acme.get("/v1/vms/" + vmId).json();
        assertThat(vm.path("phase").asText()).isEqualTo("running");
        assertThat(vm.path("guestReady").asBoolean()).isTrue();
        assertThat(vm.path("observedGeneration").asLong()).isEqualTo(vm.path("generation").asLong());
        long pid = qemuPid(vmId).orElseThrow();
        assertThat(ProcessHandle.of(pid)).isPresent();

        Response uname = exec(vmId, "/bin/uname", "-a");
        assertThat(uname.get("exitCode").asInt()).isZero();
        assertThat(uname.get("stdout").asText()).startsWith("Linux web-1 ");
        assertThat(exec(vmId, "/bin/sh", "-c", "echo kept > /root/marker && sync").get("exitCode").asInt()).isZero();
        Response failing = exec(vmId, "/bin/sh", "-c", "echo oops >&2; exit 7");
        assertThat(failing.get("exitCode").asInt()).isEqualTo(7);
        assertThat(failing.get("stderr").asText()).isEqualTo("oops\n");
        // The same through the CLI: stdout, stderr and the guest's exit code.
        io.enclave.server.testing.CliRun viaCli = io.enclave.server.testing.CliRun.of(acme, "vm", "exec", vmId, "--",
                "/bin/sh", "-c", "hostname; echo to-stderr >&2; exit 3");
        assertThat(viaCli.exitCode()).isEqualTo(3);
        assertThat(viaCli.stdout()).isEqualTo("web-1\n");
        assertThat(viaCli.stderr()).contains("to-stderr");
        Response console = acme.get("/v1/vms/" + vmId + "/console");
        assertThat(console.status()).isEqualTo(200);
        assertThat(console.text()).contains("enclave-guest: ready");

        // Graceful stop: the guest powers itself off on the ACPI request, long before the 60 s timeout.
        Response stop = acme.post("/v1/vms/" + vmId + "/stop", Map.of("timeoutSeconds", 60));
        assertThat(stop.status()).isEqualTo(202);
        long stopAsked = System.nanoTime();
        assertThat(awaitOperation(acme, stop.get("id").asText(), Duration.ofSeconds(90)).path("status").asText())
                .isEqualTo("succeeded");
        assertThat(Duration.ofNanos(System.nanoTime() - stopAsked)).isLessThan(Duration.ofSeconds(55));
        assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
        assertThat(acme.get("/v1/vms/" + vmId).get("phase").asText()).isEqualTo("stopped");
        assertThat(acme.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/true"))).status()).isEqualTo(409);
        assertThat(acme.post("/v1/vms/" + vmId + "/reboot", null).status()).isEqualTo(409);

        Response start = acme.post("/v1/vms/" + vmId + "/start", null);
        assertThat(awaitOperation(acme, start.get("id").asText(), BOOT).path("status").asText()).isEqualTo("succeeded");
        assertThat(exec(vmId, "/bin/cat", "/root/marker").get("stdout").asText()).isEqualTo("kept\n");

        String bootId = exec(vmId, "/bin/cat", "/proc/sys/kernel/random/boot_id").get("stdout").asText();
        Response reboot = acme.post("/v1/vms/" + vmId + "/reboot", null);
        assertThat(awaitOperation(acme, reboot.get("id").asText(), BOOT).path("status").asText()).isEqualTo("succeeded");
        assertThat(exec(vmId, "/bin/cat", "/proc/sys/kernel/random/boot_id").get("stdout").asText())
                .isNotBlank().isNotEqualTo(bootId);

        long pidBeforeDelete = qemuPid(vmId).orElseThrow();
        Response delete = acme.delete("/v1/vms/" + vmId);
        assertThat(awaitOperation(acme, delete.get("id").asText(), Duration.ofSeconds(60)).path("status").asText())
                .isEqualTo("succeeded");
        assertThat(acme.get("/v1/vms/" + vmId).status()).isEqualTo(404);
        assertThat(ProcessHandle.of(pidBeforeDelete).filter(ProcessHandle::isAlive)).isEmpty();
        assertThat(enclave.dir.resolve("vms").resolve(vmId)).doesNotExist();
        assertThat(acme.get("/v1/operations?targetId=" + vmId).json().findValuesAsText("status"))
                .containsOnly("succeeded").hasSize(5);
    }

    private Response exec(String vmId, String... command) {
        Response r = acme.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of(command), "timeoutSeconds", 60));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        return r;
    }

    private Optional<Long> qemuPid(String vmId) {
        Path pidFile = enclave.dir.resolve("vms").resolve(vmId).resolve("qemu.pid");
        try {
            return Files.exists(pidFile) ? Optional.of(Long.parseLong(Files.readString(pidFile).strip())) : Optional.empty();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
