package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** An admin imports a user's qcow2 file; tenants create VMs from it; bad imports are refused. */
class ImageImportTest {
    static InProcessEnclave enclave;
    static Path work;

    @BeforeAll
    static void start() throws Exception {
        enclave = InProcessEnclave.start();
        work = Files.createTempDirectory("enclave-import");
    }

    @AfterAll
    static void stop() {
        try {
            enclave.close();
        } finally {
            InProcessEnclave.deleteTree(work);
        }
    }

    @Test
    void importedQcow2BootsThroughTheFirmware() {
        Path userDisk = work.resolve("user.qcow2");
        new ProcessCommandRunner().runChecked("qemu-img", "create", "-q", "-f", "qcow2", userDisk.toString(), "200M");
        TestApi tenant = enclave.tenant("importer", 2, 1024, 10, 2);
        assertThat(tenant.post("/v1/images", Map.of("name", "user-os", "path", userDisk.toString())).status()).isEqualTo(403);

        Response imported = enclave.admin.post("/v1/images", Map.of("name", "user-os", "path", userDisk.toString()));
        assertThat(imported.status()).as(imported.toString()).isEqualTo(201);
        assertThat(imported.get("directKernelBoot").asBoolean()).isFalse();
        assertThat(imported.get("virtualSizeBytes").asLong()).isEqualTo(200L << 20);
        assertThat(tenant.get("/v1/images").json().findValuesAsText("name")).contains("user-os");

        Response created = tenant.post("/v1/vms", vm("from-import", 1, 128, 1, "user-os", true));
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        String vmId = created.get("vm").path("id").asText();
        assertThat(awaitOperation(tenant, created.get("operation").path("id").asText(), Duration.ofSeconds(60))
                .path("status").asText()).isEqualTo("succeeded");
        assertThat(tenant.get("/v1/vms/" + vmId).get("phase").asText()).isEqualTo("running");
        assertThat(enclave.agent.status(vmId).processAlive()).isTrue();
        Response delete = tenant.delete("/v1/vms/" + vmId);
        assertThat(awaitOperation(tenant, delete.get("id").asText(), Duration.ofSeconds(60)).path("status").asText())
                .isEqualTo("succeeded");
    }

    @Test
    void badImportsAreRefusedAndLeaveNothing() throws Exception {
        assertThat(enclave.admin.post("/v1/images", Map.of("name", "ghost", "path", work.resolve("none.qcow2").toString()))
                .errorFields()).containsExactly("path");
        assertThat(enclave.admin.post("/v1/images", Map.of("name", "Bad Name", "path", "/etc/hostname")).errorFields())
                .contains("name");
        Path base = work.resolve("base.qcow2");
        Path overlay = work.resolve("overlay.qcow2");
        ProcessCommandRunner sh = new ProcessCommandRunner();
        sh.runChecked("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "10M");
        sh.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.toString(),
                overlay.toString()), Duration.ofSeconds(20));
        Response withBacking = enclave.admin.post("/v1/images", Map.of("name", "layered", "path", overlay.toString()));
        assertThat(withBacking.status()).isEqualTo(400);
        assertThat(withBacking.errorMessage()).contains("backing file");
        assertThat(enclave.admin.get("/v1/images").json().findValuesAsText("name")).doesNotContain("ghost", "layered");
        assertThat(enclave.admin.post("/v1/images", Map.of("name", "tiny", "path", base.toString())).status())
                .as("an image of that name exists").isEqualTo(409);
    }
}
