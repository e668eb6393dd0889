package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.TINY_IMAGE;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import io.enclave.server.testing.TestDevices;
import io.enclave.server.testing.TestDevices.Dev;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The storage API against real devices (ext4 on loop devices) and qemu-img: devices and pools, volumes,
 * snapshots, bad input that must change nothing, tenancy, quota, a failed device and its resync.
 */
class StorageApiTest {
    static final int DEVICE_MIB = 3072;

    InProcessEnclave enclave;
    TestDevices devices;

    @BeforeEach
    void start() throws Exception {
        devices = new TestDevices();
        enclave = InProcessEnclave.start();
    }

    @AfterEach
    void stop() {
        try {
            if (enclave != null) enclave.close();
        } finally {
            devices.close();
        }
    }

    @Test
    void adminRegistersDevicesAndPoolsAndSeesCapacityUsageAndHealth() throws Exception {
        Dev d1 = devices.add("a1", DEVICE_MIB);
        Dev d2 = devices.add("a2", DEVICE_MIB);
        TestApi tenant = enclave.tenant("viewer", 2, 1024, 10, 2);
        assertThat(tenant.post("/v1/storage/devices", Map.of("path", d1.mount().toString())).status()).isEqualTo(403);
        assertThat(tenant.get("/v1/storage/pools").status()).isEqualTo(403);

        assertThat(enclave.admin.post("/v1/storage/devices", Map.of("path", "relative/dir")).errorFields()).containsExactly("path");
        assertThat(enclave.admin.post("/v1/storage/devices", Map.of("path", "/tmp/../etc")).errorFields()).containsExactly("path");
        Response notMounted = enclave.admin.post("/v1/storage/devices",
                Map.of("path", Files.createDirectories(devices.root.resolve("plain")).toString()));
        assertThat(notMounted.errorFields()).as(notMounted.toString()).containsExactly("path");
        assertThat(notMounted.errorMessage()).contains("own filesystem");
        assertThat(enclave.admin.post("/v1/storage/devices", Map.of("path", d1.mount().toString(), "hostId", "nope"))
                .errorFields()).containsExactly("hostId");
        assertThat(enclave.admin.get("/v1/storage/devices").json()).isEmpty();

        JsonNode dev1 = register(d1);
        assertThat(dev1.path("health").asText()).isEqualTo("online");
        assertThat(dev1.path("capacityBytes").asLong()).isBetween(2500L << 20, 3072L << 20);
        assertThat(dev1.path("reservedBytes").asLong()).isZero();
        assertThat(dev1.path("poolId").isNull()).isTrue();
        assertThat(enclave.admin.post("/v1/storage/devices", Map.of("path", d1.mount().toString())).status()).isEqualTo(409);
        JsonNode dev2 = register(d2);

        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "p", "deviceIds", List.of("dev-000000000000")))
                .errorFields()).containsExactly("deviceIds");
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "Bad_Name", "deviceIds", List.of(dev1.path("id").asText())))
                .errorFields()).containsExactly("name");
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "p", "deviceIds",
                List.of(dev1.path("id").asText(), dev1.path("id").asText()))).errorFields()).containsExactly("deviceIds");
        Response pool = enclave.admin.post("/v1/storage/pools", Map.of("name", "fast",
                "deviceIds", List.of(dev1.path("id").asText(), dev2.path("id").asText())));
        assertThat(pool.status()).as(pool.toString()).isEqualTo(201);
        assertThat(pool.get("health").asText()).isEqualTo("healthy");
        assertThat(pool.get("onlineDevices").asInt()).isEqualTo(2);
        assertThat(pool.get("capacityBytes").asLong())
                .isEqualTo(dev1.path("capacityBytes").asLong() + dev2.path("capacityBytes").asLong());
        assertThat(pool.get("devices").findValuesAsText("id")).containsExactly(dev1.path("id").asText(), dev2.path("id").asText());
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "fast", "deviceIds", List.of())).status())
                .isEqualTo(400);
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "other", "deviceIds", List.of(dev1.path("id").asText())))
                .errorFields()).as("a device is in one pool only").containsExactly("deviceIds");
        assertThat(enclave.admin.get("/v1/storage/pools").json()).hasSize(1);
        assertThat(enclave.admin.get("/v1/storage/devices").json().findValuesAsText("poolId"))
                .containsOnly(pool.get("id").asText());
    }

    @Test
    void volumesAreCreatedGrownSnapshottedAndDeletedAndBadInputChangesNothing() throws Exception {
        String poolId = pool("main", devices.add("b1", DEVICE_MIB), devices.add("b2", DEVICE_MIB));
        TestApi acme = enclave.tenant("acme", 2, 1024, 10, 2);

        assertThat(acme.post("/v1/volumes", volume("data", 0, 1)).errorFields()).containsExactly("sizeGib");
        assertThat(acme.post("/v1/volumes", volume("data", 1, 4)).errorFields()).containsExactly("copies");
        Response tooManyCopies = acme.post("/v1/volumes", volume("data", 1, 3));
        assertThat(tooManyCopies.errorFields()).containsExactly("copies");
        assertThat(tooManyCopies.errorMessage()).contains("only 2 online devices");
        Response tooBig = acme.post("/v1/volumes", volume("data", 3, 1));
        assertThat(tooBig.errorFields()).as("beyond every device's capacity").containsExactly("sizeGib");
        assertThat(tooBig.errorMessage()).contains("free");
        assertThat(acme.post("/v1/volumes", Map.of("name", "data", "pool", "nope", "sizeGib", 1)).errorFields())
                .containsExactly("pool");
        assertThat(acme.post("/v1/volumes", Map.of("name", "data", "sizeGib", 1, "extra", 1)).status()).isEqualTo(400);
        assertThat(acme.get("/v1/volumes").json()).isEmpty();
        assertThat(volumeFiles()).isEmpty();

        Response created = acme.post("/v1/volumes", volume("data", 1, 2));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String id = created.get("id").asText();
        assertThat(created.get("health").asText()).isEqualTo("healthy");
        assertThat(created.get("poolId").asText()).isEqualTo(poolId);
        assertThat(created.get("placement").findValuesAsText("state")).containsExactly("in_sync", "in_sync");
        assertThat(created.get("placement").findValuesAsText("deviceId")).doesNotHaveDuplicates();
        assertThat(volumeFiles()).hasSize(2);
        assertThat(acme.post("/v1/volumes", volume("data", 1, 1)).status()).as("name taken").isEqualTo(409);
        assertThat(enclave.admin.get("/v1/storage/pools").json().get(0).path("reservedBytes").asLong()).isEqualTo(2L << 30);
        assertThat(acme.get("/v1/tenants/" + InProcessEnclave.tenantIdOf(acme)).get("usage").path("diskGib").asLong())
                .as("a volume counts once at its size").isEqualTo(1);

        assertThat(acme.post("/v1/volumes/" + id + "/grow", Map.of("sizeGib", 1)).errorFields())
                .as("not larger").containsExactly("sizeGib");
        assertThat(acme.post("/v1/volumes/" + id + "/grow", Map.of("sizeGib", 0)).errorFields()).containsExactly("sizeGib");
        assertThat(acme.post("/v1/volumes/" + id + "/grow", Map.of("sizeGib", 4)).errorFields())
                .as("beyond the devices").containsExactly("sizeGib");
        Response grown = acme.post("/v1/volumes/" + id + "/grow", Map.of("sizeGib", 2));
        assertThat(grown.status()).as(grown.toString()).isEqualTo(200);
        assertThat(grown.get("sizeGib").asLong()).isEqualTo(2);
        assertThat(qemuImgVirtualSize(volumeFiles().getFirst())).isEqualTo(2L << 30);

        assertThat(acme.post("/v1/volumes/" + id + "/snapshots", Map.of("name", "bad name")).errorFields()).containsExactly("name");
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots", Map.of("name", "s1")).status()).isEqualTo(201);
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots", Map.of("name", "s1")).status()).isEqualTo(409);
        assertThat(acme.get("/v1/volumes/" + id + "/snapshots").json().findValuesAsText("name")).containsExactly("s1");
        for (String file : volumeFiles()) assertThat(qemuImgSnapshots(file)).contains("s1");
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots/s1/revert", Map.of()).status()).isEqualTo(200);
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots/nope/revert", Map.of()).status()).isEqualTo(404);
        assertThat(acme.delete("/v1/volumes/" + id + "/snapshots/s1").status()).isEqualTo(204);
        assertThat(acme.delete("/v1/volumes/" + id + "/snapshots/s1").status()).isEqualTo(404);
        for (String file : volumeFiles()) assertThat(qemuImgSnapshots(file)).doesNotContain("s1");

        assertThat(acme.delete("/v1/volumes/" + id).status()).isEqualTo(204);
        assertThat(acme.get("/v1/volumes/" + id).status()).isEqualTo(404);
        assertThat(volumeFiles()).isEmpty();
        assertThat(enclave.admin.get("/v1/storage/pools").json().get(0).path("reservedBytes").asLong()).isZero();

        // A create retried with its Idempotency-Key makes one volume and answers with it again.
        Response first = acme.post("/v1/volumes", volume("retried", 1, 1), "vol-key-1");
        Response again = acme.post("/v1/volumes", volume("retried", 1, 1), "vol-key-1");
        assertThat(first.status()).as(first.toString()).isEqualTo(201);
        assertThat(again.status()).as(again.toString()).isEqualTo(201);
        assertThat(again.get("id").asText()).isEqualTo(first.get("id").asText());
        assertThat(acme.get("/v1/volumes").json()).hasSize(1);
        assertThat(volumeFiles()).hasSize(1);
        assertThat(acme.delete("/v1/volumes/" + first.get("id").asText()).status()).isEqualTo(204);
    }

    @Test
    void anotherTenantsVolumeIsNotFoundAndAttachRulesHold() throws Exception {
        pool("main", devices.add("c1", DEVICE_MIB), devices.add("c2", DEVICE_MIB));
        TestApi acme = enclave.tenant("acme", 2, 1024, 10, 2);
        TestApi other = enclave.tenant("other", 2, 1024, 10, 2);
        String id = acme.post("/v1/volumes", volume("data", 1, 1)).get("id").asText();

        assertThat(other.get("/v1/volumes/" + id).status()).isEqualTo(404);
        assertThat(other.get("/v1/volumes").json()).isEmpty();
        assertThat(other.delete("/v1/volumes/" + id).status()).isEqualTo(404);
        assertThat(other.post("/v1/volumes/" + id + "/grow", Map.of("sizeGib", 2)).status()).isEqualTo(404);
        assertThat(other.post("/v1/volumes/" + id + "/snapshots", Map.of("name", "s")).status()).isEqualTo(404);
        assertThat(other.post("/v1/volumes/" + id + "/resync", Map.of()).status()).isEqualTo(403);
        assertThat(enclave.admin.get("/v1/volumes").json().findValuesAsText("id")).containsExactly(id);

        String otherVm = other.post("/v1/vms", vm("theirs", 1, 128, 1, TINY_IMAGE, false)).get("vm").path("id").asText();
        Response intoOther = acme.post("/v1/volumes/" + id + "/attach", Map.of("vmId", otherVm));
        assertThat(intoOther.status()).as("another tenant's VM does not exist for acme").isEqualTo(404);
        assertThat(intoOther.errorMessage()).contains(otherVm);
        assertThat(acme.post("/v1/volumes/" + id + "/attach", Map.of()).errorFields()).containsExactly("vmId");
        assertThat(acme.post("/v1/volumes/" + id + "/detach", Map.of()).status()).as("not attached").isEqualTo(409);

        // A stopped VM: the attachment is recorded, and its QEMU gets the volume when it starts.
        Response stoppedVm = acme.post("/v1/vms", vm("stopped", 1, 128, 1, TINY_IMAGE, false));
        String stopped = stoppedVm.get("vm").path("id").asText();
        InProcessEnclave.awaitOperation(acme, stoppedVm.get("operation").path("id").asText(), Duration.ofSeconds(60));
        Response toStopped = acme.post("/v1/volumes/" + id + "/attach", Map.of("vmId", stopped));
        assertThat(toStopped.status()).as(toStopped.toString()).isEqualTo(200);
        assertThat(toStopped.get("attachedVmId").asText()).isEqualTo(stopped);
        Response start = acme.post("/v1/vms/" + stopped + "/start", null);
        InProcessEnclave.awaitOperation(acme, start.get("id").asText(), Duration.ofSeconds(60));
        long plugged = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!qomDevices(stopped).contains(id + "-dev") && System.nanoTime() < plugged) InProcessEnclave.sleep(200);
        assertThat(qomDevices(stopped)).as("plugged in when the VM started").contains(id + "-dev");
        Response stop = acme.post("/v1/vms/" + stopped + "/stop", Map.of("timeoutSeconds", 0));
        InProcessEnclave.awaitOperation(acme, stop.get("id").asText(), Duration.ofSeconds(60));
        Response fromStopped = acme.post("/v1/volumes/" + id + "/detach", Map.of());
        assertThat(fromStopped.status()).as(fromStopped.toString()).isEqualTo(200);
        assertThat(fromStopped.get("attachedVmId").isNull()).isTrue();

        // A running QEMU (firmware only, no OS): the volume is hot-plugged into it.
        Response running = acme.post("/v1/vms", vm("running", 1, 128, 1, TINY_IMAGE, true));
        String vmId = running.get("vm").path("id").asText();
        InProcessEnclave.awaitOperation(acme, running.get("operation").path("id").asText(), Duration.ofSeconds(60));
        Response attached = acme.post("/v1/volumes/" + id + "/attach", Map.of("vmId", vmId));
        assertThat(attached.status()).as(attached.toString()).isEqualTo(200);
        assertThat(attached.get("attachedVmId").asText()).isEqualTo(vmId);
        assertThat(qomDevices(vmId)).contains(id + "-dev");
        assertThat(acme.post("/v1/volumes/" + id + "/attach", Map.of("vmId", vmId)).status())
                .as("already attached").isEqualTo(409);
        Response deleteAttached = acme.delete("/v1/volumes/" + id);
        assertThat(deleteAttached.status()).isEqualTo(409);
        assertThat(deleteAttached.errorMessage()).contains("attached");
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots/none/revert", Map.of()).status()).isEqualTo(404);

        // Deleting the VM releases the volume (its QEMU held it); the volume and its data stay.
        assertThat(acme.delete("/v1/vms/" + vmId).status()).isEqualTo(202);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (acme.get("/v1/vms/" + vmId).status() != 404 && System.nanoTime() < deadline) InProcessEnclave.sleep(200);
        JsonNode after = acme.get("/v1/volumes/" + id).json();
        assertThat(after.path("attachedVmId").isNull()).as(after.toString()).isTrue();
        assertThat(acme.delete("/v1/volumes/" + id).status()).isEqualTo(204);
    }

    @Test
    void volumesCountAgainstTheDiskQuotaWithVmDisksAndParallelCreatesCannotExceedIt() throws Exception {
        // Devices with room to spare, so that the quota, not the capacity, is what runs out.
        pool("main", devices.add("q1", 2 * DEVICE_MIB), devices.add("q2", 2 * DEVICE_MIB));
        TestApi small = enclave.tenant("small", 2, 1024, 4, 2);
        assertThat(small.post("/v1/vms", vm("boot", 1, 128, 1, TINY_IMAGE, false)).status()).isEqualTo(202);
        // 3 GiB left: of four parallel 1 GiB creates, exactly three succeed.
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<Response>> results = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                String name = "v" + i;
                results.add(pool.submit((Callable<Response>) () -> small.post("/v1/volumes", volume(name, 1, 1))));
            }
            List<Integer> statuses = new ArrayList<>();
            for (Future<Response> r : results) statuses.add(r.get().status());
            assertThat(statuses).containsOnly(201, 422);
            assertThat(statuses.stream().filter(s -> s == 201).count()).as(statuses.toString()).isEqualTo(3);
        } finally {
            pool.shutdownNow();
        }
        Response over = small.post("/v1/volumes", volume("more", 1, 1));
        assertThat(over.status()).isEqualTo(422);
        assertThat(over.errorFields()).containsExactly("sizeGib");
        assertThat(over.errorMessage()).contains("0 of 4 GiB");
        assertThat(small.get("/v1/volumes").json()).hasSize(3);
        assertThat(small.post("/v1/vms", vm("second", 1, 128, 1, TINY_IMAGE, false)).errorFields())
                .as("VM disks see the volumes too").containsExactly("diskGib");
        String anyVolume = small.get("/v1/volumes").json().get(0).path("id").asText();
        assertThat(small.post("/v1/volumes/" + anyVolume + "/grow", Map.of("sizeGib", 2)).status()).isEqualTo(422);
        assertThat(volumeFiles()).hasSize(3);
    }

    @Test
    void aFailedDeviceDegradesItsVolumesAndResyncRebuildsTheCopyElsewhere() throws Exception {
        Dev r1 = devices.add("r1", DEVICE_MIB);
        Dev r2 = devices.add("r2", DEVICE_MIB);
        Dev r3 = devices.add("r3", DEVICE_MIB);
        pool("main", r1, r2, r3);
        TestApi acme = enclave.tenant("acme", 2, 1024, 10, 2);
        Response created = acme.post("/v1/volumes", volume("data", 1, 2));
        String id = created.get("id").asText();
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots", Map.of("name", "before")).status()).isEqualTo(201);
        String firstDevice = created.get("placement").get(0).path("deviceId").asText();
        JsonNode devs = enclave.admin.get("/v1/storage/devices").json();
        String failedPath = null;
        for (JsonNode d : devs) if (d.path("id").asText().equals(firstDevice)) failedPath = d.path("path").asText();
        Dev toFail = null;
        for (Dev d : List.of(r1, r2, r3)) if (d.mount().toString().equals(failedPath)) toFail = d;
        assertThat(toFail).isNotNull();

        devices.fail(toFail);
        JsonNode failedDevice = null;
        for (JsonNode d : enclave.admin.get("/v1/storage/devices").json()) {
            if (d.path("id").asText().equals(firstDevice)) failedDevice = d;
        }
        assertThat(failedDevice.path("health").asText()).as(failedDevice.toString()).isEqualTo("failed");
        assertThat(failedDevice.path("problem").asText()).isNotBlank();
        assertThat(enclave.admin.get("/v1/storage/pools").json().get(0).path("health").asText()).isEqualTo("degraded");
        JsonNode degraded = acme.get("/v1/volumes/" + id).json();
        assertThat(degraded.path("health").asText()).isEqualTo("degraded");
        assertThat(degraded.path("placement").get(0).path("state").asText()).isEqualTo("failed");

        assertThat(enclave.admin.post("/v1/volumes/" + id + "/resync", Map.of("deviceId", firstDevice)).status())
                .as("the failed device itself is offline").isEqualTo(400);
        Response resynced = enclave.admin.post("/v1/volumes/" + id + "/resync", Map.of());
        assertThat(resynced.status()).as(resynced.toString()).isEqualTo(200);
        assertThat(resynced.get("health").asText()).isEqualTo("healthy");
        JsonNode rebuilt = resynced.get("placement").get(0);
        assertThat(rebuilt.path("deviceId").asText()).isNotEqualTo(firstDevice)
                .isNotEqualTo(resynced.get("placement").get(1).path("deviceId").asText());
        assertThat(rebuilt.path("generation").asInt()).isEqualTo(1);
        assertThat(rebuilt.path("state").asText()).isEqualTo("in_sync");
        // The rebuilt copy carries the snapshot (the file was copied), and the volume is usable again.
        List<String> files = volumeFiles();
        assertThat(files.stream().filter(f -> f.contains("-c0g1.qcow2")).toList()).hasSize(1);
        for (String f : files) assertThat(qemuImgSnapshots(f)).contains("before");
        assertThat(acme.post("/v1/volumes/" + id + "/snapshots/before/revert", Map.of()).status()).isEqualTo(200);
        assertThat(enclave.admin.post("/v1/volumes/" + id + "/resync", Map.of()).status())
                .as("nothing left to resync").isEqualTo(409);
    }

    // ------------------------------------------------------------------ helpers

    private JsonNode register(Dev dev) {
        Response r = enclave.admin.post("/v1/storage/devices", Map.of("path", dev.mount().toString()));
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return r.json();
    }

    private String pool(String name, Dev... devs) {
        List<String> ids = new ArrayList<>();
        for (Dev d : devs) ids.add(register(d).path("id").asText());
        Response r = enclave.admin.post("/v1/storage/pools", Map.of("name", name, "deviceIds", ids));
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return r.get("id").asText();
    }

    private static Map<String, Object> volume(String name, long sizeGib, int copies) {
        return Map.of("name", name, "pool", "main", "sizeGib", sizeGib, "copies", copies);
    }

    /** Every volume copy file on the test's devices that can still be read (a failed device's cannot). */
    private List<String> volumeFiles() throws Exception {
        List<String> files = new ArrayList<>();
        try (var mounts = Files.list(devices.root)) {
            for (var mount : mounts.filter(Files::isDirectory).toList()) {
                try (var walk = Files.walk(mount)) {
                    walk.filter(p -> p.toString().endsWith(".qcow2") && p.toString().contains("/enclave-volumes/"))
                            .map(Object::toString).forEach(files::add);
                } catch (java.io.IOException | java.io.UncheckedIOException e) {
                    // a failed device: its files are gone with it
                }
            }
        }
        return files.stream().sorted().toList();
    }

    private static String run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }

    private static long qemuImgVirtualSize(String file) throws Exception {
        return TestApi.JSON.readTree(run("qemu-img", "info", "-U", "--output=json", file)).path("virtual-size").asLong();
    }

    private static String qemuImgSnapshots(String file) throws Exception {
        return run("qemu-img", "snapshot", "-U", "-l", file);
    }

    /** The names of the VM's user-created devices, from its QEMU (qom-list /machine/peripheral). */
    @Test
    void aRebuildInterruptedByAControllerRestartFailsCleanly() throws Exception {
        pool("main", devices.add("r1", DEVICE_MIB), devices.add("r2", DEVICE_MIB));
        TestApi acme = enclave.tenant("acme", 2, 1024, 10, 2);
        String id = acme.post("/v1/volumes", volume("data", 1, 2)).get("id").asText();
        var store = enclave.controller.store();
        java.time.Instant now = java.time.Instant.now();
        String opId = io.enclave.core.Ids.newId("op");
        // What a restart finds: a copy recorded as being rebuilt, and the operation that followed it.
        store.jdbi().useTransaction(h -> {
            h.createUpdate("UPDATE volume_copies SET state = 'RESYNCING', generation = 1 WHERE volume_id = :v AND copy_index = 1")
                    .bind("v", id).execute();
            store.operations().insert(h, new io.enclave.core.operation.Operation(opId, InProcessEnclave.tenantIdOf(acme),
                    io.enclave.core.operation.OperationKind.RESYNC_VOLUME, id, 1, io.enclave.core.operation.OperationStatus.RUNNING,
                    40, "copying", null, now, now), "admin", null);
        });

        List<String> failed = new io.enclave.controller.service.LiveResync(store, null, java.time.Clock.systemUTC()).failInterrupted();

        assertThat(failed).containsExactly(id);
        JsonNode volume = acme.get("/v1/volumes/" + id).json();
        assertThat(volume.path("placement").findValuesAsText("state")).containsExactly("in_sync", "failed");
        assertThat(volume.path("health").asText()).isEqualTo("degraded");
        JsonNode op = enclave.admin.get("/v1/operations/" + opId).json();
        assertThat(op.path("status").asText()).isEqualTo("failed");
        assertThat(op.path("error").asText()).contains("controller restarted");
    }

    private String qomDevices(String vmId) {
        return new io.enclave.agent.qemu.QmpClient(enclave.dir.resolve("vms").resolve(vmId).resolve("qmp.sock"))
                .execute("qom-list", Map.of("path", "/machine/peripheral")).findValuesAsText("name").toString();
    }
}
