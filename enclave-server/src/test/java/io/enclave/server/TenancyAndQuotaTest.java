package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.TINY_IMAGE;
import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tenancy, quotas and idempotency against a real host agent. VMs here are created stopped: their
 * disks are made on the host for real, but no guest needs to boot to prove these rules.
 */
class TenancyAndQuotaTest {
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
    void anotherTenantsVmAnswers404EverywhereAndAdminsSeeAll() {
        TestApi alice = enclave.tenant("alice", 4, 4096, 10, 5);
        TestApi bob = enclave.tenant("bob", 4, 4096, 10, 5);
        Response created = alice.post("/v1/vms", vm("web", 1, 128, 1, TINY_IMAGE, false));
        assertThat(created.status()).isEqualTo(202);
        String vmId = created.get("vm").path("id").asText();
        String opId = created.get("operation").path("id").asText();
        assertThat(awaitOperation(alice, opId, Duration.ofSeconds(30)).path("status").asText()).isEqualTo("succeeded");

        for (Response r : List.of(bob.get("/v1/vms/" + vmId), bob.post("/v1/vms/" + vmId + "/start", null),
                bob.post("/v1/vms/" + vmId + "/stop", null), bob.post("/v1/vms/" + vmId + "/reboot", null),
                bob.delete("/v1/vms/" + vmId), bob.get("/v1/vms/" + vmId + "/console"),
                bob.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/true"))),
                bob.get("/v1/operations/" + opId), bob.get("/v1/tenants/" + InProcessEnclave.tenantIdOf(alice)))) {
            assertThat(r.status()).as(r.toString()).isEqualTo(404);
        }
        assertThat(bob.get("/v1/vms").get("items")).isEmpty();
        assertThat(bob.get("/v1/operations").json()).isEmpty();
        // Bob cannot create into Alice's tenant either.
        Map<String, Object> intoAlice = new java.util.HashMap<>(vm("intruder", 1, 128, 1, TINY_IMAGE, false));
        intoAlice.put("tenantId", InProcessEnclave.tenantIdOf(alice));
        assertThat(bob.post("/v1/vms", intoAlice).status()).isEqualTo(403);

        assertThat(alice.get("/v1/vms/" + vmId).get("phase").asText()).isEqualTo("stopped");
        assertThat(enclave.admin.get("/v1/vms/" + vmId).status()).isEqualTo(200);
        assertThat(enclave.admin.get("/v1/vms").get("items").findValuesAsText("id")).contains(vmId);

        Response deleted = enclave.admin.delete("/v1/vms/" + vmId);
        assertThat(deleted.status()).isEqualTo(202);
        assertThat(awaitOperation(alice, deleted.get("id").asText(), Duration.ofSeconds(30)).path("status").asText())
                .isEqualTo("succeeded");
        assertThat(alice.get("/v1/vms/" + vmId).status()).isEqualTo(404);
        assertThat(enclave.agent.listVms()).doesNotContain(vmId);
    }

    @Test
    void twentyParallelCreatesAtTheQuotaEdgeAdmitExactlyWhatFits() throws Exception {
        TestApi carol = enclave.tenant("carol", 100, 100_000, 100, 5);
        int parallel = 20;
        CountDownLatch go = new CountDownLatch(1);
        List<Callable<Response>> calls = new ArrayList<>();
        for (int i = 0; i < parallel; i++) {
            String name = "q" + i;
            calls.add(() -> {
                go.await();
                return carol.post("/v1/vms", vm(name, 1, 128, 1, TINY_IMAGE, false));
            });
        }
        List<Response> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(parallel)) {
            List<Future<Response>> futures = calls.stream().map(pool::submit).toList();
            go.countDown();
            for (Future<Response> f : futures) results.add(f.get());
        }
        long accepted = results.stream().filter(r -> r.status() == 202).count();
        List<Response> refused = results.stream().filter(r -> r.status() != 202).toList();
        assertThat(accepted).isEqualTo(5);
        assertThat(refused).hasSize(15).allSatisfy(r -> {
            assertThat(r.status()).isEqualTo(422);
            assertThat(r.errorFields()).contains("vms");
        });
        assertThat(carol.get("/v1/vms").get("items")).hasSize(5);
        assertThat(carol.get("/v1/tenants/" + InProcessEnclave.tenantIdOf(carol)).get("usage").path("vms").asInt())
                .isEqualTo(5);
    }

    @Test
    void theSameIdempotencyKeyCreatesOnce() {
        TestApi dave = enclave.tenant("dave", 4, 4096, 10, 5);
        Response first = dave.post("/v1/vms", vm("once", 1, 128, 1, TINY_IMAGE, false), "key-123");
        Response second = dave.post("/v1/vms", vm("once", 1, 128, 1, TINY_IMAGE, false), "key-123");
        assertThat(first.status()).isEqualTo(202);
        assertThat(second.status()).isEqualTo(202);
        assertThat(second.get("operation").path("id").asText()).isEqualTo(first.get("operation").path("id").asText());
        assertThat(second.get("vm").path("id").asText()).isEqualTo(first.get("vm").path("id").asText());
        assertThat(dave.get("/v1/vms").get("items")).hasSize(1);
        // Without the key, the same name is a conflict, not a second VM.
        Response again = dave.post("/v1/vms", vm("once", 1, 128, 1, TINY_IMAGE, false));
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.errorMessage()).contains("once");
    }

    @Test
    void listingPagesWithACursor() {
        TestApi erin = enclave.tenant("erin", 10, 10_000, 10, 10);
        for (int i = 0; i < 5; i++) {
            assertThat(erin.post("/v1/vms", vm("p" + i, 1, 128, 1, TINY_IMAGE, false)).status()).isEqualTo(202);
        }
        Response page1 = erin.get("/v1/vms?limit=2");
        assertThat(page1.get("items")).hasSize(2);
        String next = page1.get("next").asText();
        Response page2 = erin.get("/v1/vms?limit=2&after=" + next);
        Response page3 = erin.get("/v1/vms?limit=2&after=" + page2.get("next").asText());
        assertThat(page3.get("items")).hasSize(1);
        assertThat(page3.get("next").isNull()).isTrue();
        List<String> all = new ArrayList<>();
        for (Response p : List.of(page1, page2, page3)) all.addAll(p.get("items").findValuesAsText("id"));
        assertThat(all).doesNotHaveDuplicates().hasSize(5).isSorted();
    }
}
