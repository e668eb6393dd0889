package io.enclave.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The storage driver against real components: ext4 filesystems on loop devices, qemu-img, and QEMU
 * processes (no guest OS, paused with -S) driven over QMP. Data goes through QEMU's block layer with
 * qemu-io (HMP qemu-io on the guest device's BlockBackend, or the standalone qemu-io on the same graph).
 */
class QemuStorageDriverTest {
    private static final Logger log = LoggerFactory.getLogger(QemuStorageDriverTest.class);
    static final long MIB = 1L << 20;

    final ProcessCommandRunner runner = new ProcessCommandRunner();
    final QemuStorageDriver driver = new QemuStorageDriver(runner);
    final List<TestQemu> qemus = new ArrayList<>();
    LoopDevices loops;

    @BeforeEach
    void devices() throws Exception {
        loops = new LoopDevices(runner);
    }

    @AfterEach
    void cleanUp() {
        qemus.forEach(TestQemu::close);
        if (loops != null) loops.close();
    }

    List<LoopDevices.Dev> devices(int n) throws Exception {
        List<LoopDevices.Dev> devs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            LoopDevices.Dev dev = loops.add("d" + i, 64);
            driver.registerDevice(dev.id(), dev.mount());
            devs.add(dev);
        }
        return devs;
    }

    static VolumeLayout layout(String id, long size, List<LoopDevices.Dev> devs) {
        List<CopyLocation> copies = new ArrayList<>();
        for (int i = 0; i < devs.size(); i++) copies.add(new CopyLocation(i, devs.get(i).id(), devs.get(i).mount(), 0, CopyState.IN_SYNC));
        return new VolumeLayout(id, size, copies);
    }

    TestQemu qemu(String name, List<String> extra) throws Exception {
        TestQemu q = TestQemu.start(runner, loops.root.resolve(name), extra);
        qemus.add(q);
        return q;
    }

    /** Standalone qemu-io on a graph (a volume, or one copy of it) while no QEMU holds it. */
    String qemuIo(String image, String... commands) {
        List<String> argv = new ArrayList<>(List.of("qemu-io", "-f", image.startsWith("json:") ? "raw" : "qcow2"));
        if (image.startsWith("json:")) argv = new ArrayList<>(List.of("qemu-io"));
        for (String c : commands) {
            argv.add("-c");
            argv.add(c);
        }
        argv.add(image);
        CommandResult r = runner.run(argv, Duration.ofSeconds(30));
        return r.stdout() + r.stderr();
    }

    static void assertPatternOk(String qemuIoOutput) {
        assertThat(qemuIoOutput).contains("read ").doesNotContain("Pattern verification failed").doesNotContain("error")
                .doesNotContain("failed");
    }

    @Test
    void registersDevicesWithTheirCapacityAndRefusesPlainDirectories() throws Exception {
        List<LoopDevices.Dev> devs = devices(2);
        DeviceStatus status = driver.probeDevice(devs.get(0).id(), devs.get(0).mount());
        assertThat(status.health()).isEqualTo(DeviceHealth.ONLINE);
        assertThat(status.capacityBytes()).isBetween(50 * MIB, 64 * MIB);
        assertThat(status.availableBytes()).isPositive().isLessThanOrEqualTo(status.capacityBytes());

        Path plain = Files.createDirectories(loops.root.resolve("not-a-device"));
        assertThatThrownBy(() -> driver.registerDevice("dx", plain)).isInstanceOfSatisfying(EnclaveException.InvalidRequest.class,
                e -> assertThat(e.fields().getFirst().field()).isEqualTo("path")).hasMessageContaining("own filesystem");
        assertThatThrownBy(() -> driver.registerDevice("other", devs.get(1).mount()))
                .isInstanceOf(EnclaveException.Conflict.class).hasMessageContaining("already registered as device 'd1'");
        assertThat(driver.probeDevice("d0", plain).health()).isEqualTo(DeviceHealth.FAILED);

        // a device that disappears (unmounted under us) is failed, with the reason
        runner.runChecked("umount", "-l", devs.get(1).mount().toString());
        DeviceStatus gone = driver.probeDevice("d1", devs.get(1).mount());
        assertThat(gone.health()).isEqualTo(DeviceHealth.FAILED);
        assertThat(gone.problem()).contains("no filesystem is mounted");
    }

    @Test
    void createsGrowsAndDeletesACopyOnEachDevice() throws Exception {
        VolumeLayout layout = layout("vol-grow", 16 * MIB, devices(3));
        driver.createVolume(layout);
        for (CopyLocation c : layout.copies()) assertThat(virtualSize(c.file("vol-grow"))).isEqualTo(16 * MIB);
        assertThatThrownBy(() -> driver.createVolume(layout)).isInstanceOf(EnclaveException.Conflict.class);

        VolumeLayout grown = driver.growVolume(layout, 24 * MIB, null);
        for (CopyLocation c : grown.copies()) assertThat(virtualSize(c.file("vol-grow"))).isEqualTo(24 * MIB);
        assertThatThrownBy(() -> driver.growVolume(grown, 8 * MIB, null))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("only grow");

        driver.deleteVolume(grown);
        for (CopyLocation c : grown.copies()) assertThat(c.file("vol-grow")).doesNotExist();
    }

    /** The nodes under {@code quorum} in QEMU's live block graph. */
    static List<String> quorumChildren(TestQemu q, String quorum) {
        JsonNode graph = q.client.execute("x-debug-query-block-graph");
        Map<Long, String> names = new java.util.HashMap<>();
        graph.path("nodes").forEach(n -> names.put(n.path("id").asLong(), n.path("name").asText()));
        List<String> children = new ArrayList<>();
        graph.path("edges").forEach(e -> {
            if (quorum.equals(names.get(e.path("parent").asLong()))) children.add(names.get(e.path("child").asLong()));
        });
        return children;
    }

    static void hmpIo(QmpClient.Session s, String command) {
        String out = s.execute("human-monitor-command", Map.of("command-line",
                "qemu-io -d /machine/peripheral/vol-q3-dev/virtio-backend \"" + command + "\"")).asText();
        assertThat(out).isBlank();
    }

    long virtualSize(Path file) {
        String info = runner.runChecked("qemu-img", "info", "--output=json", file.toString()).stdout();
        return Long.parseLong(info.replaceAll("(?s).*\"virtual-size\": (\\d+).*", "$1"));
    }

    @Test
    void graphHasTheDocumentedThresholds() {
        Path d = Path.of("/srv/d");
        VolumeLayout three = new VolumeLayout("vol-a", MIB, List.of(new CopyLocation(0, "a", d, 0, CopyState.IN_SYNC),
                new CopyLocation(1, "b", d, 0, CopyState.IN_SYNC), new CopyLocation(2, "c", d, 0, CopyState.IN_SYNC)));
        Map<String, Object> quorum = BlockGraph.of(three).nodes().getLast();
        assertThat(quorum).containsEntry("driver", "quorum").containsEntry("vote-threshold", 2)
                .containsEntry("rewrite-corrupted", true).containsEntry("node-name", "vol-a");
        VolumeLayout two = new VolumeLayout("vol-b", MIB, three.copies().subList(0, 2));
        assertThat(BlockGraph.of(two).nodes().getLast()).containsEntry("vote-threshold", 1).doesNotContainKey("rewrite-corrupted");
        VolumeLayout degraded = three.withCopy(three.copy(1).withState(CopyState.FAILED));
        assertThat(BlockGraph.of(degraded).nodeNames()).containsExactly("vol-a-c0g0f", "vol-a-c0g0", "vol-a-c2g0f", "vol-a-c2g0", "vol-a");
        VolumeLayout one = new VolumeLayout("vol-c", MIB, three.copies().subList(0, 1));
        assertThat(BlockGraph.of(one).top()).isEqualTo("vol-c-c0g0");
        assertThat(BlockGraph.of(one).commandLineArgs()).containsExactly("-blockdev",
                "{\"driver\":\"file\",\"node-name\":\"vol-c-c0g0f\",\"filename\":\"/srv/d/enclave-volumes/vol-c-c0g0.qcow2\",\"cache\":{\"direct\":true}}",
                "-blockdev", "{\"driver\":\"qcow2\",\"node-name\":\"vol-c-c0g0\",\"file\":\"vol-c-c0g0f\"}");
        assertThatThrownBy(() -> new VolumeLayout("Bad Id", MIB, three.copies())).isInstanceOf(IllegalArgumentException.class);
        Volume domain = new Volume("vol-3f9a0c61b2d4", "t1", "data", "pool-1", 2, 2,
                List.of(new VolumeCopy(0, "a", 0, CopyState.IN_SYNC), new VolumeCopy(1, "b", 3, CopyState.FAILED)), null, false, List.of());
        VolumeLayout fromDomain = VolumeLayout.of(domain, id -> Path.of("/srv", id));
        assertThat(fromDomain.sizeBytes()).isEqualTo(2L << 30);
        assertThat(fromDomain.copy(1).file(domain.id())).isEqualTo(Path.of("/srv/b/enclave-volumes/vol-3f9a0c61b2d4-c1g3.qcow2"));
        assertThat(fromDomain.copy(1).fileNode(domain.id())).hasSizeLessThanOrEqualTo(31);
        assertThat(BlockGraph.of(fromDomain).nodeNames()).containsExactly("vol-3f9a0c61b2d4-c0g0f", "vol-3f9a0c61b2d4-c0g0",
                "vol-3f9a0c61b2d4");
        assertThatThrownBy(() -> new VolumeLayout("vol-x", 0, three.copies())).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void dataWrittenInOneQemuReadsBackInAnotherAndOnEveryCopy() throws Exception {
        VolumeLayout layout = layout("vol-data", 16 * MIB, devices(3));
        driver.createVolume(layout);
        TestQemu a = qemu("qa", List.of());
        driver.attach(a.qmp, layout);
        assertThat(a.blockDevices()).anyMatch(q -> q.contains("vol-data-dev"));
        a.qemuIo(layout.qdevId(), "write -P 0x5a 0 4M");
        a.qemuIo(layout.qdevId(), "write -P 0xa5 8M 1M");
        driver.detach(a.qmp, layout, Duration.ofSeconds(10));
        assertThat(a.blockDevices()).noneMatch(q -> q.contains("vol-data-dev"));
        assertThat(a.client.execute("query-named-block-nodes", Map.of("flat", true)).toString()).doesNotContain("vol-data");

        TestQemu b = qemu("qb", List.of());
        driver.attach(b.qmp, layout);
        assertPatternOk(b.readThroughQemu(runner, "vol-data", "read -P 0x5a 0 4M", "read -P 0xa5 8M 1M"));
        driver.detach(b.qmp, layout, Duration.ofSeconds(10));
        for (CopyLocation c : layout.copies()) {
            assertPatternOk(qemuIo(c.file("vol-data").toString(), "read -P 0x5a 0 4M", "read -P 0xa5 8M 1M"));
        }
    }

    @Test
    void bootDiskGraphWorksOnTheCommandLine() throws Exception {
        VolumeLayout layout = layout("vol-boot", 16 * MIB, devices(2));
        driver.createVolume(layout);
        BlockGraph graph = driver.graph(layout);
        List<String> extra = new ArrayList<>(graph.commandLineArgs());
        extra.addAll(List.of("-device", "virtio-blk-pci,drive=" + graph.top() + ",id=" + layout.qdevId() + ",bootindex=0"));
        TestQemu q = qemu("qboot", extra);
        JsonNode block = q.client.execute("query-block").get(0);
        assertThat(block.path("inserted").path("node-name").asText()).isEqualTo("vol-boot");
        assertThat(block.path("inserted").path("drv").asText()).isEqualTo("quorum");
        q.qemuIo(layout.qdevId(), "write -P 0x11 0 1M");
        assertPatternOk(q.readThroughQemu(runner, "vol-boot", "read -P 0x11 0 1M"));
    }

    @Test
    void snapshotsDetachedAndAttached() throws Exception {
        VolumeLayout layout = layout("vol-snap", 16 * MIB, devices(2));
        driver.createVolume(layout);
        String volume = driver.graph(layout).nestedJson();
        assertThat(qemuIo(volume, "write -P 0x01 0 2M")).doesNotContain("failed");
        driver.createSnapshot(layout, "before", null);
        assertThat(qemuIo(volume, "write -P 0x02 0 2M")).doesNotContain("failed");
        assertThat(driver.listSnapshots(layout, null)).extracting(VolumeSnapshot::name).containsExactly("before");

        // live: the VM holds the images, so the snapshot goes through QMP, one transaction over both copies
        TestQemu q = qemu("qsnap", List.of());
        driver.attach(q.qmp, layout);
        driver.createSnapshot(layout, "live", q.qmp);
        assertThat(driver.listSnapshots(layout, q.qmp)).extracting(VolumeSnapshot::name).containsExactly("before", "live");
        driver.createSnapshot(layout, "scratch", q.qmp);
        driver.deleteSnapshot(layout, "scratch", q.qmp);
        assertThat(driver.listSnapshots(layout, q.qmp)).extracting(VolumeSnapshot::name).containsExactly("before", "live");
        assertThat(quorumChildren(q, "vol-snap")).containsExactlyInAnyOrder("vol-snap-c0g0", "vol-snap-c1g0");
        q.qemuIo(layout.qdevId(), "write -P 0x03 0 2M");
        driver.detach(q.qmp, layout, Duration.ofSeconds(10));

        driver.revertSnapshot(layout, "before");
        for (CopyLocation c : layout.copies()) assertPatternOk(qemuIo(c.file("vol-snap").toString(), "read -P 0x01 0 2M"));
        driver.revertSnapshot(layout, "live");
        assertPatternOk(qemuIo(volume, "read -P 0x02 0 2M"));
        driver.deleteSnapshot(layout, "before", null);
        assertThat(driver.listSnapshots(layout, null)).extracting(VolumeSnapshot::name).containsExactly("live");
        assertThatThrownBy(() -> driver.revertSnapshot(layout, "nope")).hasMessageContaining("nope");
    }

    @Test
    void aThreeCopyVolumeSurvivesAFailedDeviceThenResyncsToANewOne() throws Exception {
        List<LoopDevices.Dev> devs = devices(4);
        VolumeLayout layout = layout("vol-q3", 32 * MIB, devs.subList(0, 3));
        driver.createVolume(layout);
        TestQemu q = qemu("qq", List.of());
        driver.attach(q.qmp, layout);
        q.qemuIo(layout.qdevId(), "write -P 0x5a 0 16M");
        // writes in flight when the device breaks, and more after it broke
        List<JsonNode> events;
        try (QmpClient.Session s = q.client.session()) {
            for (int mib = 16; mib < 20; mib++) hmpIo(s, "aio_write -P 0x6b " + mib + "M 1M");
            loops.fail(devs.get(1));
            for (int mib = 20; mib < 24; mib++) hmpIo(s, "aio_write -P 0x6b " + mib + "M 1M");
            hmpIo(s, "aio_flush");
            events = s.takeEvents();
        }
        // the guest's view, read through the quorum while copy 1's device fails every request
        assertPatternOk(q.readThroughQemu(runner, "vol-q3", "read -P 0x5a 0 16M", "read -P 0x6b 16M 8M"));
        log.info("events after the failure: {}", events);
        assertThat(events).anyMatch(e -> e.path("event").asText().equals("QUORUM_REPORT_BAD")
                && e.path("data").path("node-name").asText().equals("vol-q3-c1g0"));
        assertThat(events).noneMatch(e -> e.path("event").asText().equals("QUORUM_FAILURE"));
        assertThat(driver.probeDevice("d1", devs.get(1).mount()).health()).isEqualTo(DeviceHealth.FAILED);
        assertThat(driver.failedCopies(layout)).containsExactly(1);
        VolumeLayout degraded = layout.withCopy(layout.copy(1).withState(CopyState.FAILED));

        // the admin adds a device; copy 1 is rebuilt there while the volume stays attached
        CopyLocation replacement = new CopyLocation(1, "d3", devs.get(3).mount(), 1, CopyState.RESYNCING);
        long start = System.nanoTime();
        String job = driver.startResync(q.qmp, degraded, replacement);
        JobProgress progress = driver.jobProgress(q.qmp, job);
        log.info("resync progress right after start: {}", progress);
        assertThat(progress.status()).isIn("created", "running", "ready");
        VolumeLayout healed = driver.completeResync(q.qmp, degraded, replacement, Duration.ofSeconds(60));
        double seconds = (System.nanoTime() - start) / 1e9;
        log.info("resync of 32 MiB volume ({} MiB allocated) took {} s", 24, String.format("%.2f", seconds));
        assertThat(healed.inSyncCopies()).hasSize(3);
        assertThat(driver.jobProgress(q.qmp, job).status()).isEqualTo("absent");
        assertThat(quorumChildren(q, "vol-q3")).containsExactlyInAnyOrder("vol-q3-c0g0", "vol-q3-c1g1", "vol-q3-c2g0");
        assertThat(q.client.execute("query-named-block-nodes", Map.of("flat", true)).toString()).doesNotContain("vol-q3-c1g0\"");
        assertPatternOk(q.readThroughQemu(runner, "vol-q3", "read -P 0x5a 0 16M", "read -P 0x6b 16M 8M"));
        driver.detach(q.qmp, healed, Duration.ofSeconds(10));
        for (CopyLocation c : healed.copies()) {
            assertPatternOk(qemuIo(c.file("vol-q3").toString(), "read -P 0x5a 0 16M", "read -P 0x6b 16M 8M"));
        }
    }

    @Test
    void aVolumeAttachedWhileDegradedGetsItsMissingCopyBackLive() throws Exception {
        List<LoopDevices.Dev> devs = devices(4);
        VolumeLayout layout = layout("vol-dg", 16 * MIB, devs.subList(0, 3));
        driver.createVolume(layout);
        loops.fail(devs.get(2));
        assertThat(driver.failedCopies(layout)).containsExactly(2);
        VolumeLayout degraded = layout.withCopy(layout.copy(2).withState(CopyState.FAILED));
        TestQemu q = qemu("qdg", List.of());
        driver.attach(q.qmp, degraded);
        assertThat(quorumChildren(q, "vol-dg")).containsExactlyInAnyOrder("vol-dg-c0g0", "vol-dg-c1g0");
        q.qemuIo(degraded.qdevId(), "write -P 0x77 0 6M");

        CopyLocation replacement = new CopyLocation(2, "d3", devs.get(3).mount(), 1, CopyState.RESYNCING);
        driver.startResync(q.qmp, degraded, replacement);
        VolumeLayout healed = driver.completeResync(q.qmp, degraded, replacement, Duration.ofSeconds(30));
        assertThat(quorumChildren(q, "vol-dg")).containsExactlyInAnyOrder("vol-dg-c0g0", "vol-dg-c1g0", "vol-dg-c2g1");
        assertThat(q.client.execute("query-status").path("status").asText()).isEqualTo("prelaunch");
        q.qemuIo(healed.qdevId(), "write -P 0x78 8M 1M");
        driver.detach(q.qmp, healed, Duration.ofSeconds(10));
        for (CopyLocation c : healed.copies()) {
            assertPatternOk(qemuIo(c.file("vol-dg").toString(), "read -P 0x77 0 6M", "read -P 0x78 8M 1M"));
        }
    }

    @Test
    void aRebuildWhoseFollowerDiedIsCancelledWhenTheNextOneStarts() throws Exception {
        List<LoopDevices.Dev> devs = devices(4);
        VolumeLayout layout = layout("vol-ab", 16 * MIB, devs.subList(0, 3));
        driver.createVolume(layout);
        loops.fail(devs.get(2));
        VolumeLayout degraded = layout.withCopy(layout.copy(2).withState(CopyState.FAILED));
        TestQemu q = qemu("qab", List.of());
        driver.attach(q.qmp, degraded);
        q.qemuIo(degraded.qdevId(), "write -P 0x31 0 4M");

        // A rebuild is started and nobody completes it (the controller that followed it restarted).
        CopyLocation abandoned = new CopyLocation(2, "d3", devs.get(3).mount(), 1, CopyState.RESYNCING);
        String job = driver.startResync(q.qmp, degraded, abandoned);
        assertThat(driver.jobProgress(q.qmp, job).status()).isNotEqualTo("absent");

        CopyLocation again = new CopyLocation(2, "d3", devs.get(3).mount(), 2, CopyState.RESYNCING);
        driver.startResync(q.qmp, degraded, again);
        VolumeLayout healed = driver.completeResync(q.qmp, degraded, again, Duration.ofSeconds(30));
        assertThat(quorumChildren(q, "vol-ab")).containsExactlyInAnyOrder("vol-ab-c0g0", "vol-ab-c1g0", "vol-ab-c2g2");
        q.qemuIo(healed.qdevId(), "write -P 0x32 8M 1M");
        driver.detach(q.qmp, healed, Duration.ofSeconds(10));
        for (CopyLocation c : healed.copies()) {
            assertPatternOk(qemuIo(c.file("vol-ab").toString(), "read -P 0x31 0 4M", "read -P 0x32 8M 1M"));
        }
    }

    @Test
    void aTwoCopyVolumeKeepsServingWithOneDeviceGoneAndResyncsWhileDetached() throws Exception {
        List<LoopDevices.Dev> devs = devices(3);
        VolumeLayout layout = layout("vol-q2", 16 * MIB, devs.subList(0, 2));
        driver.createVolume(layout);
        driver.createSnapshot(layout, "s0", null);
        TestQemu q = qemu("q2", List.of());
        driver.attach(q.qmp, layout);
        loops.fail(devs.get(0));
        q.qemuIo(layout.qdevId(), "write -P 0x33 0 4M");
        assertPatternOk(q.readThroughQemu(runner, "vol-q2", "read -P 0x33 0 4M"));
        assertThat(driver.failedCopies(layout)).containsExactly(0);
        VolumeLayout degraded = layout.withCopy(layout.copy(0).withState(CopyState.FAILED));
        driver.detach(q.qmp, layout, Duration.ofSeconds(10));

        VolumeLayout healed = driver.resyncDetached(degraded, new CopyLocation(0, "d2", devs.get(2).mount(), 1, CopyState.RESYNCING));
        assertThat(healed.inSyncCopies()).hasSize(2);
        for (CopyLocation c : healed.copies()) {
            assertPatternOk(qemuIo(c.file("vol-q2").toString(), "read -P 0x33 0 4M"));
        }
        // the file copy carries the snapshots too
        assertThat(driver.listSnapshots(healed, null)).extracting(VolumeSnapshot::name).containsExactly("s0");
    }

    @Test
    void aOneCopyVolumeGrowsAndMovesToAnotherDeviceWhileAttached() throws Exception {
        List<LoopDevices.Dev> devs = devices(2);
        VolumeLayout layout = layout("vol-mv", 16 * MIB, devs.subList(0, 1));
        driver.createVolume(layout);
        TestQemu q = qemu("qmv", List.of());
        driver.attach(q.qmp, layout);
        q.qemuIo(layout.qdevId(), "write -P 0x44 0 8M");
        VolumeLayout grown = driver.growVolume(layout, 24 * MIB, q.qmp);
        assertThat(q.client.execute("query-block").get(0).path("inserted").path("image").path("virtual-size").asLong())
                .isEqualTo(24 * MIB);

        // a live move is the rebuild of the only copy elsewhere: blockdev-mirror, then the pivot
        CopyLocation target = new CopyLocation(0, "d1", devs.get(1).mount(), 1, CopyState.RESYNCING);
        driver.startResync(q.qmp, grown, target);
        VolumeLayout moved = driver.completeResync(q.qmp, grown, target, Duration.ofSeconds(30));
        assertThat(q.client.execute("query-block").get(0).path("inserted").path("node-name").asText()).isEqualTo("vol-mv-c0g1");
        assertThat(layout.copy(0).file("vol-mv")).doesNotExist();
        q.qemuIo(moved.qdevId(), "write -P 0x45 16M 1M");
        driver.detach(q.qmp, moved, Duration.ofSeconds(10));
        assertPatternOk(qemuIo(moved.copy(0).file("vol-mv").toString(), "read -P 0x44 0 8M", "read -P 0x45 16M 1M"));
        assertThat(virtualSize(moved.copy(0).file("vol-mv"))).isEqualTo(24 * MIB);
    }

    @Test
    void refusesWhatTheHostCannotDo() throws Exception {
        VolumeLayout layout = layout("vol-bad", 16 * MIB, devices(2));
        driver.createVolume(layout);
        TestQemu q = qemu("qbad", List.of());
        driver.attach(q.qmp, layout);
        assertThatThrownBy(() -> driver.attach(q.qmp, layout)).hasMessageContaining("vol-bad");
        assertThat(q.blockDevices()).hasSize(1);
        assertThatThrownBy(() -> driver.growVolume(layout, 32 * MIB, q.qmp)).isInstanceOf(EnclaveException.Conflict.class);
        assertThatThrownBy(() -> driver.startResync(q.qmp, layout, layout.copy(0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("generation");
        VolumeLayout bigger = layout.withSize(64 * MIB);
        assertThatThrownBy(() -> driver.growVolume(bigger, 32 * MIB, null)).isInstanceOf(EnclaveException.InvalidRequest.class);
    }
}
