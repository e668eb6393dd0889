package io.enclave.agent.qemu;

import io.enclave.agent.fs.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.network.NetworkDriver;
import io.enclave.agent.storage.CopyLocation;
import io.enclave.agent.storage.DeviceStatus;
import io.enclave.agent.storage.StorageDriver;
import io.enclave.agent.storage.VolumeLayout;
import io.enclave.core.storage.DeviceReport;
import io.enclave.core.storage.ResyncProgress;
import io.enclave.agent.storage.JobProgress;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import io.enclave.core.storage.VolumeSnapshot;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import io.enclave.core.host.ExecResult;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.HostInfo;
import io.enclave.core.host.RuntimeState;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.host.VmRuntimeStatus;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host agent for a Linux host with QEMU. Each VM is a daemonized QEMU process whose pidfile, QMP
 * socket and disk live in the VM's directory; the agent keeps nothing it cannot re-read from there, so
 * after a restart it finds (re-adopts) every running VM by its pidfile and QMP socket.
 */
public final class QemuHostAgent implements HostAgent {
    private static final Logger log = LoggerFactory.getLogger(QemuHostAgent.class);
    private static final Duration PING_TIMEOUT = Duration.ofMillis(300);

    private final HostInfo info;
    private final Path vmsDir;
    private final CommandRunner runner;
    private final Accelerator accelerator;
    private final String qemuBinary;
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private final NetworkDriver network;
    private final StorageDriver storage;
    /** vmId → the boot (booted-at) for which the guest agent has answered. */
    private final Map<String, Instant> guestReadyForBoot = new ConcurrentHashMap<>();

    public QemuHostAgent(HostInfo info, Path vmsDir, CommandRunner runner, Accelerator accelerator, String qemuBinary) {
        this(info, vmsDir, runner, accelerator, qemuBinary, null);
    }

    /** @param network the host's network driver; null for a host without tenant networking */
    public QemuHostAgent(HostInfo info, Path vmsDir, CommandRunner runner, Accelerator accelerator, String qemuBinary,
            NetworkDriver network) {
        this(info, vmsDir, runner, accelerator, qemuBinary, network, null);
    }

    /**
     * @param network the host's network driver; null for a host without tenant networking
     * @param storage the host's storage driver; null for a host without storage devices
     */
    public QemuHostAgent(HostInfo info, Path vmsDir, CommandRunner runner, Accelerator accelerator, String qemuBinary,
            NetworkDriver network, StorageDriver storage) {
        this.network = network;
        this.storage = storage;
        this.info = info;
        this.vmsDir = vmsDir;
        this.runner = runner;
        this.accelerator = accelerator;
        this.qemuBinary = qemuBinary;
        try {
            Files.createDirectories(vmsDir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create VM directory " + vmsDir, e);
        }
        if (vmsDir.toAbsolutePath().toString().length() + 16 > VmFiles.MAX_DIR_LENGTH) {
            throw new IllegalStateException("data directory path " + vmsDir + " is too long for QEMU's unix sockets");
        }
        long running = listVms().stream().filter(id -> status(id).processAlive()).count();
        log.info("host agent on {} ({}): {} VMs on disk, {} running QEMU processes adopted", info.name(),
                accelerator, listVms().size(), running);
    }

    @Override
    public HostInfo info() {
        return info;
    }

    @Override
    public List<String> listVms() {
        try (Stream<Path> dirs = Files.list(vmsDir)) {
            return dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + vmsDir, e);
        }
    }

    @Override
    public VmRuntimeStatus status(String vmId) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            Optional<Long> pid = alivePid(files);
            Instant bootedAt = readInstant(files.bootedAt());
            Instant stopRequestedAt = readInstant(files.stopRequested());
            if (pid.isPresent()) {
                RuntimeState state;
                String detail = null;
                try {
                    String qemuStatus = new QmpClient(files.qmpSocket()).execute("query-status").path("status").asText();
                    state = switch (qemuStatus) {
                        case "running" -> RuntimeState.RUNNING;
                        case "shutdown" -> RuntimeState.GUEST_SHUTDOWN;
                        case "guest-panicked", "internal-error", "io-error" -> RuntimeState.GUEST_PANICKED;
                        default -> RuntimeState.PAUSED;
                    };
                    if (state != RuntimeState.RUNNING) detail = "QEMU status " + qemuStatus;
                } catch (QmpException e) {
                    state = RuntimeState.RUNNING;
                    detail = "QMP not answering: " + e.getMessage();
                }
                boolean ready = state == RuntimeState.RUNNING && guestReady(vmId, files, bootedAt);
                return new VmRuntimeStatus(vmId, state, ready, bootedAt, stopRequestedAt, detail);
            }
            if (Files.exists(files.pidFile())) {
                return new VmRuntimeStatus(vmId, RuntimeState.PROCESS_DIED, false, bootedAt, stopRequestedAt,
                        lastLines(files.qemuLog(), 400));
            }
            if (Files.exists(files.disk())) {
                return new VmRuntimeStatus(vmId, RuntimeState.DEFINED, false, null, null, null);
            }
            return VmRuntimeStatus.absent(vmId);
        }
    }

    @Override
    public void createDisk(VmRuntimeSpec spec) {
        VmFiles files = files(spec.vmId());
        synchronized (lock(spec.vmId())) {
            if (Files.exists(files.disk())) return;
            try {
                Files.createDirectories(files.dir());
                Files.writeString(files.spec(), JsonLineChannel.JSON.writeValueAsString(spec));
                Path partial = files.dir().resolve("disk.qcow2.partial");
                Files.deleteIfExists(partial);
                runner.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2",
                        "-F", spec.image().diskFormat(), "-b", spec.image().diskPath(),
                        partial.toString(), spec.diskGib() + "G"), Duration.ofMinutes(1));
                Files.move(partial, files.disk(), StandardCopyOption.ATOMIC_MOVE);
                log.info("vm {} (tenant {}): created {} GiB disk over {}", spec.vmId(), spec.tenantId(),
                        spec.diskGib(), spec.image().diskPath());
            } catch (IOException e) {
                throw new IllegalStateException("vm " + spec.vmId() + ": cannot create disk: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public void start(VmRuntimeSpec spec) {
        VmFiles files = files(spec.vmId());
        synchronized (lock(spec.vmId())) {
            if (alivePid(files).isPresent()) return;
            if (!Files.exists(files.disk())) createDisk(spec);
            try {
                Files.deleteIfExists(files.stopRequested());
                Files.deleteIfExists(files.pidFile());
                Files.deleteIfExists(files.qmpSocket());
                Files.deleteIfExists(files.guestAgentSocket());
                Files.deleteIfExists(files.consoleSocket());
                Files.deleteIfExists(files.qemuLog());
                List<String> argv = QemuCommandLine.build(qemuBinary, withNics(spec), files, accelerator);
                CommandResult result = runner.run(argv, Duration.ofMinutes(1));
                if (!result.ok()) {
                    // QEMU reports configuration errors to its -D log file, not to stderr.
                    throw new IllegalStateException("vm " + spec.vmId() + ": QEMU did not start (exit " + result.exitCode()
                            + "): " + (result.stderr() + lastLines(files.qemuLog(), 2000)).strip());
                }
                writeInstant(files.bootedAt(), Instant.now());
                guestReadyForBoot.remove(spec.vmId());
                log.info("vm {} (tenant {}): QEMU started, pid {}", spec.vmId(), spec.tenantId(),
                        alivePid(files).map(String::valueOf).orElse("?"));
            } catch (IOException e) {
                throw new IllegalStateException("vm " + spec.vmId() + ": cannot start: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public void powerDown(String vmId) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            if (alivePid(files).isEmpty()) return;
            if (!Files.exists(files.stopRequested())) writeInstant(files.stopRequested(), Instant.now());
            new QmpClient(files.qmpSocket()).execute("system_powerdown");
            log.info("vm {}: ACPI power-down requested", vmId);
        }
    }

    @Override
    public void forceStop(String vmId) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            Optional<Long> pid = alivePid(files);
            if (pid.isPresent()) {
                try {
                    new QmpClient(files.qmpSocket()).execute("quit");
                } catch (QmpException e) {
                    log.info("vm {}: QMP quit failed ({}), killing pid {}", vmId, e.getMessage(), pid.get());
                }
                ProcessHandle handle = ProcessHandle.of(pid.get()).orElse(null);
                if (handle != null && !waitForExit(handle, Duration.ofSeconds(5))) {
                    handle.destroyForcibly();
                    waitForExit(handle, Duration.ofSeconds(5));
                }
                log.info("vm {}: QEMU pid {} stopped", vmId, pid.get());
            }
            clearRuntimeFiles(files);
        }
    }

    @Override
    public void reset(String vmId) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            new QmpClient(files.qmpSocket()).execute("system_reset");
            writeInstant(files.bootedAt(), Instant.now());
            guestReadyForBoot.remove(vmId);
            log.info("vm {}: guest reset", vmId);
        }
    }

    @Override
    public void resume(String vmId) {
        synchronized (lock(vmId)) {
            new QmpClient(files(vmId).qmpSocket()).execute("cont");
        }
    }

    @Override
    public void clearDeadProcess(String vmId) {
        synchronized (lock(vmId)) {
            clearRuntimeFiles(files(vmId));
        }
    }

    @Override
    public void destroy(String vmId) {
        synchronized (lock(vmId)) {
            forceStop(vmId);
            Path dir = files(vmId).dir();
            if (Files.exists(dir)) {
                FileTrees.delete(dir);
                log.info("vm {}: removed from host ({})", vmId, dir);
            }
        }
        locks.remove(vmId);
        guestReadyForBoot.remove(vmId);
    }

    @Override
    public String console(String vmId, int maxBytes) {
        return lastLines(files(vmId).consoleLog(), maxBytes);
    }

    @Override
    public ExecResult exec(String vmId, List<String> command, Duration timeout) {
        VmFiles files = files(vmId);
        if (alivePid(files).isEmpty()) throw new EnclaveException.Conflict("vm " + vmId + " is not running");
        return new GuestAgentClient(files.guestAgentSocket()).exec(command, timeout);
    }

    @Override
    public void applyNetworking(PublicNetwork publicNetwork, TenantNetworking tenant) {
        networkDriver().ensurePublicNetwork(publicNetwork);
        networkDriver().applyTenant(tenant);
    }

    @Override
    public void removeNetworking(String tenantId) {
        if (network != null) network.removeTenant(tenantId);
    }

    @Override
    public Map<String, RuleCounter> ruleCounters(String tenantId) {
        return network == null ? Map.of() : network.ruleCounters(tenantId);
    }

    // ------------------------------------------------------------------ storage

    @Override
    public DeviceReport registerDevice(String deviceId, String path) {
        DeviceReport report = report(storageDriver().registerDevice(deviceId, Path.of(path)));
        log.info("storage device {} registered at {}: {} bytes", deviceId, path, report.capacityBytes());
        return report;
    }

    @Override
    public DeviceReport probeDevice(String deviceId, String path) {
        return report(storageDriver().probeDevice(deviceId, Path.of(path)));
    }

    @Override
    public void createVolume(VolumeOnHost volume) {
        storageDriver().createVolume(layout(volume));
        log.info("volume {} (tenant {}): created, {} GiB x {} copies", volume.volume().id(), volume.volume().tenantId(),
                volume.volume().sizeGib(), volume.volume().copies());
    }

    @Override
    public void growVolume(VolumeOnHost volume, long newSizeGib, String attachedVmId) {
        withVm(attachedVmId, qmp -> storageDriver().growVolume(layout(volume), newSizeGib << 30, qmp));
        log.info("volume {} (tenant {}): grown to {} GiB", volume.volume().id(), volume.volume().tenantId(), newSizeGib);
    }

    @Override
    public void deleteVolume(VolumeOnHost volume) {
        storageDriver().deleteVolume(layout(volume));
        log.info("volume {} (tenant {}): deleted from host", volume.volume().id(), volume.volume().tenantId());
    }

    @Override
    public void attachVolume(String vmId, VolumeOnHost volume) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            if (alivePid(files).isEmpty()) throw new EnclaveException.Conflict("vm " + vmId + " has no running QEMU to attach to");
            storageDriver().attach(files.qmpSocket(), layout(volume));
        }
        log.info("volume {} (tenant {}): attached to vm {}", volume.volume().id(), volume.volume().tenantId(), vmId);
    }

    @Override
    public void detachVolume(String vmId, VolumeOnHost volume, Duration timeout) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            // A VM whose QEMU is gone holds nothing of the volume any more.
            if (alivePid(files).isPresent()) storageDriver().detach(files.qmpSocket(), layout(volume), timeout);
        }
        log.info("volume {} (tenant {}): detached from vm {}", volume.volume().id(), volume.volume().tenantId(), vmId);
    }

    @Override
    public List<VolumeSnapshot> listSnapshots(VolumeOnHost volume, String attachedVmId) {
        return withVm(attachedVmId, qmp -> storageDriver().listSnapshots(layout(volume), qmp));
    }

    @Override
    public void createSnapshot(VolumeOnHost volume, String name, String attachedVmId) {
        withVm(attachedVmId, qmp -> {
            storageDriver().createSnapshot(layout(volume), name, qmp);
            return null;
        });
        log.info("volume {} (tenant {}): snapshot '{}' created", volume.volume().id(), volume.volume().tenantId(), name);
    }

    @Override
    public void revertSnapshot(VolumeOnHost volume, String name) {
        storageDriver().revertSnapshot(layout(volume), name);
        log.info("volume {} (tenant {}): reverted to snapshot '{}'", volume.volume().id(), volume.volume().tenantId(), name);
    }

    @Override
    public void deleteSnapshot(VolumeOnHost volume, String name, String attachedVmId) {
        withVm(attachedVmId, qmp -> {
            storageDriver().deleteSnapshot(layout(volume), name, qmp);
            return null;
        });
        log.info("volume {} (tenant {}): snapshot '{}' deleted", volume.volume().id(), volume.volume().tenantId(), name);
    }

    @Override
    public void resyncDetached(VolumeOnHost volume, VolumeCopy replacement, String replacementDir) {
        storageDriver().resyncDetached(layout(volume), location(replacement, replacementDir));
        log.info("volume {} (tenant {}): copy {} rebuilt on device {}", volume.volume().id(), volume.volume().tenantId(),
                replacement.index(), replacement.deviceId());
    }

    @Override
    public String startResync(String vmId, VolumeOnHost volume, VolumeCopy replacement, String replacementDir) {
        String job = storageDriver().startResync(runningQmp(vmId), layout(volume), location(replacement, replacementDir));
        log.info("volume {} (tenant {}): live rebuild of copy {} on device {} started in vm {} (job {})",
                volume.volume().id(), volume.volume().tenantId(), replacement.index(), replacement.deviceId(), vmId, job);
        return job;
    }

    @Override
    public ResyncProgress resyncProgress(String vmId, String jobId) {
        JobProgress p = storageDriver().jobProgress(runningQmp(vmId), jobId);
        return new ResyncProgress(p.status(), p.currentBytes(), p.totalBytes(), p.error());
    }

    @Override
    public void completeResync(String vmId, VolumeOnHost volume, VolumeCopy replacement, String replacementDir) {
        storageDriver().completeResync(runningQmp(vmId), layout(volume), location(replacement, replacementDir),
                Duration.ofSeconds(30));
        log.info("volume {} (tenant {}): copy {} rebuilt live on device {}", volume.volume().id(),
                volume.volume().tenantId(), replacement.index(), replacement.deviceId());
    }

    private Path runningQmp(String vmId) {
        VmFiles files = files(vmId);
        if (alivePid(files).isEmpty()) throw new EnclaveException.Conflict("vm " + vmId + " has no running QEMU");
        return files.qmpSocket();
    }

    private static CopyLocation location(VolumeCopy copy, String dir) {
        return new CopyLocation(copy.index(), copy.deviceId(), Path.of(dir), copy.generation(), copy.state());
    }

    /**
     * Runs {@code action} with the QMP socket of the VM's live QEMU under the VM's lock, or with null (qemu-img)
     * when {@code vmId} is null or its QEMU is not running (the files are then not held by anyone).
     */
    private <T> T withVm(String vmId, java.util.function.Function<Path, T> action) {
        if (vmId == null) return action.apply(null);
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            return action.apply(alivePid(files).isPresent() ? files.qmpSocket() : null);
        }
    }

    private static VolumeLayout layout(VolumeOnHost volume) {
        return VolumeLayout.of(volume.volume(), deviceId -> Path.of(volume.dirOf(deviceId)));
    }

    private static DeviceReport report(DeviceStatus s) {
        return new DeviceReport(s.capacityBytes(), s.usedBytes(), s.availableBytes(), s.health(), s.problem());
    }

    private StorageDriver storageDriver() {
        if (storage == null) throw new EnclaveException.Conflict("host " + info.id() + " has no storage driver");
        return storage;
    }

    /** Resolves the VM's NICs (from the tenant networking the controller sent) to this host's TAPs. */
    private VmRuntimeSpec withNics(VmRuntimeSpec spec) {
        if (!spec.nics().isEmpty() || spec.networking() == null) return spec;
        List<io.enclave.core.network.Nic> nics = spec.networking().nics().stream()
                .filter(n -> n.vmId().equals(spec.vmId())).toList();
        if (nics.isEmpty()) return spec;
        String netns = null;
        List<io.enclave.core.host.VmNic> resolved = new java.util.ArrayList<>();
        for (io.enclave.core.network.Nic nic : nics) {
            var attachment = networkDriver().nicAttachment(spec.networking(), spec.vmId(), nic.networkId());
            netns = attachment.netns();
            resolved.add(attachment.nic());
        }
        return spec.withNics(resolved, netns);
    }

    private NetworkDriver networkDriver() {
        if (network == null) throw new EnclaveException.Conflict("host " + info.id() + " has no tenant networking");
        return network;
    }

    private boolean guestReady(String vmId, VmFiles files, Instant bootedAt) {
        if (bootedAt != null && bootedAt.equals(guestReadyForBoot.get(vmId))) return true;
        if (new GuestAgentClient(files.guestAgentSocket()).ping(PING_TIMEOUT)) {
            if (bootedAt != null) guestReadyForBoot.put(vmId, bootedAt);
            return true;
        }
        return false;
    }

    /** The VM's QEMU pid if that process is alive and really is this VM's QEMU (pids get reused). */
    private Optional<Long> alivePid(VmFiles files) {
        try {
            if (!Files.exists(files.pidFile())) return Optional.empty();
            long pid = Long.parseLong(Files.readString(files.pidFile()).strip());
            Path cmdline = Path.of("/proc", Long.toString(pid), "cmdline");
            if (!Files.exists(cmdline)) return Optional.empty();
            String args = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
            return args.contains(files.pidFile().toString()) ? Optional.of(pid) : Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static boolean waitForExit(ProcessHandle handle, Duration timeout) {
        try {
            handle.onExit().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return !handle.isAlive();
        }
    }

    private static void clearRuntimeFiles(VmFiles files) {
        try {
            for (Path p : new Path[] {files.pidFile(), files.qmpSocket(), files.guestAgentSocket(),
                    files.consoleSocket(), files.stopRequested(), files.bootedAt()}) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot clear runtime files in " + files.dir() + ": " + e.getMessage(), e);
        }
    }

    private static Instant readInstant(Path file) {
        try {
            return Files.exists(file) ? Instant.parse(Files.readString(file).strip()) : null;
        } catch (IOException | java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private static void writeInstant(Path file, Instant value) {
        try {
            Files.writeString(file, value.toString());
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    static String lastLines(Path file, int maxBytes) {
        if (!Files.exists(file)) return "";
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long length = raf.length();
            long from = Math.max(0, length - maxBytes);
            byte[] bytes = new byte[(int) (length - from)];
            raf.seek(from);
            raf.readFully(bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private VmFiles files(String vmId) {
        if (!vmId.matches("[a-z]+-[0-9a-f]{12}")) throw new IllegalArgumentException("bad vm id " + vmId);
        return new VmFiles(vmsDir.resolve(vmId));
    }

    private Object lock(String vmId) {
        return locks.computeIfAbsent(vmId, k -> new Object());
    }

    /** Host capacity as this machine reports it. */
    public static HostInfo localHostInfo(String id, String name, Accelerator accelerator) {
        long memMib = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    memMib = Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/meminfo", e);
        }
        return new HostInfo(id, name, Runtime.getRuntime().availableProcessors(), memMib, accelerator.qemuName());
    }
}
