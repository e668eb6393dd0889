package io.enclave.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.server.testing.CliRun;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The enclave CLI against a real server: the admin's and a tenant's first steps, and its errors. */
class CliEndToEndTest {
    static InProcessEnclave enclave;

    @BeforeAll
    static void start() {
        enclave = InProcessEnclave.start();
    }

    @AfterAll
    static void stop() {
        enclave.close();
    }

    @Test
    void adminMakesATenantAndTheTenantManagesAVm() throws Exception {
        CliRun tenant = CliRun.of(enclave.admin, "tenant", "create", "cli-co", "--vcpus", "4", "--memory-mib", "2048",
                "--disk-gib", "10", "--vms", "3", "-o", "json");
        assertThat(tenant.exitCode()).as(tenant.stderr()).isZero();
        String tenantId = TestApi.JSON.readTree(tenant.stdout()).path("id").asText();

        CliRun token = CliRun.of(enclave.admin, "token", "create", tenantId, "laptop", "-o", "json");
        assertThat(token.exitCode()).as(token.stderr()).isZero();
        TestApi me = enclave.admin.withToken(TestApi.JSON.readTree(token.stdout()).path("token").asText());

        CliRun whoami = CliRun.of(me, "whoami", "-o", "json");
        assertThat(TestApi.JSON.readTree(whoami.stdout()).path("tenantId").asText()).isEqualTo(tenantId);

        CliRun create = CliRun.of(me, "vm", "create", "cli-vm", "--vcpus", "1", "--memory-mib", "128", "--disk-gib", "1",
                "--image", InProcessEnclave.TINY_IMAGE, "--no-start", "--wait", "-o", "json");
        assertThat(create.exitCode()).as(create.stderr()).isZero();
        JsonNode vm = TestApi.JSON.readTree(create.stdout());
        assertThat(vm.path("phase").asText()).isEqualTo("stopped");
        assertThat(create.stderr()).contains("%]");

        CliRun list = CliRun.of(me, "vm", "list");
        assertThat(list.exitCode()).isZero();
        assertThat(list.stdout()).contains("cli-vm").contains(vm.path("id").asText());

        CliRun delete = CliRun.of(me, "vm", "delete", vm.path("id").asText(), "--wait");
        assertThat(delete.exitCode()).as(delete.stderr()).isZero();
        assertThat(me.get("/v1/vms/" + vm.path("id").asText()).status()).isEqualTo(404);
        assertThat(enclave.agent.listVms()).doesNotContain(vm.path("id").asText());
    }

    @Test
    void errorsSayWhatIsWrongWithTheRightExitCode() {
        TestApi t = enclave.tenant("cli-errors", 2, 1024, 5, 2);
        CliRun bad = CliRun.of(t, "vm", "create", "Bad_Name", "--vcpus", "0", "--memory-mib", "128", "--disk-gib", "1",
                "--image", InProcessEnclave.TINY_IMAGE);
        assertThat(bad.exitCode()).isEqualTo(1);
        assertThat(bad.stderr()).contains("name").contains("vcpus");
        CliRun forbidden = CliRun.of(t, "host", "list");
        assertThat(forbidden.exitCode()).isEqualTo(1);
        assertThat(forbidden.stderr()).contains("administrators");
        CliRun missing = CliRun.of(t, "vm", "show", "vm-000000000000");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.stderr()).contains("not found");
        CliRun usage = CliRun.of(t, "vm", "frobnicate");
        assertThat(usage.exitCode()).isEqualTo(2);
    }
}
