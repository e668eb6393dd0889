package io.enclave.agent.storage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.nio.file.ExtendedOpenOption;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.agent.qemu.QmpException;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.VolumeSnapshot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link StorageDriver} on plain Linux filesystems and QEMU: qemu-img for detached volumes, QMP for
 * attached ones, the quorum driver for redundancy and {@code blockdev-mirror} for rebuilding a copy.
 */
public final class QemuStorageDriver implements StorageDriver {
    private static final Logger log = LoggerFactory.getLogger(QemuStorageDriver.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String MARKER = ".enclave-device";
    private static final String PROBE = ".enclave-probe";
    private static final int PROBE_SIZE = 4096;
    private static final Duration QEMU_IMG = Duration.ofMinutes(2);
    private static final Duration COPY = Duration.ofHours(2);

    private final CommandRunner runner;

    public QemuStorageDriver(CommandRunner runner) {
        this.runner = runner;
    }

    // ---- devices ----

    @Override
    public DeviceStatus registerDevice(String deviceId, Path dir) {
        if (!dir.isAbsolute()) throw new EnclaveException.InvalidRequest("path", "must be absolute, got '" + dir + "'");
        if (!Files.isDirectory(dir)) throw new EnclaveException.InvalidRequest("path", "'" + dir + "' is not a directory");
        if (!isMountPoint(dir)) {
            throw new EnclaveException.InvalidRequest("path", "'" + dir
                    + "' is not the root of its own filesystem: mount the device there first");
        }
        Path marker = dir.resolve(MARKER);
        try {
            if (Files.exists(marker)) {
                String owner = Files.readString(marker).strip();
                if (!owner.equals(deviceId)) {
                    throw new EnclaveException.Conflict("'" + dir + "' is already registered as device '" + owner + "'");
                }
            } else {
                Files.writeString(marker, deviceId + "\n");
            }
            Files.createDirectories(dir.resolve(CopyLocation.VOLUMES_DIR));
        } catch (IOException e) {
            throw new EnclaveException.InvalidRequest("path", "cannot write to '" + dir + "': " + e.getMessage());
        }
        DeviceStatus status = probeDevice(deviceId, dir);
        if (status.health() != DeviceHealth.ONLINE) {
            throw new EnclaveException.InvalidRequest("path", "device at '" + dir + "' fails its probe: " + status.problem());
        }
        return status;
    }

    @Override
    public DeviceStatus probeDevice(String deviceId, Path dir) {
        long total = 0, used = 0, available = 0;
        try {
            if (!Files.isDirectory(dir)) return failed(deviceId, dir, "directory is missing");
            if (!isMountPoint(dir)) return failed(deviceId, dir, "no filesystem is mounted there");
            FileStore store = Files.getFileStore(dir);
            total = store.getTotalSpace();
            used = total - store.getUnallocatedSpace();
            available = store.getUsableSpace();
            String owner = Files.readString(dir.resolve(MARKER)).strip();
            if (!owner.equals(deviceId)) return failed(deviceId, dir, "holds device '" + owner + "', not this one");
            // A write and a read back, both O_DIRECT (to and from the device, not the page cache), plus an
            // fsync for the metadata: a device that errors (or whose filesystem went read-only after
            // errors) fails here. ExtendedOpenOption.DIRECT is in jdk.unsupported (exported, JDK 10+).
            ByteBuffer data = ByteBuffer.allocateDirect(2 * PROBE_SIZE).alignedSlice(PROBE_SIZE);
            data.limit(PROBE_SIZE);
            byte[] random = new byte[PROBE_SIZE];
            ThreadLocalRandom.current().nextBytes(random);
            data.put(random).flip();
            Path probe = dir.resolve(PROBE);
            try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.READ, StandardOpenOption.TRUNCATE_EXISTING, ExtendedOpenOption.DIRECT)) {
                while (data.hasRemaining()) ch.write(data, data.position());
                ch.force(true);
                ByteBuffer back = ByteBuffer.allocateDirect(2 * PROBE_SIZE).alignedSlice(PROBE_SIZE);
                back.limit(PROBE_SIZE);
                while (back.hasRemaining() && ch.read(back, back.position()) > 0) {
                    // read until full
                }
                back.flip();
                byte[] got = new byte[back.remaining()];
                back.get(got);
                if (!Arrays.equals(got, random)) {
                    Files.deleteIfExists(probe);
                    return failed(deviceId, dir, "probe read back different data");
                }
            }
            Files.delete(probe);
            return new DeviceStatus(deviceId, dir, total, used, available, DeviceHealth.ONLINE, null);
        } catch (IOException | RuntimeException e) {
            return new DeviceStatus(deviceId, dir, total, used, available, DeviceHealth.FAILED,
                    "I/O error: " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static DeviceStatus failed(String deviceId, Path dir, String problem) {
        return new DeviceStatus(deviceId, dir, 0, 0, 0, DeviceHealth.FAILED, problem);
    }

    private static boolean isMountPoint(Path dir) {
        try {
            Path parent = dir.toRealPath().getParent();
            if (parent == null) return false; // "/" is never a device
            return !Files.getAttribute(dir, "unix:dev").equals(Files.getAttribute(parent, "unix:dev"));
        } catch (IOException e) {
            return false;
        }
    }

    // ---- volumes ----

    @Override
    public void createVolume(VolumeLayout layout) {
        List<Path> made = new ArrayList<>();
        try {
            for (CopyLocation copy : layout.copies()) {
                Path file = copy.file(layout.volumeId());
                if (Files.exists(file)) throw new EnclaveException.Conflict("volume file " + file + " already exists");
                createCopyFile(file, layout.sizeBytes());
                made.add(file);
            }
        } catch (RuntimeException e) {
            made.forEach(QemuStorageDriver::deleteQuietly);
            throw e;
        }
    }

    @Override
    public boolean createBootVolume(VolumeLayout layout, Path baseFile, String baseFormat) {
        List<CopyLocation> copies = layout.inSyncCopies();
        List<CopyLocation> present = copies.stream().filter(c -> Files.exists(c.file(layout.volumeId()))).toList();
        if (present.size() == copies.size()) return false;
        if (!present.isEmpty()) {
            // Never an empty overlay next to copies that hold the guest's data: the quorum would vote on garbage.
            throw new EnclaveException.Conflict("boot volume " + layout.volumeId() + " has copies "
                    + present.stream().map(CopyLocation::index).toList() + " but not all of " + copies.stream()
                    .map(CopyLocation::index).toList() + ": resync it rather than create it again");
        }
        // Every copy is made under a temporary name and renamed once all exist, so a failure leaves none.
        List<Path> partials = new ArrayList<>();
        List<Path> renamed = new ArrayList<>();
        try {
            for (CopyLocation copy : copies) {
                Path file = copy.file(layout.volumeId());
                Path partial = file.resolveSibling(file.getFileName() + ".partial");
                Files.createDirectories(file.getParent());
                Files.deleteIfExists(partial);
                partials.add(partial);
                runner.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", baseFormat, "-b",
                        baseFile.toString(), partial.toString(), Long.toString(layout.sizeBytes())), QEMU_IMG);
            }
            for (int i = 0; i < copies.size(); i++) {
                Path file = copies.get(i).file(layout.volumeId());
                Files.move(partials.get(i), file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                renamed.add(file);
            }
            return true;
        } catch (IOException e) {
            partials.forEach(QemuStorageDriver::deleteQuietly);
            renamed.forEach(QemuStorageDriver::deleteQuietly);
            throw new IllegalStateException("boot volume " + layout.volumeId() + ": cannot create its copies: "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            partials.forEach(QemuStorageDriver::deleteQuietly);
            renamed.forEach(QemuStorageDriver::deleteQuietly);
            throw e;
        }
    }

    private void createCopyFile(Path file, long sizeBytes) {
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw new EnclaveException.Unavailable("cannot create " + file.getParent() + ": " + e.getMessage());
        }
        runner.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2", file.toString(), Long.toString(sizeBytes)),
                QEMU_IMG);
    }

    @Override
    public VolumeLayout growVolume(VolumeLayout layout, long newSizeBytes, Path attachedTo) {
        if (newSizeBytes <= layout.sizeBytes()) {
            throw new EnclaveException.InvalidRequest("sizeGib", "volumes only grow: " + newSizeBytes + " bytes is not more than "
                    + layout.sizeBytes());
        }
        if (layout.inSyncCopies().size() != layout.copies().size()) {
            throw new EnclaveException.Conflict("volume " + layout.volumeId() + " is degraded: resync it before growing");
        }
        if (attachedTo != null) {
            if (layout.copies().size() > 1) {
                // quorum has no resize; growing the children one by one under it would fail its reads.
                throw new EnclaveException.Conflict("a volume with " + layout.copies().size()
                        + " copies grows while detached (or its VM stopped)");
            }
            new QmpClient(attachedTo).execute("block_resize",
                    Map.of("node-name", graph(layout).top(), "size", newSizeBytes));
        } else {
            for (CopyLocation copy : layout.copies()) {
                runner.runChecked(List.of("qemu-img", "resize", "-q", "-f", "qcow2", copy.file(layout.volumeId()).toString(),
                        Long.toString(newSizeBytes)), QEMU_IMG);
            }
        }
        return layout.withSize(newSizeBytes);
    }

    @Override
    public void deleteVolume(VolumeLayout layout) {
        for (CopyLocation copy : layout.copies()) deleteQuietly(copy.file(layout.volumeId()));
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("cannot delete {} (device failed?): {}", file, e.getMessage());
        }
    }

    @Override
    public BlockGraph graph(VolumeLayout layout) {
        return BlockGraph.of(layout);
    }

    // ---- attach / detach ----

    @Override
    public void attach(Path qmpSocket, VolumeLayout layout) {
        BlockGraph graph = graph(layout);
        try (QmpClient.Session qmp = new QmpClient(qmpSocket).session()) {
            List<String> added = new ArrayList<>();
            try {
                for (Map<String, Object> node : graph.nodes()) {
                    qmp.execute("blockdev-add", node);
                    added.add((String) node.get("node-name"));
                }
                Map<String, Object> device = new LinkedHashMap<>();
                device.put("driver", "virtio-blk-pci");
                device.put("id", layout.qdevId());
                device.put("drive", graph.top());
                device.put("serial", layout.serial());
                qmp.execute("device_add", device);
            } catch (RuntimeException e) {
                for (int i = added.size() - 1; i >= 0; i--) deleteNode(qmp, added.get(i));
                throw e;
            }
        }
    }

    @Override
    public void detach(Path qmpSocket, VolumeLayout layout, Duration timeout) {
        try (QmpClient.Session qmp = new QmpClient(qmpSocket).session()) {
            if (deviceExists(qmp, layout.qdevId())) {
                qmp.execute("device_del", Map.of("id", layout.qdevId()));
                // PCI unplug needs the guest's consent (ACPI eject). A VM that never ran (prelaunch) has no
                // guest to give it; QEMU completes pending unplugs at reset, and a reset before the first
                // instruction changes nothing else.
                if ("prelaunch".equals(qmp.execute("query-status").path("status").asText())) {
                    qmp.execute("system_reset");
                }
                qmp.awaitEvent("DEVICE_DELETED", e -> layout.qdevId().equals(e.path("data").path("device").asText()), timeout);
            }
            removeNodes(qmp, layout.volumeId());
        }
    }

    private static boolean deviceExists(QmpClient.Session qmp, String qdevId) {
        for (JsonNode block : qmp.execute("query-block")) {
            if (block.path("qdev").asText().equals(qdevId)) return true;
            if (block.path("qdev").asText().endsWith("/" + qdevId + "/virtio-backend")) return true;
        }
        return false;
    }

    /** Deletes every node of the volume, parents first: the quorum, then qcow2 nodes, then file nodes. */
    static void removeNodes(QmpClient.Session qmp, String volumeId) {
        List<String> names = new ArrayList<>();
        for (JsonNode node : qmp.execute("query-named-block-nodes", Map.of("flat", true))) {
            String name = node.path("node-name").asText();
            if (name.equals(volumeId) || name.startsWith(volumeId + "-")) names.add(name);
        }
        names.sort(Comparator.comparingInt((String n) -> n.equals(volumeId) ? 0 : n.endsWith("f") ? 2 : 1));
        for (String name : names) deleteNode(qmp, name);
    }

    private static void deleteNode(QmpClient.Session qmp, String name) {
        try {
            qmp.execute("blockdev-del", Map.of("node-name", name));
        } catch (QmpException e) {
            log.warn("blockdev-del {}: {}", name, e.getMessage());
        }
    }

    // ---- snapshots ----

    @Override
    public List<VolumeSnapshot> listSnapshots(VolumeLayout layout, Path attachedTo) {
        CopyLocation source = firstInSync(layout);
        JsonNode snapshots;
        if (attachedTo == null) {
            String info = runner.runChecked(List.of("qemu-img", "info", "--output=json", "-f", "qcow2",
                    source.file(layout.volumeId()).toString()), QEMU_IMG).stdout();
            snapshots = readJson(info).path("snapshots");
        } else {
            snapshots = nodeInfo(new QmpClient(attachedTo).execute("query-named-block-nodes", Map.of("flat", true)),
                    source.formatNode(layout.volumeId())).path("image").path("snapshots");
        }
        List<VolumeSnapshot> result = new ArrayList<>();
        for (JsonNode s : snapshots) {
            result.add(new VolumeSnapshot(s.path("name").asText(), Instant.ofEpochSecond(s.path("date-sec").asLong())));
        }
        return result;
    }

    @Override
    public void createSnapshot(VolumeLayout layout, String name, Path attachedTo) {
        if (attachedTo == null) {
            List<CopyLocation> done = new ArrayList<>();
            try {
                for (CopyLocation copy : layout.inSyncCopies()) {
                    qemuImgSnapshot("-c", name, layout, copy);
                    done.add(copy);
                }
            } catch (RuntimeException e) {
                for (CopyLocation copy : done) {
                    try {
                        qemuImgSnapshot("-d", name, layout, copy);
                    } catch (RuntimeException ignored) {
                        // best effort: report the first failure
                    }
                }
                throw e;
            }
            return;
        }
        internalSnapshotsLive(attachedTo, layout, "blockdev-snapshot-internal-sync", name);
    }

    @Override
    public void revertSnapshot(VolumeLayout layout, String name) {
        for (CopyLocation copy : layout.inSyncCopies()) qemuImgSnapshot("-a", name, layout, copy);
    }

    @Override
    public void deleteSnapshot(VolumeLayout layout, String name, Path attachedTo) {
        if (attachedTo == null) {
            for (CopyLocation copy : layout.inSyncCopies()) qemuImgSnapshot("-d", name, layout, copy);
            return;
        }
        internalSnapshotsLive(attachedTo, layout, "blockdev-snapshot-delete-internal-sync", name);
    }

    private void qemuImgSnapshot(String op, String name, VolumeLayout layout, CopyLocation copy) {
        runner.runChecked(List.of("qemu-img", "snapshot", op, name, copy.file(layout.volumeId()).toString()),
                QEMU_IMG);
    }

    /**
     * Internal snapshots of an attached volume through QMP. QEMU only snapshots root nodes: a one-copy
     * volume's qcow2 node is one; the copies under a quorum are not. For those the VM is paused (its I/O
     * drained, so every copy holds the same point in time), each copy is taken out of the quorum with
     * {@code x-blockdev-change}, snapshotted as a root node and put back, then the VM resumes.
     */
    private static void internalSnapshotsLive(Path qmpSocket, VolumeLayout layout, String action, String name) {
        BlockGraph graph = BlockGraph.of(layout);
        try (QmpClient.Session qmp = new QmpClient(qmpSocket).session()) {
            if (layout.copies().size() == 1) {
                qmp.execute(action, Map.of("device", graph.top(), "name", name));
                return;
            }
            boolean wasRunning = qmp.execute("query-status").path("running").asBoolean();
            if (wasRunning) qmp.execute("stop");
            try {
                for (CopyLocation copy : layout.inSyncCopies()) {
                    String node = copy.formatNode(layout.volumeId());
                    String edge = quorumEdge(qmp, graph.top(), node);
                    qmp.execute("x-blockdev-change", Map.of("parent", graph.top(), "child", edge));
                    try {
                        qmp.execute(action, Map.of("device", node, "name", name));
                    } finally {
                        qmp.execute("x-blockdev-change", Map.of("parent", graph.top(), "node", node));
                    }
                }
            } finally {
                if (wasRunning) qmp.execute("cont");
            }
        }
    }

    /** The name of the quorum's edge to {@code child} ("children.N"), from QEMU's block graph. */
    private static String quorumEdge(QmpClient.Session qmp, String quorum, String child) {
        JsonNode graph = qmp.execute("x-debug-query-block-graph");
        Map<Long, String> names = new java.util.HashMap<>();
        for (JsonNode n : graph.path("nodes")) names.put(n.path("id").asLong(), n.path("name").asText());
        for (JsonNode e : graph.path("edges")) {
            if (quorum.equals(names.get(e.path("parent").asLong())) && child.equals(names.get(e.path("child").asLong()))) {
                return e.path("name").asText();
            }
        }
        throw new EnclaveException.Conflict("copy " + child + " is not in volume " + quorum + "'s graph");
    }

    // ---- failure and resync ----

    @Override
    public List<Integer> failedCopies(VolumeLayout layout) {
        List<Integer> failed = new ArrayList<>();
        for (CopyLocation copy : layout.inSyncCopies()) {
            DeviceStatus status = probeDevice(copy.deviceId(), copy.deviceDir());
            if (status.health() != DeviceHealth.ONLINE || !Files.exists(copy.file(layout.volumeId()))) failed.add(copy.index());
        }
        return failed;
    }

    public static String resyncJobId(VolumeLayout layout) {
        return layout.volumeId() + "-resync";
    }

    @Override
    public String startResync(Path qmpSocket, VolumeLayout layout, CopyLocation replacement) {
        CopyLocation old = layout.copy(replacement.index());
        if (old.generation() == replacement.generation()) {
            throw new IllegalArgumentException("a rebuilt copy needs a new generation (new file and node names)");
        }
        BlockGraph graph = graph(layout.withCopy(old.withState(CopyState.IN_SYNC)));
        Path file = replacement.file(layout.volumeId());
        createCopyFile(file, layout.sizeBytes());
        String jobId = resyncJobId(layout);
        try (QmpClient.Session qmp = new QmpClient(qmpSocket).session()) {
            cancelStaleJob(qmp, jobId);
            qmp.execute("blockdev-add", BlockGraph.fileNode(layout.volumeId(), replacement));
            qmp.execute("blockdev-add", BlockGraph.qcow2Node(layout.volumeId(), replacement));
            Map<String, Object> mirror = new LinkedHashMap<>();
            mirror.put("job-id", jobId);
            mirror.put("device", graph.top());
            mirror.put("target", replacement.formatNode(layout.volumeId()));
            mirror.put("sync", "full");
            // With one copy the target simply replaces the source (a live move); under quorum it replaces
            // the failed child, which is what the "replaces" option exists for. A quorum opened without
            // the failed copy (attached while already degraded) gets the new copy added at completion.
            if (layout.copies().size() > 1 && hasNode(qmp, old.formatNode(layout.volumeId()))) {
                mirror.put("replaces", old.formatNode(layout.volumeId()));
            }
            mirror.put("auto-dismiss", false);
            qmp.execute("blockdev-mirror", mirror);
        } catch (RuntimeException e) {
            try (QmpClient.Session qmp = new QmpClient(qmpSocket).session()) {
                deleteNode(qmp, replacement.formatNode(layout.volumeId()));
                deleteNode(qmp, replacement.fileNode(layout.volumeId()));
            } catch (RuntimeException ignored) {
                // report the first failure
            }
            deleteQuietly(file);
            throw e;
        }
        return jobId;
    }

    @Override
    public JobProgress jobProgress(Path qmpSocket, String jobId) {
        return jobProgress(new QmpClient(qmpSocket).execute("query-jobs"), jobId);
    }

    private static JobProgress jobProgress(JsonNode jobs, String jobId) {
        for (JsonNode job : jobs) {
            if (job.path("id").asText().equals(jobId)) {
                return new JobProgress(jobId, job.path("status").asText(), job.path("current-progress").asLong(),
                        job.path("total-progress").asLong(), job.hasNonNull("error") ? job.get("error").asText() : null);
            }
        }
        return new JobProgress(jobId, "absent", 0, 0, null);
    }

    @Override
    public VolumeLayout completeResync(Path qmpSocket, VolumeLayout layout, CopyLocation replacement, Duration timeout) {
        CopyLocation old = layout.copy(replacement.index());
        String jobId = resyncJobId(layout);
        long deadline = System.nanoTime() + timeout.toNanos();
        try (QmpClient.Session qmp = new QmpClient(qmpSocket).session()) {
            JobProgress progress = jobProgress(qmp.execute("query-jobs"), jobId);
            while (!progress.ready()) {
                if (progress.error() != null || "concluded".equals(progress.status()) || "absent".equals(progress.status())) {
                    dismissQuietly(qmp, jobId);
                    throw new EnclaveException.Unavailable("resync of " + layout.volumeId() + " failed: "
                            + (progress.error() != null ? progress.error() : progress.status()));
                }
                if (System.nanoTime() > deadline) {
                    throw new EnclaveException.Unavailable("resync of " + layout.volumeId() + " not ready within "
                            + timeout.toSeconds() + " s (" + progress.percent() + "%)");
                }
                sleep(50);
                progress = jobProgress(qmp.execute("query-jobs"), jobId);
            }
            String quorum = layout.volumeId();
            boolean addChild = layout.copies().size() > 1 && !hasNode(qmp, old.formatNode(layout.volumeId()));
            boolean wasRunning = false;
            if (addChild) {
                // No node to replace: with the VM paused (no new writes), cancel the ready mirror, which
                // leaves the target identical to the volume, and add the target to the quorum.
                wasRunning = qmp.execute("query-status").path("running").asBoolean();
                if (wasRunning) qmp.execute("stop");
                qmp.execute("job-cancel", Map.of("id", jobId));
            } else {
                qmp.execute("job-complete", Map.of("id", jobId));
            }
            try {
                do {
                    sleep(20);
                    progress = jobProgress(qmp.execute("query-jobs"), jobId);
                    if (System.nanoTime() > deadline) {
                        throw new EnclaveException.Unavailable("resync of " + layout.volumeId() + " did not conclude");
                    }
                } while (!"concluded".equals(progress.status()));
                qmp.execute("job-dismiss", Map.of("id", jobId));
                // A cancelled ready mirror reports "Operation canceled" though the target is in sync.
                if (progress.error() != null && !addChild) {
                    throw new EnclaveException.Unavailable("resync of " + layout.volumeId() + " failed: " + progress.error());
                }
                if (addChild) {
                    qmp.execute("x-blockdev-change", Map.of("parent", quorum, "node", replacement.formatNode(layout.volumeId())));
                }
            } finally {
                if (wasRunning) qmp.execute("cont");
            }
            if (!addChild) {
                deleteNode(qmp, old.formatNode(layout.volumeId()));
                deleteNode(qmp, old.fileNode(layout.volumeId()));
            }
        }
        deleteQuietly(old.file(layout.volumeId()));
        return layout.withCopy(replacement.withState(CopyState.IN_SYNC));
    }

    private static boolean hasNode(QmpClient.Session qmp, String name) {
        for (JsonNode node : qmp.execute("query-named-block-nodes", Map.of("flat", true))) {
            if (node.path("node-name").asText().equals(name)) return true;
        }
        return false;
    }

    /**
     * A rebuild whose follower died (a controller restart) leaves its mirror job in QEMU under the volume's job
     * id; it is cancelled before a new rebuild of the volume starts. Its target nodes stay until QEMU exits.
     */
    private static void cancelStaleJob(QmpClient.Session qmp, String jobId) {
        JobProgress stale = jobProgress(qmp.execute("query-jobs"), jobId);
        if ("absent".equals(stale.status())) return;
        log.warn("cancelling the stale copy job {} ({}) of an interrupted rebuild", jobId, stale.status());
        if (!"concluded".equals(stale.status())) qmp.execute("job-cancel", Map.of("id", jobId));
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
        while (!"concluded".equals(jobProgress(qmp.execute("query-jobs"), jobId).status())) {
            if (System.nanoTime() > deadline) throw new EnclaveException.Unavailable("stale copy job " + jobId + " did not end");
            sleep(50);
        }
        qmp.execute("job-dismiss", Map.of("id", jobId));
    }

    private static void dismissQuietly(QmpClient.Session qmp, String jobId) {
        try {
            qmp.execute("job-dismiss", Map.of("id", jobId));
        } catch (QmpException ignored) {
            // already gone
        }
    }

    @Override
    public VolumeLayout resyncDetached(VolumeLayout layout, CopyLocation replacement) {
        CopyLocation old = layout.copy(replacement.index());
        CopyLocation source = layout.inSyncCopies().stream().filter(c -> c.index() != replacement.index()).findFirst()
                .orElseThrow(() -> new EnclaveException.Conflict("volume " + layout.volumeId() + " has no other in-sync copy"));
        Path target = replacement.file(layout.volumeId());
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        try {
            Files.createDirectories(target.getParent());
            runner.runChecked(List.of("cp", "--sparse=always", "--", source.file(layout.volumeId()).toString(),
                    partial.toString()), COPY);
            runner.runChecked(List.of("qemu-img", "check", "-q", "-f", "qcow2", partial.toString()), QEMU_IMG);
            try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(partial, target);
        } catch (IOException e) {
            deleteQuietly(partial);
            throw new EnclaveException.Unavailable("cannot rebuild copy at " + target + ": " + e.getMessage());
        } catch (RuntimeException e) {
            deleteQuietly(partial);
            throw e;
        }
        if (!old.file(layout.volumeId()).equals(target)) deleteQuietly(old.file(layout.volumeId()));
        return layout.withCopy(replacement.withState(CopyState.IN_SYNC));
    }

    // ---- helpers ----

    private static CopyLocation firstInSync(VolumeLayout layout) {
        List<CopyLocation> live = layout.inSyncCopies();
        if (live.isEmpty()) throw new EnclaveException.Conflict("volume " + layout.volumeId() + " has no in-sync copy");
        return live.getFirst();
    }

    private static JsonNode nodeInfo(JsonNode nodes, String name) {
        for (JsonNode node : nodes) if (node.path("node-name").asText().equals(name)) return node;
        throw new EnclaveException.Conflict("QEMU has no block node " + name);
    }

    private static JsonNode readJson(String text) {
        try {
            return JSON.readTree(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("unreadable qemu-img output: " + text, e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EnclaveException.Unavailable("interrupted");
        }
    }
}
