package io.enclave.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Benchmarks of the foundation against a running enclave-server (see bench/foundation.sh).
 * <ul>
 *   <li>{@code provision URL ADMIN_TOKEN IMAGE N}: N sequential creates on a real QEMU host: time from the
 *       API request to QEMU started (phase leaves creating) and to guest ready; each VM is deleted after.</li>
 *   <li>{@code scale URL ADMIN_TOKEN N}: seeds N VMs (run the server with the SIMULATOR host driver), then
 *       times list-all and get-one, server side (Server-Timing) and client side.</li>
 * </ul>
 */
public final class FoundationBench {

    public static void main(String[] args) throws Exception {
        Api admin = new Api(args[1], args[2]);
        switch (args[0]) {
            case "provision" -> provision(admin, args[3], Integer.parseInt(args[4]));
            case "scale" -> scale(admin, Integer.parseInt(args[3]));
            default -> throw new IllegalArgumentException("provision|scale");
        }
    }

    static Api tenant(Api admin, String name, int vms) throws Exception {
        JsonNode t = admin.post("/v1/tenants", Map.of("name", name, "quota",
                Map.of("vcpus", vms * 2, "memoryMib", vms * 256L, "diskGib", vms * 2L, "vms", vms))).json();
        JsonNode tok = admin.post("/v1/tenants/" + t.path("id").asText() + "/tokens", Map.of("name", "bench")).json();
        return admin.as(tok.path("token").asText());
    }

    static void provision(Api admin, String image, int n) throws Exception {
        Api api = tenant(admin, "bench-provision", n + 1);
        Stats started = new Stats();
        Stats ready = new Stats();
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            JsonNode accepted = api.post("/v1/vms", Map.of("name", "p" + i, "vcpus", 1, "memoryMib", 192, "diskGib", 1,
                    "image", image)).json();
            String id = accepted.path("vm").path("id").asText();
            boolean sawStart = false;
            while (true) {
                JsonNode vm = api.get("/v1/vms/" + id).json();
                String phase = vm.path("phase").asText();
                if (!sawStart && (phase.equals("starting") || phase.equals("running"))) {
                    started.add((System.nanoTime() - t0) / 1e6);
                    sawStart = true;
                }
                if (vm.path("guestReady").asBoolean()) {
                    ready.add((System.nanoTime() - t0) / 1e6);
                    break;
                }
                if (phase.equals("failed")) throw new IllegalStateException("vm failed: " + vm);
                Thread.sleep(sawStart ? 20 : 5);
            }
            String op = api.delete("/v1/vms/" + id).json().path("id").asText();
            while (!api.get("/v1/operations/" + op).json().path("status").asText().equals("succeeded")) Thread.sleep(50);
            System.out.printf("create %d: QEMU started %.1f ms, guest ready %.0f ms%n", i, started.last(), ready.last());
        }
        System.out.println("RESULT request->QEMU started, seen by a client polling every 5 ms: " + started.summary(" ms"));
        System.out.println("RESULT request->guest ready (TCG): " + ready.summary(" ms"));
    }

    static void scale(Api admin, int n) throws Exception {
        int tenants = 20;
        int perTenant = n / tenants;
        List<Api> apis = new ArrayList<>();
        for (int t = 0; t < tenants; t++) apis.add(tenant(admin, "scale-" + t, perTenant));
        AtomicInteger done = new AtomicInteger();
        long t0 = System.nanoTime();
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < tenants; t++) {
                Api api = apis.get(t);
                for (int i = 0; i < perTenant; i++) {
                    String name = "s" + i;
                    futures.add(pool.submit(() -> {
                        api.post("/v1/vms", Map.of("name", name, "vcpus", 1, "memoryMib", 128, "diskGib", 1,
                                "image", "tiny", "start", false));
                        done.incrementAndGet();
                        return null;
                    }));
                }
            }
            for (Future<?> f : futures) f.get();
        }
        double seedS = (System.nanoTime() - t0) / 1e9;
        System.out.printf("RESULT seeded %d VMs through the API in %.1f s (%.0f creates/s)%n", done.get(), seedS, done.get() / seedS);

        Stats listServer = new Stats();
        Stats listClient = new Stats();
        int count = 0;
        for (int i = 0; i < 20; i++) {
            Api.Answer a = admin.get("/v1/vms?limit=50000");
            listServer.add(a.serverMs());
            listClient.add(a.clientMs());
            count = a.json().path("items").size();
        }
        System.out.println("RESULT list all (" + count + " VMs, one page) server: " + listServer.summary(" ms"));
        System.out.println("RESULT list all (" + count + " VMs, one page) client: " + listClient.summary(" ms"));

        Stats pageServer = new Stats();
        for (int i = 0; i < 50; i++) pageServer.add(admin.get("/v1/vms?limit=100").serverMs());
        System.out.println("RESULT list one page of 100 server: " + pageServer.summary(" ms"));

        String someId = admin.get("/v1/vms?limit=1").json().path("items").get(0).path("id").asText();
        Stats getServer = new Stats();
        Stats getClient = new Stats();
        for (int i = 0; i < 500; i++) {
            Api.Answer a = admin.get("/v1/vms/" + someId);
            getServer.add(a.serverMs());
            getClient.add(a.clientMs());
        }
        System.out.println("RESULT get one server: " + getServer.summary(" ms"));
        System.out.println("RESULT get one client: " + getClient.summary(" ms"));
        System.out.println("GETPATH /v1/vms/" + someId);
    }
}
