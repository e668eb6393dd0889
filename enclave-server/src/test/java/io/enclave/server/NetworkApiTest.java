package io.enclave.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The network and firewall API's rules and bad input, checked at the API (no guest needed). */
class NetworkApiTest {
    InProcessEnclave enclave;

    @BeforeEach
    void start() {
        enclave = InProcessEnclave.start();
    }

    @AfterEach
    void stop() {
        enclave.close();
    }

    @Test
    void publicNetworkIsAdminOnlyValidatedAndItsPoolRunsOutCleanly() {
        TestApi t1 = enclave.tenant("pool-1", 2, 1024, 5, 2);
        assertThat(t1.put("/v1/public-network", Map.of("cidr", "198.51.100.0/29", "gateway", "198.51.100.1")).status())
                .isEqualTo(403);
        Response beforeConfigured = t1.post("/v1/networks", Map.of("name", "lan", "cidr", "10.1.0.0/24"));
        assertThat(beforeConfigured.status()).isEqualTo(409);
        assertThat(beforeConfigured.errorMessage()).contains("public network");
        assertThat(t1.get("/v1/networks").json()).isEmpty();

        assertThat(enclave.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/33", "gateway", "198.51.100.1"))
                .errorFields()).contains("cidr");
        assertThat(enclave.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/29", "gateway", "192.0.2.1"))
                .errorFields()).containsExactly("gateway");
        // A /29 has 6 host addresses; the gateway takes one: five tenants get a firewall, the sixth does not.
        assertThat(enclave.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/29", "gateway", "198.51.100.1"))
                .status()).isEqualTo(200);
        assertThat(t1.post("/v1/networks", Map.of("name", "lan", "cidr", "10.1.0.0/24")).status()).isEqualTo(201);
        for (int i = 2; i <= 5; i++) {
            TestApi t = enclave.tenant("pool-" + i, 2, 1024, 5, 2);
            assertThat(t.post("/v1/networks", Map.of("name", "lan", "cidr", "10.1.0.0/24")).status()).isEqualTo(201);
        }
        TestApi sixth = enclave.tenant("pool-6", 2, 1024, 5, 2);
        Response exhausted = sixth.post("/v1/networks", Map.of("name", "lan", "cidr", "10.1.0.0/24"));
        assertThat(exhausted.status()).isEqualTo(409);
        assertThat(exhausted.errorMessage()).contains("exhausted");
        assertThat(sixth.get("/v1/networks").json()).isEmpty();
        assertThat(sixth.get("/v1/firewall").status()).isEqualTo(404);
        // Shrinking the pool below addresses in use is refused.
        assertThat(enclave.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/30", "gateway", "198.51.100.1"))
                .status()).isEqualTo(409);
    }

    @Test
    void firewallRulesAreValidatedFieldByField() {
        enclave.admin.put("/v1/public-network", Map.of("cidr", "203.0.113.0/24", "gateway", "203.0.113.1"));
        TestApi t = enclave.tenant("rules", 2, 1024, 5, 2);
        assertThat(t.post("/v1/firewall/ingress", Map.of("protocol", "tcp", "portFrom", 22)).status())
                .as("no firewall before the first network").isEqualTo(409);
        assertThat(t.post("/v1/networks", Map.of("name", "lan", "cidr", "10.2.0.0/24")).status()).isEqualTo(201);
        assertThat(t.post("/v1/firewall/ingress", Map.of("protocol", "tcp", "portFrom", 0)).errorFields()).contains("portFrom");
        assertThat(t.post("/v1/firewall/ingress", Map.of("protocol", "tcp", "portFrom", 100, "portTo", 10)).errorFields())
                .contains("portTo");
        assertThat(t.post("/v1/firewall/ingress", Map.of("protocol", "sctp")).errorFields()).contains("protocol");
        assertThat(t.post("/v1/firewall/ingress", Map.of("protocol", "icmp", "portFrom", 1)).errorFields()).contains("protocol");
        assertThat(t.post("/v1/firewall/ingress", Map.of("sourceCidr", "10.0.0.0/40")).errorFields()).contains("sourceCidr");
        assertThat(t.post("/v1/firewall/forwards", Map.of("publicPort", 80, "vmId", "vm-000000000000", "targetPort", 80))
                .errorFields()).containsExactly("vmId");
        Response ok = t.post("/v1/firewall/ingress", Map.of("protocol", "tcp", "portFrom", 22, "sourceCidr", "192.0.2.0/24"));
        assertThat(ok.status()).as(ok.toString()).isEqualTo(201);
        String ruleId = ok.get("id").asText();
        assertThat(t.get("/v1/firewall").get("rules").findValuesAsText("id")).containsExactly(ruleId);
        TestApi other = enclave.tenant("rules-other", 2, 1024, 5, 2);
        assertThat(other.delete("/v1/firewall/rules/" + ruleId).status()).isEqualTo(404);
        assertThat(t.delete("/v1/firewall/rules/" + ruleId).status()).isEqualTo(204);
        assertThat(t.get("/v1/firewall").get("rules")).isEmpty();
    }

    @Test
    void aTenantWithNetworksCannotBeDeletedAndItsFirewallGoesWithIt() {
        enclave.admin.put("/v1/public-network", Map.of("cidr", "198.51.100.0/30", "gateway", "198.51.100.1"));
        TestApi t = enclave.tenant("leaving", 2, 1024, 5, 2);
        String tenantId = InProcessEnclave.tenantIdOf(t);
        Response net = t.post("/v1/networks", Map.of("name", "lan", "cidr", "10.3.0.0/24"));
        assertThat(net.status()).isEqualTo(201);
        String publicIp = t.get("/v1/firewall").get("publicIp").asText();
        Response refused = enclave.admin.delete("/v1/tenants/" + tenantId);
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.errorMessage()).contains("networks");
        assertThat(t.delete("/v1/networks/" + net.get("id").asText()).status()).isEqualTo(204);
        assertThat(enclave.admin.delete("/v1/tenants/" + tenantId).status()).isEqualTo(204);
        // A /30 pool has two host addresses; the gateway holds one: the freed address is handed out again.
        TestApi next = enclave.tenant("arriving", 2, 1024, 5, 2);
        assertThat(next.post("/v1/networks", Map.of("name", "lan", "cidr", "10.3.0.0/24")).status()).isEqualTo(201);
        assertThat(next.get("/v1/firewall").get("publicIp").asText()).isEqualTo(publicIp);
    }
}
