package io.enclave.server;

import static io.enclave.server.testing.InProcessEnclave.TINY_IMAGE;
import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import io.enclave.server.testing.TestDevices;
import io.enclave.server.testing.TestDevices.Dev;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A VM's boot disk as a volume, through the API, on real devices (ext4 on loop devices, prefix {@code ebv}) with
 * the tiny image (QEMU runs its firmware, no guest OS): the volume is created, placed and shown with the VM, its
 * copies are overlays of the image, the rules that keep it tied to its VM, and it goes with the VM. Bad input
 * changes nothing.
 */
class BootVolumeApiTest {
    static final Duration OP = Duration.ofMinutes(2);

    InProcessEnclave enclave;
    TestDevices devices;
    TestApi acme;
    final List<Dev> devs = new ArrayList<>();
    final List<String> deviceIds = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        devices = new TestDevices("ebv");
        enclave = InProcessEnclave.start();
        acme = enclave.tenant("acme", 4, 2048, 6, 3);
        for (String name : List.of("a1", "a2")) {
            Dev dev = devices.add(name, 3072);
            Response r = enclave.admin.post("/v1/storage/devices", Map.of("path", dev.mount().toString()));
            assertThat(r.status()).as(r.toString()).isEqualTo(201);
            devs.add(dev);
            deviceIds.add(r.get("id").asText());
        }
        assertThat(enclave.admin.post("/v1/storage/pools", Map.of("name", "bv", "deviceIds", deviceIds)).status())
                .isEqualTo(201);
    }

    @AfterEach
    void stop() {
        try {
            if (enclave != null) enclave.close();
        } finally {
            devices.close();
        }
    }

    static Map<String, Object> vm(String name, long diskGib, boolean start, Object bootVolume) {
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm(name, 1, 128, diskGib, TINY_IMAGE, start));
        if (bootVolume != null) body.put("bootVolume", bootVolume);
        return body;
    }

    @Test
    void badBootVolumeRequestsAreRefusedAndChangeNothing() {
        Response unknownPool = acme.post("/v1/vms", vm("web", 1, false, Map.of("pool", "nope", "copies", 1)));
        assertThat(unknownPool.status()).as(unknownPool.toString()).isEqualTo(400);
        assertThat(unknownPool.errorFields()).containsExactly("bootVolume.pool");
        assertThat(unknownPool.errorMessage()).contains("unknown pool 'nope'");

        Response tooManyCopies = acme.post("/v1/vms", vm("web", 1, false, Map.of("pool", "bv", "copies", 3)));
        assertThat(tooManyCopies.status()).as(tooManyCopies.toString()).isEqualTo(400);
        assertThat(tooManyCopies.errorFields()).containsExactly("bootVolume.copies");
        assertThat(tooManyCopies.errorMessage()).contains("only 2 online devices");

        Response zeroCopies = acme.post("/v1/vms", vm("web", 1, false, Map.of("pool", "bv", "copies", 0)));
        assertThat(zeroCopies.errorFields()).as(zeroCopies.toString()).containsExactly("bootVolume.copies");

        Response noPool = acme.post("/v1/vms", vm("web", 1, false, Map.of("copies", 1)));
        assertThat(noPool.errorFields()).as(noPool.toString()).containsExactly("bootVolume.pool");

        Map<String, Object> shared = vm("web", 1, false, Map.of("pool", "bv", "copies", 1));
        shared.put("storage", "shared");
        Response both = acme.post("/v1/vms", shared);
        assertThat(both.status()).as(both.toString()).isEqualTo(400);
        assertThat(both.errorFields()).containsExactly("bootVolume");
        assertThat(both.errorMessage()).contains("pick one");

        Response unknownField = acme.post("/v1/vms", vm("web", 1, false, Map.of("pool", "bv", "size", 3)));
        assertThat(unknownField.status()).as(unknownField.toString()).isEqualTo(400);

        Response tooBigForDevices = acme.post("/v1/vms", vm("web", 3, false, Map.of("pool", "bv", "copies", 1)));
        assertThat(tooBigForDevices.status()).as(tooBigForDevices.toString()).isEqualTo(400);
        assertThat(tooBigForDevices.errorFields()).containsExactly("diskGib");

        Response overQuota = acme.post("/v1/vms", vm("web", 7, false, Map.of("pool", "bv", "copies", 1)));
        assertThat(overQuota.status()).as(overQuota.toString()).isEqualTo(422);

        // The boot volume's name is taken by a volume of the tenant.
        assertThat(acme.post("/v1/volumes", Map.of("name", "web-boot", "pool", "bv", "sizeGib", 1)).status()).isEqualTo(201);
        Response nameTaken = acme.post("/v1/vms", vm("web", 1, false, Map.of("pool", "bv", "copies", 1)));
        assertThat(nameTaken.status()).as(nameTaken.toString()).isEqualTo(409);
        assertThat(nameTaken.errorMessage()).contains("'web-boot'");

        assertThat(acme.get("/v1/vms").get("items")).isEmpty();
        assertThat(acme.get("/v1/volumes").json().findValuesAsText("name")).containsExactly("web-boot");
        assertThat(acme.get("/v1/volumes").json().get(0).path("bootDisk").asBoolean()).isFalse();
    }

    @Test
    void aBootVolumeIsMadeWithItsVmIsTiedToItAndGoesWithIt() throws Exception {
        Response created = acme.post("/v1/vms", vm("web", 2, true, Map.of("pool", "bv", "copies", 2)));
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        String vmId = created.get("vm").path("id").asText();
        String volId = created.get("vm").path("bootVolumeId").asText();
        assertThat(volId).startsWith("vol-");
        JsonNode op = awaitOperation(acme, created.get("operation").path("id").asText(), OP);
        assertThat(op.path("status").asText()).as(op.toString()).isEqualTo("succeeded");
        assertThat(acme.get("/v1/vms/" + vmId).get("bootVolumeId").asText()).isEqualTo(volId);
        assertThat(acme.get("/v1/vms").get("items").get(0).path("bootVolumeId").asText()).isEqualTo(volId);

        JsonNode volumes = acme.get("/v1/volumes").json();
        assertThat(volumes).hasSize(1);
        JsonNode vol = volumes.get(0);
        assertThat(vol.path("id").asText()).isEqualTo(volId);
        assertThat(vol.path("name").asText()).isEqualTo("web-boot");
        assertThat(vol.path("bootDisk").asBoolean()).isTrue();
        assertThat(vol.path("attachedVmId").asText()).isEqualTo(vmId);
        assertThat(vol.path("sizeGib").asLong()).isEqualTo(2);
        assertThat(vol.path("copies").asInt()).isEqualTo(2);
        assertThat(vol.path("health").asText()).isEqualTo("healthy");
        assertThat(vol.path("placement").findValuesAsText("deviceId")).containsExactlyInAnyOrderElementsOf(deviceIds);

        // Each copy is a qcow2 overlay of the image's base file, of the VM's disk size.
        List<Path> files = copyFiles(volId, 0);
        for (Path file : files) {
            assertThat(file).exists();
            JsonNode info = TestApi.JSON.readTree(new ProcessCommandRunner().runChecked(List.of("qemu-img", "info",
                    "--force-share", "--output=json", file.toString()), Duration.ofSeconds(20)).stdout());
            assertThat(info.path("virtual-size").asLong()).isEqualTo(2L << 30);
            assertThat(info.path("backing-filename").asText()).contains(TINY_IMAGE).endsWith("disk.qcow2");
        }
        // The disk counts once against the quota, through the VM's diskGib.
        String tenantId = InProcessEnclave.tenantIdOf(acme);
        assertThat(acme.get("/v1/tenants/" + tenantId).get("usage").path("diskGib").asLong()).isEqualTo(2);

        // Tied to its VM: no detach, delete or grow of its own; it migrates only where a pool has room for it.
        Response detach = acme.post("/v1/volumes/" + volId + "/detach", Map.of());
        assertThat(detach.status()).as(detach.toString()).isEqualTo(409);
        assertThat(detach.errorMessage()).isEqualTo("volume '" + volId + "' is the boot disk of vm '" + vmId
                + "'; delete the VM instead");
        Response delete = acme.delete("/v1/volumes/" + volId);
        assertThat(delete.status()).as(delete.toString()).isEqualTo(409);
        assertThat(delete.errorMessage()).contains("boot disk of vm '" + vmId + "'; delete the VM instead");
        assertThat(acme.post("/v1/volumes/" + volId + "/grow", Map.of("sizeGib", 3)).status()).isEqualTo(409);
        Response migrate = enclave.admin.post("/v1/vms/" + vmId + "/migrate", Map.of());
        assertThat(migrate.status()).as(migrate.toString()).isEqualTo(409);
        assertThat(migrate.errorMessage()).contains("no other host has storage pools with room").contains(volId);
        assertThat(acme.get("/v1/volumes/" + volId).get("attachedVmId").asText()).isEqualTo(vmId);

        // A live snapshot of the running 2-copy boot volume (through the VM's QEMU), revert refused while it runs.
        Response snap = acme.post("/v1/volumes/" + volId + "/snapshots", Map.of("name", "s1"));
        assertThat(snap.status()).as(snap.toString()).isEqualTo(201);
        assertThat(acme.post("/v1/volumes/" + volId + "/snapshots/s1/revert", Map.of()).status()).isEqualTo(409);
        Response stop = acme.post("/v1/vms/" + vmId + "/stop", Map.of("timeoutSeconds", 0));
        assertThat(awaitOperation(acme, stop.get("id").asText(), OP).path("status").asText()).isEqualTo("succeeded");
        Response revert = acme.post("/v1/volumes/" + volId + "/snapshots/s1/revert", Map.of());
        assertThat(revert.status()).as(revert.toString()).isEqualTo(200);
        for (Path file : files) {
            String list = new ProcessCommandRunner().runChecked(List.of("qemu-img", "snapshot", "-l", file.toString()),
                    Duration.ofSeconds(20)).stdout();
            assertThat(list).contains("s1");
        }

        // Deleting the VM deletes its boot volume: record and files.
        Response deleted = acme.delete("/v1/vms/" + vmId);
        assertThat(deleted.status()).as(deleted.toString()).isEqualTo(202);
        assertThat(awaitOperation(acme, deleted.get("id").asText(), OP).path("status").asText()).isEqualTo("succeeded");
        assertThat(acme.get("/v1/volumes").json()).isEmpty();
        assertThat(acme.get("/v1/volumes/" + volId).status()).isEqualTo(404);
        for (Path file : files) assertThat(file).doesNotExist();
        assertThat(acme.get("/v1/tenants/" + tenantId).get("usage").path("diskGib").asLong()).isZero();
    }

    /** The copy files of a volume whose copies are all at {@code generation}, one per device of the pool. */
    private List<Path> copyFiles(String volId, int generation) {
        JsonNode vol = acme.get("/v1/volumes/" + volId).json();
        List<Path> files = new ArrayList<>();
        for (JsonNode copy : vol.path("placement")) {
            Dev dev = devs.get(deviceIds.indexOf(copy.path("deviceId").asText()));
            files.add(dev.mount().resolve("enclave-volumes").resolve(volId + "-c" + copy.path("index").asInt() + "g"
                    + generation + ".qcow2"));
        }
        assertThat(files).allMatch(Files::exists);
        return files;
    }
}
