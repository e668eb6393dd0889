package io.enclave.server;

import static io.enclave.server.MultiHostTest.awaitGuestReady;
import static io.enclave.server.MultiHostTest.qemuPid;
import static io.enclave.server.MultiHostTest.shell;
import static io.enclave.server.testing.InProcessEnclave.awaitOperation;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.server.testing.DataCentre;
import io.enclave.server.testing.GuestImages;
import io.enclave.server.testing.InProcessEnclave;
import io.enclave.server.testing.TestApi;
import io.enclave.server.testing.TestApi.Response;
import io.enclave.server.testing.TestDevices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A running VM whose root filesystem is a 2-copy boot volume on real (loop) devices of one host, with a 1-copy
 * data volume hot-plugged, moves live to another host (namespaces with their own agents, no shared storage): both
 * volumes are mirrored into a pool of the destination while the guest writes to them, and back again, with the
 * bad requests refused on the way and a controller restart in the middle settled; stopped, it is moved cold by a
 * drain and back by request.
 * Device mounts are prefixed {@code ebm}.
 */
class MultiHostVolumeMigrationTest {
    static final ProcessCommandRunner SH = new ProcessCommandRunner();
    /** Appends a counter to a file on the root filesystem (the boot volume), synced, ten times a second. */
    static final String WRITER = "(i=0; while :; do i=$((i+1)); echo $i >> /root/seq; sync; sleep 0.1; done) >/dev/null 2>&1 &";
    /** Read from the disk, not the guest's page cache. */
    static final String READ_BACK = "echo 3 > /proc/sys/vm/drop_caches; md5sum < /root/data";
    /** The data volume's first 4 MiB, read from the device (vdb: the hot-plugged volume). */
    static final String READ_VOLUME = "echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vdb bs=1M count=4 2>/dev/null | md5sum";
    /** Appends a counter to the data volume's raw device from 8 MiB on, one 512-byte sector per step, synced. */
    static final String VOLUME_WRITER = "(i=0; while :; do i=$((i+1)); printf '%-511s\\n' $i | dd of=/dev/vdb bs=512 "
            + "seek=$((16384 + i)) conv=fsync 2>/dev/null; echo $i > /tmp/vol-seq; sleep 0.1; done) >/dev/null 2>&1 & echo $! > /tmp/vol-writer";

    static DataCentre dc;
    static TestDevices devices;
    static DataCentre.Host host1;
    static DataCentre.Host host2;
    static TestApi t;
    static final Map<String, TestDevices.Dev> devById = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        devices = new TestDevices("ebm");
        dc = DataCentre.start(true);
        host1 = dc.addHost(null);
        host2 = dc.addHost(null);
        t = dc.tenant("volumes", 2, 1024, 8, 2);
    }

    @AfterAll
    static void stop() {
        try {
            if (dc != null) dc.close();
        } finally {
            if (devices != null) devices.close();
        }
    }

    @Test
    void aVmWithABootVolumeAndAnAttachedVolumeMovesLiveWithBothCopiedIntoTheDestinationsPool() throws Exception {
        pool("pool-a", host1, "a1", "a2");
        Map<String, Object> body = new HashMap<>(InProcessEnclave.vm("bootvm", 1, 256, 1, GuestImages.defaultImageName(), true));
        body.put("bootVolume", Map.of("pool", "pool-a", "copies", 2));
        Response created = t.post("/v1/vms", body);
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        String vm = created.get("vm").get("id").asText();
        String vol = created.get("vm").get("bootVolumeId").asText();
        awaitGuestReady(t, vm);
        assertThat(t.get("/v1/vms/" + vm).get("hostId").asText()).isEqualTo(host1.id());
        String md5 = exec(vm, "dd if=/dev/urandom of=/root/data bs=1M count=8 2>/dev/null; sync; md5sum < /root/data");
        exec(vm, WRITER);
        Response dataVolume = t.post("/v1/volumes", Map.of("name", "data", "pool", "pool-a", "sizeGib", 1, "copies", 1));
        assertThat(dataVolume.status()).as(dataVolume.toString()).isEqualTo(201);
        String data = dataVolume.get("id").asText();
        Response attached = t.post("/v1/volumes/" + data + "/attach", Map.of("vmId", vm));
        assertThat(attached.status()).as(attached.toString()).isEqualTo(200);
        awaitDevice(vm, "/sys/block/vdb/serial", data);
        String volumeMd5 = exec(vm, "dd if=/dev/urandom of=/dev/vdb bs=1M count=4 conv=fsync 2>/dev/null; " + READ_VOLUME);
        exec(vm, VOLUME_WRITER);
        long pid = qemuPid(host1, vm);

        // Refused, the VM running on where it was: no pool on the destination, copying refused, a snapshot.
        Response noPool = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of("hostId", host2.id()));
        assertThat(noPool.status()).as(noPool.toString()).isEqualTo(409);
        assertThat(noPool.toString()).contains("no storage pool").contains(vol);
        Response toItsOwnHost = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of("hostId", host1.id()));
        assertThat(toItsOwnHost.status()).as(toItsOwnHost.toString()).isEqualTo(409);
        Response schedulerNoPool = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of());
        assertThat(schedulerNoPool.status()).as(schedulerNoPool.toString()).isEqualTo(409);
        assertThat(schedulerNoPool.toString()).contains("no other host has storage pools with room");
        pool("pool-b", host2, "b1", "b2");
        Response noCopy = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of("hostId", host2.id(), "copyStorage", false));
        assertThat(noCopy.status()).as(noCopy.toString()).isEqualTo(409);
        assertThat(noCopy.toString()).contains("only move by copying");
        assertThat(t.post("/v1/volumes/" + vol + "/snapshots", Map.of("name", "s1")).status()).isEqualTo(201);
        Response withSnapshot = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of("hostId", host2.id()));
        assertThat(withSnapshot.status()).as(withSnapshot.toString()).isEqualTo(409);
        assertThat(withSnapshot.toString()).contains("snapshot");
        assertThat(t.delete("/v1/volumes/" + vol + "/snapshots/s1").status()).isEqualTo(204);
        assertThat(qemuPid(host1, vm)).as("the same QEMU after the refusals").isEqualTo(pid);
        JsonNode before = t.get("/v1/volumes/" + vol).json();
        List<Path> oldFiles = new ArrayList<>(copyFiles(before));
        oldFiles.addAll(copyFiles(t.get("/v1/volumes/" + data).json()));
        assertThat(oldFiles).hasSize(3).allMatch(Files::exists);

        // To host 2: the pool of host 2 holds both copies afterwards; host 1 nothing of the VM or its volume.
        int linesBefore = lines(vm);
        JsonNode op = migrate(vm, Map.of("hostId", host2.id()));
        assertThat(op.get("status").asText()).as(op.toString()).isEqualTo("succeeded");
        assertThat(op.get("message").asText()).contains("storage copied").contains("boot volume " + vol)
                .contains("volume " + data);
        assertMovedTo(vm, vol, host2, "pool-b", md5, linesBefore);
        assertVolumeMovedTo(vm, data, "pool-b", volumeMd5);
        assertThat(oldFiles).as("the copies on host 1's devices are deleted").noneMatch(Files::exists);
        assertThat(Files.exists(host1.dataDir.resolve("vms").resolve(vm))).isFalse();

        // And back, host chosen by the scheduler: new copies (next generation) in pool-a again.
        List<Path> host2Files = new ArrayList<>(copyFiles(t.get("/v1/volumes/" + vol).json()));
        host2Files.addAll(copyFiles(t.get("/v1/volumes/" + data).json()));
        JsonNode back = migrate(vm, Map.of());
        assertThat(back.get("status").asText()).as(back.toString()).isEqualTo("succeeded");
        assertMovedTo(vm, vol, host1, "pool-a", md5, lines(vm));
        assertVolumeMovedTo(vm, data, "pool-a", volumeMd5);
        assertThat(host2Files).noneMatch(Files::exists);
        JsonNode after = t.get("/v1/volumes/" + vol).json();
        assertThat(after.path("placement").findValuesAsText("generation")).containsOnly("2");
        assertThat(after.path("health").asText()).isEqualTo("healthy");

        // The controller restarts while the volumes are being copied: the next one settles the migration from what
        // the hosts report, and the volumes are recorded where the VM runs, with no copies left on the other side.
        Response r = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of("hostId", host2.id()));
        assertThat(r.status()).as(r.toString()).isEqualTo(202);
        String opId = r.get("id").asText();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline && dc.admin.get("/v1/operations/" + opId).get("progress").asInt() < 10) {
            InProcessEnclave.sleep(20);
        }
        dc.restartController();
        JsonNode settled = awaitOperation(dc.admin, opId, Duration.ofMinutes(2));
        boolean arrived = settled.get("status").asText().equals("succeeded");
        DataCentre.Host where = arrived ? host2 : host1;
        assertThat(t.get("/v1/vms/" + vm).get("hostId").asText()).as(settled.toString()).isEqualTo(where.id());
        assertMovedTo(vm, vol, where, arrived ? "pool-b" : "pool-a", md5, 0);
        assertVolumeMovedTo(vm, data, arrived ? "pool-b" : "pool-a", volumeMd5);
        for (String other : arrived ? List.of("a1", "a2") : List.of("b1", "b2")) {
            Path dir = devices.root.resolve("ebm-" + other).resolve("enclave-volumes");
            try (var files = Files.list(dir)) {
                assertThat(files.toList()).as("%s: %s", other, settled).isEmpty();
            }
        }
        // Still an ordinary attached volume on its host: detached live, and attached again.
        exec(vm, "kill $(cat /tmp/vol-writer)");
        Response detached = t.post("/v1/volumes/" + data + "/detach", Map.of());
        assertThat(detached.status()).as(detached.toString()).isEqualTo(200);
        assertThat(exec(vm, "test -e /sys/block/vdb && echo there || echo gone").strip()).isEqualTo("gone");
        assertThat(t.post("/v1/volumes/" + data + "/attach", Map.of("vmId", vm)).status()).isEqualTo(200);
        awaitDevice(vm, "/sys/block/vdb/serial", data);

        // Stopped, it is refused a live migration; draining its host moves it cold (nothing of the settled migration
        // stays recorded to stop that; its QEMU runs on neither host afterwards, the guest never ran on the way).
        // Started on its new host, it has its data.
        exec(vm, "sync");
        Response stop = t.post("/v1/vms/" + vm + "/stop", Map.of("timeoutSeconds", 60));
        assertThat(awaitOperation(t, stop.get("id").asText(), Duration.ofMinutes(2)).get("status").asText()).isEqualTo("succeeded");
        DataCentre.Host coldTo = where == host1 ? host2 : host1;
        String coldPool = coldTo == host1 ? "pool-a" : "pool-b";
        List<Path> stoppedFiles = new ArrayList<>(copyFiles(t.get("/v1/volumes/" + vol).json()));
        stoppedFiles.addAll(copyFiles(t.get("/v1/volumes/" + data).json()));
        Response notCold = dc.admin.post("/v1/vms/" + vm + "/migrate", Map.of("hostId", coldTo.id()));
        assertThat(notCold.status()).as(notCold.toString()).isEqualTo(409);
        assertThat(notCold.toString()).contains("not running");
        assertThat(dc.admin.post("/v1/hosts/" + where.id() + "/maintenance", null).status()).isEqualTo(202);
        long drainDeadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < drainDeadline
                && !dc.admin.get("/v1/hosts/" + where.id()).get("maintenance").asText().equals("on")) {
            InProcessEnclave.sleep(500);
        }
        assertThat(dc.admin.get("/v1/hosts/" + where.id()).get("maintenance").asText()).isEqualTo("on");
        JsonNode moved = t.get("/v1/vms/" + vm).json();
        assertThat(moved.get("hostId").asText()).as("moved cold by the drain").isEqualTo(coldTo.id());
        assertThat(moved.get("phase").asText()).isEqualTo("stopped");
        assertThat(MultiHostMigrationTest.runningQemusIn(List.of(host1, host2), vm)).as("no QEMU of the stopped VM").isEmpty();
        assertThat(stoppedFiles).noneMatch(Files::exists);
        assertThat(t.get("/v1/volumes/" + vol).get("poolId").asText()).isEqualTo(poolId(coldPool));
        assertThat(t.get("/v1/volumes/" + data).get("poolId").asText()).isEqualTo(poolId(coldPool));
        assertThat(dc.admin.delete("/v1/hosts/" + where.id() + "/maintenance").get("maintenance").asText()).isEqualTo("none");
        Response start = t.post("/v1/vms/" + vm + "/start", null);
        assertThat(awaitOperation(t, start.get("id").asText(), Duration.ofMinutes(4)).get("status").asText()).isEqualTo("succeeded");
        awaitGuestReady(t, vm);
        assertThat(qemuPid(coldTo, vm)).isPositive();
        assertThat(exec(vm, READ_BACK)).isEqualTo(md5);
        awaitDevice(vm, "/sys/block/vdb/serial", data);
        assertThat(exec(vm, READ_VOLUME)).isEqualTo(volumeMd5);

        // and back cold by request
        JsonNode stopAgain = awaitOperation(t, t.post("/v1/vms/" + vm + "/stop", Map.of("timeoutSeconds", 60)).get("id").asText(),
                Duration.ofMinutes(2));
        assertThat(stopAgain.get("status").asText()).isEqualTo("succeeded");
        JsonNode coldBack = migrate(vm, Map.of("hostId", where.id(), "cold", true));
        assertThat(coldBack.get("status").asText()).as(coldBack.toString()).isEqualTo("succeeded");
        assertThat(coldBack.get("message").asText()).contains("moved stopped").doesNotContain("downtime");
        assertThat(t.get("/v1/vms/" + vm).get("hostId").asText()).isEqualTo(where.id());
        assertThat(t.get("/v1/volumes/" + data).get("poolId").asText()).isEqualTo(poolId(coldTo == host1 ? "pool-b" : "pool-a"));
    }

    private static void assertVolumeMovedTo(String vm, String volumeId, String poolName, String md5) {
        JsonNode volume = t.get("/v1/volumes/" + volumeId).json();
        assertThat(volume.path("poolId").asText()).as(volume.toString()).isEqualTo(poolId(poolName));
        assertThat(volume.path("attachedVmId").asText()).isEqualTo(vm);
        assertThat(copyFiles(volume)).hasSize(1).allMatch(Files::exists);
        assertThat(exec(vm, "cat /sys/block/vdb/serial").strip()).isEqualTo(volumeId);
        assertThat(exec(vm, READ_VOLUME)).as("the data volume's first 4 MiB, read from the device").isEqualTo(md5);
        // every sector the writer wrote, read back from the device: each holds its own number
        int written = Integer.parseInt(exec(vm, "cat /tmp/vol-seq").strip());
        assertThat(written).isPositive();
        exec(vm, "echo 3 > /proc/sys/vm/drop_caches; for i in $(seq 1 " + (written - 1) + "); do "
                + "n=$(dd if=/dev/vdb bs=512 skip=$((16384 + i)) count=1 2>/dev/null | tr -d ' \\n'); "
                + "[ \"$n\" = \"$i\" ] || { echo \"sector $i holds '$n'\"; exit 1; }; done");
    }

    private static void awaitDevice(String vm, String file, String expected) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode r = shell(t, vm, "cat " + file + " 2>/dev/null");
            if (r.get("stdout").asText().strip().equals(expected)) return;
            InProcessEnclave.sleep(300);
        }
        throw new AssertionError(file + " never read " + expected + " in " + vm);
    }

    private static void assertMovedTo(String vm, String vol, DataCentre.Host to, String poolName, String md5, int linesBefore) {
        DataCentre.Host from = to == host1 ? host2 : host1;
        assertThat(t.get("/v1/vms/" + vm).get("hostId").asText()).isEqualTo(to.id());
        assertThat(SH.run(List.of("pgrep", "-f", "qemu-system.*" + from.dataDir + "/vms/" + vm), Duration.ofSeconds(5))
                .stdout()).as("no QEMU of the VM left on the host it left").isBlank();
        assertThat(qemuPid(to, vm)).isPositive();
        JsonNode volume = t.get("/v1/volumes/" + vol).json();
        String poolId = poolId(poolName);
        assertThat(volume.path("poolId").asText()).as(volume.toString()).isEqualTo(poolId);
        assertThat(volume.path("placement")).hasSize(2);
        for (JsonNode copy : volume.path("placement")) {
            assertThat(devById).containsKey(copy.path("deviceId").asText());
            assertThat(devById.get(copy.path("deviceId").asText()).name()).startsWith(poolName.substring(5));
        }
        assertThat(copyFiles(volume)).allMatch(Files::exists);
        awaitGuestReady(t, vm);
        assertThat(exec(vm, "cat /sys/block/vda/serial").strip()).isEqualTo(vol);
        assertThat(exec(vm, READ_BACK)).as("the data written before, read from the disk").isEqualTo(md5);
        // The writer went on through the move, every line reached the copies the guest now uses.
        int seen = lines(vm);
        assertThat(seen).isGreaterThan(linesBefore);
        InProcessEnclave.sleep(1000);
        assertThat(lines(vm)).as("still writing on the new host").isGreaterThan(seen);
        exec(vm, "sync; echo 3 > /proc/sys/vm/drop_caches; awk '$1 != NR { print \"line \" NR \": \" $0; exit 1 }' /root/seq");
    }

    /** Lines of the writer's file, read from the disk. */
    private static int lines(String vm) {
        return Integer.parseInt(exec(vm, "sync; echo 3 > /proc/sys/vm/drop_caches; wc -l < /root/seq").strip());
    }

    private static void pool(String name, DataCentre.Host host, String... deviceNames) throws Exception {
        List<String> ids = new ArrayList<>();
        for (String deviceName : deviceNames) {
            TestDevices.Dev dev = devices.add(deviceName, 3072);
            Response r = dc.admin.post("/v1/storage/devices", Map.of("path", dev.mount().toString(), "hostId", host.id()));
            assertThat(r.status()).as(r.toString()).isEqualTo(201);
            ids.add(r.get("id").asText());
            devById.put(r.get("id").asText(), dev);
        }
        Response p = dc.admin.post("/v1/storage/pools", Map.of("name", name, "deviceIds", ids));
        assertThat(p.status()).as(p.toString()).isEqualTo(201);
    }

    private static String poolId(String name) {
        for (JsonNode pool : dc.admin.get("/v1/storage/pools").json()) {
            if (pool.path("name").asText().equals(name)) return pool.path("id").asText();
        }
        throw new AssertionError("no pool " + name);
    }

    /** Each copy's file on the mount of its device. */
    private static List<Path> copyFiles(JsonNode volume) {
        List<Path> files = new ArrayList<>();
        for (JsonNode copy : volume.path("placement")) {
            files.add(devById.get(copy.path("deviceId").asText()).mount().resolve("enclave-volumes")
                    .resolve(volume.path("id").asText() + "-c" + copy.path("index").asInt() + "g"
                            + copy.path("generation").asInt() + ".qcow2"));
        }
        return files;
    }

    private static JsonNode migrate(String vmId, Map<String, Object> body) {
        Response r = dc.admin.post("/v1/vms/" + vmId + "/migrate", body);
        assertThat(r.status()).as(r.toString()).isEqualTo(202);
        return awaitOperation(dc.admin, r.get("id").asText(), Duration.ofMinutes(5));
    }

    private static String exec(String vm, String script) {
        JsonNode r = shell(t, vm, script);
        assertThat(r.get("exitCode").asInt()).as(r.toString()).isZero();
        return r.get("stdout").asText();
    }
}
