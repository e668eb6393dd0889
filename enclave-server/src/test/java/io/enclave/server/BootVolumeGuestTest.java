package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import io.enclave.server.testing.TestDevices;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real guest (default image, TCG, 192 MiB) whose root filesystem is a 2-copy boot volume on loop devices
 * (prefix {@code ebv}): it boots, survives a device dying under its writes, is resynced live, snapshotted live,
 * reverted while stopped, and goes with its VM.
 */
class BootVolumeGuestTest {
    static final Duration BOOT = Duration.ofMinutes(4);
    /** 32 MiB of random data in the guest's RAM (tmpfs), then its checksum. */
    static final String MAKE_DATA = "dd if=/dev/urandom of=/tmp/big bs=64k count=512 2>/dev/null && md5sum < /tmp/big";
    /** Read from the disk, not the guest's page cache. */
    static final String READ_BACK = "echo 3 > /proc/sys/vm/drop_caches; md5sum < /data.bin";

    InProcessEnclave enclave;
    TestDevices devices;
    TestApi acme;

    @BeforeEach
    void start() throws Exception {
        devices = new TestDevices("ebv");
        enclave = InProcessEnclave.start(true, null);
        acme = enclave.tenant("acme", 2, 512, 4, 2);
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
    void aGuestBootsFromARedundantVolumeSurvivesADeviceFailureAndRevertsToALiveSnapshot() throws Exception {
        List<TestDevices.Dev> devs = new ArrayList<>();
        List<String> deviceIds = new ArrayList<>();
        for (String name : List.of("g1", "g2", "g3")) {
            TestDevices.Dev dev = devices.add(name, 3072);
            Response r = enclave.admin.post("/v1/storage/devices", Map.of("path", dev.mount().toString()));
            assertThat(r.status()).as(r.toString()).isEqualTo(201);
            devs.add(dev);
            deviceIds.add(r.get("id").asText());
        }
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "main", "deviceIds", deviceIds)).status())
                .isEqualTo(201);

        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm("bootvm", 1, 192, 1, GuestImages.defaultImageName(), true));
        body.put("bootVolume", Map.of("pool", "main", "copies", 2));
        Response created = acme.post("/v1/vms", body);
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        String vm = created.get("vm").path("id").asText();
        String vol = created.get("vm").path("bootVolumeId").asText();
        JsonNode op = awaitOperation(acme, created.get("operation").path("id").asText(), BOOT);
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
        assertThat(acme.get("/v1/vms/" + vm).get("guestReady").asBoolean()).isTrue();
        // The root filesystem is on the volume: its serial is the volume's id.
        assertThat(exec(vm, "cat /sys/block/vda/serial").trim()).isEqualTo(vol);
        JsonNode volume = acme.get("/v1/volumes/" + vol).json();
        assertThat(volume.path("bootDisk").asBoolean()).isTrue();
        assertThat(volume.path("attachedVmId").asText()).isEqualTo(vm);

        // 32 MiB written to a file on the root filesystem while one copy's device dies under it.
        String failingDevice = volume.path("placement").get(0).path("deviceId").asText();
        String expected = exec(vm, MAKE_DATA).trim();
        CompletableFuture<String> writing = CompletableFuture.supplyAsync(() -> exec(vm,
                "dd if=/tmp/big of=/data.bin bs=64k conv=fsync 2>/dev/null && sync && echo written"));
        InProcessEnclave.sleep(300);
        devices.fail(devs.get(deviceIds.indexOf(failingDevice)));
        assertThat(writing.isDone()).as("the device failed while the guest was still writing").isFalse();
        assertThat(writing.get().trim()).isEqualTo("written");
        assertThat(exec(vm, READ_BACK).trim()).as("read through the quorum from the surviving copy").isEqualTo(expected);
        assertThat(acme.get("/v1/vms/" + vm).get("phase").asText()).isEqualTo("running");

        enclave.admin.get("/v1/storage/devices");
        JsonNode degraded = acme.get("/v1/volumes/" + vol).json();
        assertThat(degraded.path("health").asText()).as(degraded.toString()).isEqualTo("degraded");

        // Live resync onto the third device while the guest runs from the volume.
        Response resync = enclave.admin.post("/v1/volumes/" + vol + "/resync", Map.of());
        assertThat(resync.status()).as(resync.toString()).isEqualTo(202);
        JsonNode resynced = awaitOperation(acme, resync.get("id").asText(), Duration.ofMinutes(3));
        assertThat(resynced.path("status").asText()).as(resynced.toString()).isEqualTo("succeeded");
        JsonNode healthy = acme.get("/v1/volumes/" + vol).json();
        assertThat(healthy.path("health").asText()).as(healthy.toString()).isEqualTo("healthy");
        assertThat(healthy.path("placement").findValuesAsText("deviceId")).doesNotContain(failingDevice);
        assertThat(exec(vm, READ_BACK).trim()).isEqualTo(expected);

        // A live snapshot, then other data over the file; stopped, reverted and started: the snapshot's data.
        Response snap = acme.post("/v1/volumes/" + vol + "/snapshots", Map.of("name", "before"));
        assertThat(snap.status()).as(snap.toString()).isEqualTo(201);
        String other = exec(vm, MAKE_DATA + " && dd if=/tmp/big of=/data.bin bs=64k conv=fsync 2>/dev/null && sync").trim();
        assertThat(other).isNotEqualTo(expected);
        assertThat(exec(vm, READ_BACK).trim()).isEqualTo(other);
        Response stop = acme.post("/v1/vms/" + vm + "/stop", Map.of("timeoutSeconds", 60));
        assertThat(awaitOperation(acme, stop.get("id").asText(), BOOT).path("status").asText()).isEqualTo("succeeded");
        Response revert = acme.post("/v1/volumes/" + vol + "/snapshots/before/revert", Map.of());
        assertThat(revert.status()).as(revert.toString()).isEqualTo(200);
        Response start = acme.post("/v1/vms/" + vm + "/start", null);
        JsonNode started = awaitOperation(acme, start.get("id").asText(), BOOT);
        assertThat(started.path("status").asText()).as(started.toString()).isEqualTo("succeeded");
        assertThat(exec(vm, READ_BACK).trim()).isEqualTo(expected);

        // Deleting the VM deletes its boot volume: the record and every copy's file.
        List<Path> files = copyFiles(acme.get("/v1/volumes/" + vol).json(), devs, deviceIds);
        assertThat(files).allMatch(java.nio.file.Files::exists);
        Response deleted = acme.delete("/v1/vms/" + vm);
        assertThat(awaitOperation(acme, deleted.get("id").asText(), BOOT).path("status").asText()).isEqualTo("succeeded");
        assertThat(acme.get("/v1/volumes/" + vol).status()).isEqualTo(404);
        assertThat(acme.get("/v1/volumes").json()).isEmpty();
        assertThat(files).hasSize(2);
        for (Path file : files) assertThat(file).doesNotExist();
    }

    /** Each copy's file, on the mount of its device. */
    private static List<Path> copyFiles(JsonNode volume, List<TestDevices.Dev> devs, List<String> deviceIds) {
        List<Path> files = new ArrayList<>();
        for (JsonNode copy : volume.path("placement")) {
            files.add(devs.get(deviceIds.indexOf(copy.path("deviceId").asText())).mount().resolve("enclave-volumes")
                    .resolve(volume.path("id").asText() + "-c" + copy.path("index").asInt() + "g"
                            + copy.path("generation").asInt() + ".qcow2"));
        }
        return files;
    }

    private String exec(String vmId, String script) {
        Response r = acme.post("/v1/vms/" + vmId + "/exec", Map.of("command", List.of("/bin/sh", "-c", script),
                "timeoutSeconds", 120));
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.get("exitCode").asInt()).as(r.toString()).isZero();
        return r.get("stdout").asText();
    }
}
