package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.TINY_IMAGE;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Bad input and bad credentials: each gets a 4xx that names what is wrong, and nothing is created. */
class ApiValidationTest {
    static InProcessEnclave enclave;
    static TestApi tenant;

    @BeforeAll
    static void start() {
        enclave = InProcessEnclave.start();
        tenant = enclave.tenant("validation", 8, 8192, 20, 10);
    }

    @AfterAll
    static void stop() {
        enclave.close();
    }

    @Test
    void healthAndOpenApiArePublic() {
        TestApi anonymous = enclave.admin.withToken(null);
        assertThat(anonymous.get("/v1/health").status()).isEqualTo(200);
        Response doc = anonymous.get("/v1/openapi.yaml");
        assertThat(doc.status()).isEqualTo(200);
        assertThat(doc.text()).startsWith("openapi: 3");
    }

    @Test
    void missingOrBadTokenIs401AndTenantOnAdminEndpointIs403() {
        Response none = enclave.admin.withToken(null).get("/v1/vms");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.errorMessage()).contains("Authorization");
        Response bad = enclave.admin.withToken("enc_not-a-real-token").get("/v1/vms");
        assertThat(bad.status()).isEqualTo(401);
        assertThat(bad.errorMessage()).contains("invalid");
        Response forbidden = tenant.post("/v1/tenants", Map.of("name", "sneaky",
                "quota", Map.of("vcpus", 1, "memoryMib", 1, "diskGib", 1, "vms", 1)));
        assertThat(forbidden.status()).isEqualTo(403);
        assertThat(tenant.get("/v1/tenants").status()).isEqualTo(403);
        assertThat(tenant.get("/v1/hosts").status()).isEqualTo(403);
        assertThat(enclave.admin.get("/v1/tenants").json().findValuesAsText("name")).doesNotContain("sneaky");
    }

    @Test
    void unknownEndpointIsJson404() {
        Response r = tenant.get("/v1/nothing-here");
        assertThat(r.status()).isEqualTo(404);
        assertThat(r.errorMessage()).contains("/v1/nothing-here");
    }

    @Test
    void eachInvalidVmFieldIsNamedAndNothingIsCreated() {
        assertRejected(400, "name", with("name", "Not_A_DNS_Label"));
        assertRejected(400, "name", with("name", "-leading-dash"));
        assertRejected(400, "vcpus", with("vcpus", 0));
        assertRejected(400, "vcpus", with("vcpus", 4096));
        assertRejected(400, "memoryMib", with("memoryMib", 32));
        assertRejected(400, "memoryMib", with("memoryMib", 64L * 1024 * 1024));
        assertRejected(400, "diskGib", with("diskGib", 0));
        assertRejected(422, "diskGib", with("diskGib", 21));
        assertRejected(400, "image", with("image", "no-such-image"));
        assertRejected(400, "vcpus", with("vcpus", "two"));
        assertRejected(400, "color", with("color", "blue"));
        Map<String, Object> missing = with("name", "ok");
        missing.remove("vcpus");
        assertRejected(400, "vcpus", missing);

        Response malformed = tenant.post("/v1/vms", "{\"name\": \"x\", ");
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.errorFields()).containsExactly("body");
        assertThat(malformed.errorMessage()).contains("malformed JSON");
        assertThat(tenant.post("/v1/vms", "").errorFields()).containsExactly("body");
        assertThat(tenant.post("/v1/vms", "[1,2]").status()).isEqualTo(400);

        Response several = tenant.post("/v1/vms", Map.of("name", "BAD", "vcpus", 0, "memoryMib", 1, "diskGib", 0,
                "image", TINY_IMAGE));
        assertThat(several.status()).isEqualTo(400);
        assertThat(several.errorFields()).contains("name", "vcpus", "memoryMib", "diskGib");

        assertThat(tenant.get("/v1/vms").get("items")).isEmpty();
        assertThat(enclave.agent.listVms()).isEmpty();
        assertThat(tenant.get("/v1/operations").json()).isEmpty();
    }

    @Test
    void invalidTenantAndQueryParametersAreNamed() {
        Response badTenant = enclave.admin.post("/v1/tenants", Map.of("name", "UPPER",
                "quota", Map.of("vcpus", -1, "memoryMib", 1, "diskGib", 1, "vms", 1)));
        assertThat(badTenant.status()).isEqualTo(400);
        assertThat(badTenant.errorFields()).contains("name", "quota.vcpus");
        Response noQuota = enclave.admin.post("/v1/tenants", Map.of("name", "noquota"));
        assertThat(noQuota.errorFields()).containsExactly("quota");
        assertThat(enclave.admin.post("/v1/tenants", Map.of("name", "validation",
                "quota", Map.of("vcpus", 1, "memoryMib", 1, "diskGib", 1, "vms", 1))).status()).isEqualTo(409);
        assertThat(tenant.get("/v1/vms?limit=0").errorFields()).containsExactly("limit");
        assertThat(tenant.get("/v1/vms?limit=abc").errorFields()).containsExactly("limit");
        assertThat(tenant.post("/v1/vms/vm-000000000000/stop", Map.of("timeoutSeconds", -5)).status()).isEqualTo(400);
    }

    private Map<String, Object> with(String field, Object value) {
        Map<String, Object> body = new HashMap<>(vm("ok-name", 1, 128, 1, TINY_IMAGE, false));
        body.put(field, value);
        return body;
    }

    private void assertRejected(int status, String field, Map<String, Object> body) {
        Response r = tenant.post("/v1/vms", body);
        assertThat(r.status()).as("%s -> %s", body, r).isEqualTo(status);
        assertThat(r.errorFields()).as(r.toString()).contains(field);
        assertThat(r.errorMessage()).isNotBlank();
    }
}
