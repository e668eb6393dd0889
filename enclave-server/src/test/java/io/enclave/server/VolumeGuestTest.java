package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static io.enclave.server.testing.InProcessEnclave.vm;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import io.enclave.server.testing.TestDevices;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A 2-copy volume on two real (loop) devices, hot-plugged into real guests: one guest writes, the volume
 * moves to a second guest which reads the same bytes; a live snapshot, later writes, and a revert.
 * Two guests of the default image (TCG, 192 MiB each).
 */
class VolumeGuestTest {
    static final Duration BOOT = Duration.ofMinutes(4);
    /** 1 MiB of random data written at the start of the volume; compared by checksum. */
    static final String WRITE = "dd if=/dev/urandom of=/tmp/data bs=64k count=16 2>/dev/null"
            + " && dd if=/tmp/data of=/dev/vdb bs=64k count=16 2>/dev/null && sync && md5sum < /tmp/data";
    static final String READ = "dd if=/dev/vdb bs=64k count=16 2>/dev/null | md5sum";

    InProcessEnclave enclave;
    TestDevices devices;
    TestApi acme;

    @BeforeEach
    void start() throws Exception {
        devices = new TestDevices();
        enclave = InProcessEnclave.start(true, null);
        acme = enclave.tenant("acme", 4, 1024, 12, 3);
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
    void aVolumeWrittenInOneGuestIsReadInAnotherAndRevertsToItsSnapshot() throws Exception {
        List<String> deviceIds = new ArrayList<>();
        for (String name : List.of("g1", "g2")) {
            Response r = enclave.admin.post("/v1/storage/devices", Map.of("path", devices.add(name, 3072).mount().toString()));
            assertThat(r.status()).as(r.toString()).isEqualTo(201);
            deviceIds.add(r.get("id").asText());
        }
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "main", "deviceIds", deviceIds)).status())
                .isEqualTo(201);
        String writer = bootGuest("writer");
        String reader = bootGuest("reader");
        Response created = acme.post("/v1/volumes", Map.of("name", "data", "pool", "main", "sizeGib", 1, "copies", 2));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String vol = created.get("id").asText();

        // Hot-plug: the writer sees a new 1 GiB disk.
        assertThat(exec(writer, "test -e /sys/block/vdb && echo present || echo absent").trim()).isEqualTo("absent");
        attach(vol, writer);
        assertThat(awaitInGuest(writer, "cat /sys/block/vdb/size 2>/dev/null", "2097152")).isTrue();
        String written = exec(writer, WRITE).trim();
        assertThat(written).hasSize(35);

        // Hot-unplug, seen inside the guest; then into the second guest, which reads the same bytes.
        Response detached = acme.post("/v1/volumes/" + vol + "/detach", Map.of());
        assertThat(detached.status()).as(detached.toString()).isEqualTo(200);
        assertThat(awaitInGuest(writer, "test -e /sys/block/vdb && echo present || echo absent", "absent")).isTrue();
        attach(vol, reader);
        assertThat(awaitInGuest(reader, "cat /sys/block/vdb/size 2>/dev/null", "2097152")).isTrue();
        assertThat(exec(reader, READ).trim()).isEqualTo(written);

        // A live snapshot of the attached 2-copy volume, new data over it, then a revert while detached.
        assertThat(acme.post("/v1/volumes/" + vol + "/snapshots", Map.of("name", "first")).status()).isEqualTo(201);
        String overwritten = exec(reader, WRITE).trim();
        assertThat(overwritten).isNotEqualTo(written);
        assertThat(acme.post("/v1/volumes/" + vol + "/snapshots/first/revert", Map.of()).status())
                .as("not under a running VM").isEqualTo(409);
        assertThat(acme.post("/v1/volumes/" + vol + "/detach", Map.of()).status()).isEqualTo(200);
        Response reverted = acme.post("/v1/volumes/" + vol + "/snapshots/first/revert", Map.of());
        assertThat(reverted.status()).as(reverted.toString()).isEqualTo(200);
        attach(vol, writer);
        assertThat(awaitInGuest(writer, "cat /sys/block/vdb/size 2>/dev/null", "2097152")).isTrue();
        assertThat(exec(writer, READ).trim()).isEqualTo(written);
        JsonNode after = acme.get("/v1/volumes/" + vol).json();
        assertThat(after.path("health").asText()).isEqualTo("healthy");
        assertThat(after.path("attachedVmId").asText()).isEqualTo(writer);

        // The VM is stopped and started: its new QEMU gets the volume plugged back in, data intact; a
        // revert is allowed while the VM is stopped.
        Response stop = acme.post("/v1/vms/" + writer + "/stop", Map.of("timeoutSeconds", 60));
        assertThat(awaitOperation(acme, stop.get("id").asText(), BOOT).path("status").asText()).isEqualTo("succeeded");
        assertThat(acme.get("/v1/volumes/" + vol).get("attachedVmId").asText()).isEqualTo(writer);
        assertThat(acme.post("/v1/volumes/" + vol + "/snapshots/first/revert", Map.of()).status()).isEqualTo(200);
        Response start = acme.post("/v1/vms/" + writer + "/start", null);
        assertThat(awaitOperation(acme, start.get("id").asText(), BOOT).path("status").asText()).isEqualTo("succeeded");
        assertThat(awaitInGuest(writer, "cat /sys/block/vdb/size 2>/dev/null", "2097152")).isTrue();
        assertThat(exec(writer, READ).trim()).isEqualTo(written);
    }

    @Test
    void aDeviceFailingDuringGuestWritesLeavesTheDataCorrectAndALiveResyncMakesTheVolumeHealthyAgain() throws Exception {
        List<TestDevices.Dev> devs = new ArrayList<>();
        List<String> deviceIds = new ArrayList<>();
        for (String name : List.of("f1", "f2", "f3")) {
            TestDevices.Dev dev = devices.add(name, 3072);
            devs.add(dev);
            deviceIds.add(enclave.admin.post("/v1/storage/devices", Map.of("path", dev.mount().toString())).get("id").asText());
        }
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "main", "deviceIds", deviceIds)).status())
                .isEqualTo(201);
        String guest = bootGuest("worker");
        Response created = acme.post("/v1/volumes", Map.of("name", "data", "pool", "main", "sizeGib", 1, "copies", 2));
        String vol = created.get("id").asText();
        String failingDevice = created.get("placement").get(0).path("deviceId").asText();
        TestDevices.Dev toFail = devs.get(deviceIds.indexOf(failingDevice));
        attach(vol, guest);
        assertThat(awaitInGuest(guest, "cat /sys/block/vdb/size 2>/dev/null", "2097152")).isTrue();

        // 32 MiB written by the guest while one copy's device dies under it.
        String expected = exec(guest, "dd if=/dev/urandom of=/tmp/big bs=64k count=512 2>/dev/null && md5sum < /tmp/big").trim();
        var writing = java.util.concurrent.CompletableFuture.supplyAsync(() -> exec(guest,
                "dd if=/tmp/big of=/dev/vdb bs=64k count=512 2>/dev/null && sync && echo written"));
        InProcessEnclave.sleep(300);
        devices.fail(toFail);
        assertThat(writing.isDone()).as("the device failed while the guest was still writing").isFalse();
        assertThat(writing.get().trim()).isEqualTo("written");
        String read = "echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vdb bs=64k count=512 2>/dev/null | md5sum";
        assertThat(exec(guest, read).trim()).as("read through the quorum from the surviving copy").isEqualTo(expected);

        enclave.admin.get("/v1/storage/devices");
        JsonNode degraded = acme.get("/v1/volumes/" + vol).json();
        assertThat(degraded.path("health").asText()).as(degraded.toString()).isEqualTo("degraded");
        // Live resync while the guest keeps the volume: an operation follows the copy job.
        Response started = enclave.admin.post("/v1/volumes/" + vol + "/resync", Map.of());
        assertThat(started.status()).as(started.toString()).isEqualTo(202);
        assertThat(started.get("kind").asText()).isEqualTo("resync_volume");
        assertThat(acme.get("/v1/volumes/" + vol).get("health").asText()).isIn("resyncing", "healthy");
        String more = exec(guest, "dd if=/dev/urandom of=/tmp/more bs=64k count=32 2>/dev/null"
                + " && dd if=/tmp/more of=/dev/vdb bs=64k seek=512 2>/dev/null && sync && md5sum < /tmp/more").trim();
        JsonNode op = awaitOperation(acme, started.get("id").asText(), Duration.ofMinutes(2));
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
        assertThat(op.path("progress").asInt()).isEqualTo(100);
        JsonNode healthy = acme.get("/v1/volumes/" + vol).json();
        assertThat(healthy.path("health").asText()).as(healthy.toString()).isEqualTo("healthy");
        assertThat(healthy.path("placement").findValuesAsText("deviceId")).doesNotContain(failingDevice);
        assertThat(healthy.path("placement").get(0).path("generation").asInt()).isEqualTo(1);
        assertThat(exec(guest, read).trim()).isEqualTo(expected);

        // Detached and attached again, the volume is opened from both copies (the rebuilt one among them).
        assertThat(acme.post("/v1/volumes/" + vol + "/detach", Map.of()).status()).isEqualTo(200);
        assertThat(enclave.admin.post("/v1/volumes/" + vol + "/resync", Map.of()).status())
                .as("nothing left to resync").isEqualTo(409);
        attach(vol, guest);
        assertThat(awaitInGuest(guest, "cat /sys/block/vdb/size 2>/dev/null", "2097152")).isTrue();
        assertThat(exec(guest, read).trim()).isEqualTo(expected);
        assertThat(exec(guest, "dd if=/dev/vdb bs=64k skip=512 count=32 2>/dev/null | md5sum").trim())
                .as("written after the resync started").isEqualTo(more);
    }

    private String bootGuest(String name) {
        Response created = acme.post("/v1/vms", vm(name, 1, 192, 2, GuestImages.defaultImageName(), true));
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        JsonNode op = awaitOperation(acme, created.get("operation").path("id").asText(), BOOT);
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
        return created.get("vm").path("id").asText();
    }

    private void attach(String vol, String vmId) {
        Response r = acme.post("/v1/volumes/" + vol + "/attach", Map.of("vmId", vmId));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
    }

    private String exec(String vmId, String script) {
        Response r = acme.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/sh", "-c", script),
                "timeoutSeconds", 60));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.get("exitCode").asInt()).as(r.toString()).isZero();
        return r.get("stdout").asText();
    }

    /** Polls the guest until the script prints {@code expected} (hot-plug and unplug take a moment under TCG). */
    private boolean awaitInGuest(String vmId, String script, String expected) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (exec(vmId, script + "; true").trim().equals(expected)) return true;
            InProcessEnclave.sleep(300);
        }
        return false;
    }
}
