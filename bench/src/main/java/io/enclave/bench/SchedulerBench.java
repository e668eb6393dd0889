package io.enclave.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Placement at scale (bench/scheduler.sh): against an enclave-server running the SIMULATOR host driver
 * with many simulated hosts, creates N VMs through the API (20 tenants, 8 client threads, half of them in
 * anti-affinity groups) and reports the create latency the server measured, the throughput, and how
 * evenly the hosts were filled.
 * Usage: {@code URL ADMIN_TOKEN N}
 */
public final class SchedulerBench {

    public static void main(String[] args) throws Exception {
        Api admin = new Api(args[0], args[1]);
        int n = Integer.parseInt(args[2]);
        int hosts = admin.get("/v1/hosts").json().size();
        int tenants = 20;
        int perTenant = n / tenants;
        List<Api> apis = new ArrayList<>();
        for (int t = 0; t < tenants; t++) apis.add(FoundationBench.tenant(admin, "sched-" + t, perTenant));
        ConcurrentLinkedQueue<Double> server = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        long t0 = System.nanoTime();
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < tenants; t++) {
                Api api = apis.get(t);
                for (int i = 0; i < perTenant; i++) {
                    Map<String, Object> body = new HashMap<>(Map.of("name", "s" + i, "vcpus", 1, "memoryMib", 128,
                            "diskGib", 1, "image", "tiny", "start", false));
                    // Half the VMs in groups of 10 that must land on 10 different hosts.
                    if (i % 2 == 0) body.put("antiAffinityGroup", "g" + (i / 20));
                    futures.add(pool.submit(() -> {
                        Api.Answer a = api.post("/v1/vms", body);
                        if (a.status() != 202) failures.add(a.status() + " " + a.json());
                        else server.add(a.serverMs());
                        return null;
                    }));
                }
            }
            for (Future<?> f : futures) f.get();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Stats s = new Stats();
        server.forEach(s::add);
        System.out.printf("RESULT placed %d VMs on %d simulated hosts in %.1f s (%.0f creates/s), %d refused%n",
                server.size(), hosts, seconds, server.size() / seconds, failures.size());
        System.out.println("RESULT create (scheduler included) server time: " + s.summary(" ms"));
        failures.stream().limit(3).forEach(f -> System.out.println("refused: " + f));

        Map<String, Integer> perHost = new HashMap<>();
        String after = null;
        while (true) {
            JsonNode page = admin.get("/v1/vms?limit=1000" + (after == null ? "" : "&after=" + after)).json();
            for (JsonNode vm : page.path("items")) perHost.merge(vm.path("hostId").asText(), 1, Integer::sum);
            after = page.path("next").isNull() || page.path("next").isMissingNode() ? null : page.path("next").asText();
            if (after == null || after.isEmpty()) break;
        }
        int min = perHost.size() < hosts ? 0 : perHost.values().stream().min(Integer::compare).orElse(0);
        int max = perHost.values().stream().max(Integer::compare).orElse(0);
        System.out.printf("RESULT spread: %d of %d hosts used, VMs per host min %d, max %d%n", perHost.size(), hosts, min, max);
    }
}
