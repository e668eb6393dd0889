package io.enclave.agent.qemu;

import io.enclave.agent.exec.Pause;
import io.enclave.agent.fs.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.network.NetworkDriver;
import io.enclave.agent.storage.BlockGraph;
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
import io.enclave.core.host.MigrationProgress;
import io.enclave.core.host.MigrationTarget;
import io.enclave.agent.migration.IncomingMigration;
import io.enclave.agent.migration.MigratingDisk;
import io.enclave.agent.migration.LeftoverMigration;
import io.enclave.agent.migration.MigrationPortRange;
import io.enclave.agent.migration.OutgoingMigration;
import io.enclave.core.host.RuntimeState;
import io.enclave.core.host.PluggedVolume;
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
    private static final Duration INCOMING_LOAD_TIMEOUT = Duration.ofSeconds(10);

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
    /** Live migrations this agent runs: relays and the driving thread exist only in memory. */
    private final Map<String, IncomingMigration> incoming = new ConcurrentHashMap<>();
    private final Map<String, OutgoingMigration> outgoing = new ConcurrentHashMap<>();
    private final MigrationPortRange migrationPorts;

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
        this(info, vmsDir, runner, accelerator, qemuBinary, network, storage, MigrationPortRange.DEFAULT);
    }

    /**
     * @param network the host's network driver; null for a host without tenant networking
     * @param storage the host's storage driver; null for a host without storage devices
     * @param migrationPorts the TCP ports incoming migrations' relays listen on
     */
    public QemuHostAgent(HostInfo info, Path vmsDir, CommandRunner runner, Accelerator accelerator, String qemuBinary,
            NetworkDriver network, StorageDriver storage, MigrationPortRange migrationPorts) {
        this.network = network;
        this.migrationPorts = migrationPorts;
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
        migrationPorts.ephemeralOverlapWarning(MigrationPortRange.EPHEMERAL_RANGE_FILE).ifPresent(log::warn);
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
            if (Files.exists(files.disk()) || BootVolumeRecord.exists(files)) {
                return new VmRuntimeStatus(vmId, RuntimeState.DEFINED, false, null, null, null);
            }
            return VmRuntimeStatus.absent(vmId);
        }
    }

    @Override
    public void createDisk(VmRuntimeSpec spec) {
        VmFiles files = files(spec);
        synchronized (lock(spec.vmId())) {
            rememberDisk(spec, files);
            if (spec.bootVolume() != null) {
                createBootVolume(spec);
                // Only once its copies exist: from then on the VM is defined here and destroy removes them.
                BootVolumeRecord.remember(files, spec.vmId(), spec.bootVolume());
                return;
            }
            if (Files.exists(files.disk())) return;
            try {
                Files.createDirectories(files.disk().getParent());
                Path partial = files.disk().resolveSibling(VmFiles.DISK_NAME + ".partial");
                Files.deleteIfExists(partial);
                runner.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2",
                        "-F", spec.image().diskFormat(), "-b", spec.image().diskPath(),
                        partial.toString(), spec.diskGib() + "G"), Duration.ofMinutes(1));
                Files.move(partial, files.disk(), StandardCopyOption.ATOMIC_MOVE);
                log.info("vm {} (tenant {}): created {} GiB disk {} over {}", spec.vmId(), spec.tenantId(),
                        spec.diskGib(), files.disk(), spec.image().diskPath());
            } catch (IOException e) {
                throw new IllegalStateException("vm " + spec.vmId() + ": cannot create disk: " + e.getMessage(), e);
            }
        }
    }

    /** The boot volume's copies as overlays of the image's base file; nothing is done when they are all there. */
    private void createBootVolume(VmRuntimeSpec spec) {
        VolumeOnHost volume = spec.bootVolume();
        boolean created = storageDriver().createBootVolume(VolumeLayout.of(volume), Path.of(spec.image().diskPath()),
                spec.image().diskFormat());
        if (created) {
            log.info("vm {} (tenant {}): boot volume {} created, {} GiB x {} copies over {}", spec.vmId(),
                    spec.tenantId(), volume.volume().id(), spec.diskGib(), volume.volume().copies(), spec.image().diskPath());
        }
    }

    @Override
    public void start(VmRuntimeSpec spec) {
        VmFiles files = files(spec);
        synchronized (lock(spec.vmId())) {
            if (alivePid(files).isPresent()) return;
            if (spec.bootVolume() != null || !Files.exists(files.disk())) createDisk(spec);
            rememberDisk(spec, files);
            launch(spec, files, List.of());
            log.info("vm {} (tenant {}): QEMU started, pid {}", spec.vmId(), spec.tenantId(),
                    alivePid(files).map(String::valueOf).orElse("?"));
        }
    }

    /** In what QEMU says when another process holds the write lock of an image it opens ("Failed to get [shared] \"write\" lock"). */
    private static final String DISK_LOCKED = "\"write\" lock";
    /** A start refused by the disk lock is not tried again (another QEMU launched) before this. */
    private static final Duration LOCKED_DISK_RETRY = Duration.ofSeconds(5);

    private record LockedDisk(Instant retryAt, String qemuError) {}

    private final Map<String, LockedDisk> diskLocked = new ConcurrentHashMap<>();

    private static EnclaveException.Unavailable lockedDisk(String vmId, String qemuError) {
        return new EnclaveException.Unavailable("vm " + vmId + ": its disk is in use by another QEMU (a host that lost its "
                + "agent may still run it); the start waits until it is free: " + qemuError);
    }

    /** Starts the VM's QEMU (daemonized) from a clean set of runtime files; {@code extraArgs} go last. */
    private void launch(VmRuntimeSpec spec, VmFiles files, List<String> extraArgs) {
        LockedDisk locked = diskLocked.get(spec.vmId());
        if (locked != null && Instant.now().isBefore(locked.retryAt())) throw lockedDisk(spec.vmId(), locked.qemuError());
        diskLocked.remove(spec.vmId());
        try {
            Files.deleteIfExists(files.stopRequested());
            Files.deleteIfExists(files.pidFile());
            Files.deleteIfExists(files.qmpSocket());
            Files.deleteIfExists(files.guestAgentSocket());
            Files.deleteIfExists(files.consoleSocket());
            Files.deleteIfExists(files.qemuLog());
            List<String> argv = new java.util.ArrayList<>(
                    QemuCommandLine.build(qemuBinary, withNics(spec), files, accelerator));
            argv.addAll(extraArgs);
            CommandResult result = runner.run(argv, Duration.ofMinutes(1));
            if (!result.ok()) {
                // QEMU reports configuration errors to its -D log file, not to stderr.
                String why = (result.stderr() + lastLines(files.qemuLog(), 2000)).strip();
                if (why.contains(DISK_LOCKED)) {
                    // QEMU's image lock: another QEMU has this disk open, e.g. on a host whose agent died while its
                    // VMs ran on. Not a failure of this start: it can succeed once that QEMU is gone.
                    diskLocked.put(spec.vmId(), new LockedDisk(Instant.now().plus(LOCKED_DISK_RETRY), why));
                    throw lockedDisk(spec.vmId(), why);
                }
                throw new IllegalStateException("vm " + spec.vmId() + ": QEMU did not start (exit " + result.exitCode()
                        + "): " + why);
            }
            writeInstant(files.bootedAt(), Instant.now());
            guestReadyForBoot.remove(spec.vmId());
        } catch (IOException e) {
            throw new IllegalStateException("vm " + spec.vmId() + ": cannot start: " + e.getMessage(), e);
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

    /**
     * Self-fencing: stops now every VM whose disk is on shared storage, because a controller that lost this
     * host restarts such VMs elsewhere. VMs on this host's own storage keep running. Returns the ids stopped.
     */
    public List<String> stopSharedStorageVms() {
        List<String> stopped = new java.util.ArrayList<>();
        for (String vmId : listVms()) {
            VmFiles files = files(vmId);
            if (!files.sharedDisk() || alivePid(files).isEmpty()) continue;
            ProcessHandle.of(alivePid(files).get()).ifPresent(ProcessHandle::destroyForcibly);
            log.warn("vm {}: QEMU killed by self-fencing (its disk {} is on shared storage)", vmId, files.disk());
            stopped.add(vmId);
        }
        return stopped;
    }

    /**
     * Self-fencing of a host cut off from the controller: its shared-storage VMs are killed (they may be
     * restarted elsewhere) and its tenant firewalls are taken off the public network (they may move elsewhere,
     * with their public addresses). Returns what it did, for the log.
     */
    public List<String> fenceSelf() {
        List<String> done = new java.util.ArrayList<>();
        stopSharedStorageVms().forEach(vm -> done.add("vm " + vm + " stopped"));
        if (network != null) network.isolateFirewalls().forEach(port -> done.add("firewall port " + port + " down"));
        return done;
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
            VmFiles files = files(vmId);
            Optional<VolumeOnHost> bootVolume = BootVolumeRecord.read(files, vmId);
            removeFromHost(vmId, files);
            bootVolume.ifPresent(volume -> {
                storageDriver().deleteVolume(VolumeLayout.of(volume));
                log.info("vm {}: removed its boot volume {}", vmId, volume.volume().id());
            });
            if (files.sharedDisk()) {
                try {
                    Files.deleteIfExists(files.disk());
                    // the shared directory was the VM's alone (disk.qcow2 in it): drop it once empty
                    Path sharedDir = files.disk().getParent();
                    if (Files.isDirectory(sharedDir)) {
                        try (Stream<Path> left = Files.list(sharedDir)) {
                            if (left.findAny().isEmpty()) Files.delete(sharedDir);
                        }
                    }
                } catch (IOException e) {
                    throw new IllegalStateException("vm " + vmId + ": cannot remove its shared disk " + files.disk() + ": "
                            + e.getMessage(), e);
                }
                log.info("vm {}: removed its shared disk {}", vmId, files.disk());
            }
        }
        locks.remove(vmId);
        guestReadyForBoot.remove(vmId);
    }

    /** Stops the VM's QEMU and migrations and deletes its directory; a disk on shared storage stays. */
    private void removeFromHost(String vmId, VmFiles files) {
        OutgoingMigration out = outgoing.remove(vmId);
        if (out != null) out.close(Duration.ofSeconds(10));
        IncomingMigration in = incoming.remove(vmId);
        if (in != null) in.close();
        forceStop(vmId);
        if (Files.exists(files.dir())) {
            FileTrees.delete(files.dir());
            log.info("vm {}: removed from host ({})", vmId, files.dir());
        }
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

    // ------------------------------------------------------------------ live migration

    @Override
    public MigrationTarget prepareIncoming(VmRuntimeSpec spec, boolean copyStorage, String listenAddress) {
        String vmId = spec.vmId();
        synchronized (lock(vmId)) {
            IncomingMigration open = incoming.get(vmId);
            if (open != null) return open.target();
            VmFiles files = files(spec);
            boolean alive = alivePid(files).isPresent();
            if (alive && IncomingMigration.recorded(files)) {
                // this agent restarted while its QEMU waited: relays again, on the same ports
                IncomingMigration reopened = IncomingMigration.reopen(vmId, files, migrationPorts);
                incoming.put(vmId, reopened);
                return reopened.target();
            }
            if (alive) throw new EnclaveException.Conflict("vm " + vmId + " is already running on host " + info.id());
            if (spec.bootVolume() != null && !copyStorage) {
                throw new EnclaveException.InvalidRequest("copyStorage", "vm " + vmId + " boots from volume "
                        + spec.bootVolume().volume().id() + ", whose copies are on one host's devices: it moves only by copying");
            }
            if (spec.bootVolume() != null) refuseExistingCopies(vmId, VolumeLayout.of(spec.bootVolume()));
            if (!spec.pluggedVolumes().isEmpty() && !copyStorage) {
                throw new EnclaveException.InvalidRequest("copyStorage", "vm " + vmId + " has hot-plugged volumes, whose "
                        + "copies are on one host's devices: it moves only by copying");
            }
            for (PluggedVolume plugged : spec.pluggedVolumes()) refuseExistingCopies(vmId, VolumeLayout.of(plugged.volume()));
            if (copyStorage && spec.diskDir() != null) {
                throw new EnclaveException.InvalidRequest("copyStorage", "vm " + vmId + " has its disk on shared storage ("
                        + spec.diskDir() + "): migrate it without copying storage");
            }
            if (!copyStorage && spec.diskDir() == null) {
                throw new EnclaveException.InvalidRequest("diskDir", "vm " + vmId
                        + ": without copying storage the disk must be on shared storage (diskDir)");
            }
            if (copyStorage && Files.exists(files.disk())) {
                throw new EnclaveException.Conflict("host " + info.id() + " already holds a disk of vm " + vmId + " ("
                        + files.disk() + "): destroy or release it there first");
            }
            if (!copyStorage && !Files.exists(files.disk())) {
                throw new EnclaveException.InvalidRequest("diskDir", "vm " + vmId + ": the shared disk " + files.disk()
                        + " does not exist on host " + info.id() + " (is the shared storage mounted?)");
            }
            try {
                // Empty overlays of the same size over the same base (the VM's disk, or every copy of its boot volume in
                // this host's pool): the mirror fills in the rest.
                if (copyStorage) createDisk(spec);
                rememberDisk(spec, files);
                createPluggedVolumes(spec, files);
                launch(spec, files, List.of("-incoming", "defer"));
                List<MigratingDisk> disks = new java.util.ArrayList<>();
                disks.add(new MigratingDisk(spec.bootVolume() == null ? IncomingMigration.DISK_NODE
                        : BlockGraph.of(VolumeLayout.of(spec.bootVolume())).top(), IncomingMigration.DISK_NODE));
                for (PluggedVolume plugged : spec.pluggedVolumes()) {
                    VolumeLayout layout = VolumeLayout.of(plugged.volume());
                    disks.add(new MigratingDisk(BlockGraph.of(layout).top(), layout.volumeId()));
                }
                IncomingMigration prepared = IncomingMigration.open(vmId, files, copyStorage, disks, listenAddress,
                        migrationPorts);
                incoming.put(vmId, prepared);
                log.info("vm {} (tenant {}): waiting for its incoming migration on {}, {} storage", vmId, spec.tenantId(),
                        prepared.target(), copyStorage ? "copied" : "shared");
                return prepared.target();
            } catch (RuntimeException e) {
                try {
                    removeIncoming(vmId, files);
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
        }
    }

    /**
     * Empty copies (full size, no backing file) of the volumes the source has hot-plugged, recorded first so that
     * a failed migration removes them.
     */
    private void createPluggedVolumes(VmRuntimeSpec spec, VmFiles files) {
        if (spec.pluggedVolumes().isEmpty()) return;
        List<VolumeOnHost> volumes = spec.pluggedVolumes().stream().map(PluggedVolume::volume)
                .map(BootVolumeRecord::forHost).toList();
        try {
            Files.writeString(files.incomingVolumesFile(), JsonLineChannel.JSON.writeValueAsString(volumes));
        } catch (IOException e) {
            throw new IllegalStateException("vm " + spec.vmId() + ": cannot record its incoming volumes: " + e.getMessage(), e);
        }
        for (VolumeOnHost volume : volumes) {
            storageDriver().createVolume(VolumeLayout.of(volume));
            log.info("vm {} (tenant {}): volume {} created for its incoming migration, {} GiB x {} copies", spec.vmId(),
                    spec.tenantId(), volume.volume().id(), volume.volume().sizeGib(), volume.volume().copies());
        }
    }

    private static List<VolumeOnHost> incomingVolumes(VmFiles files, String vmId) {
        if (!Files.exists(files.incomingVolumesFile())) return List.of();
        try {
            return List.of(JsonLineChannel.JSON.readValue(files.incomingVolumesFile().toFile(), VolumeOnHost[].class));
        } catch (IOException e) {
            throw new IllegalStateException("vm " + vmId + ": cannot read " + files.incomingVolumesFile() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * A boot volume's copies on this host are made fresh for an incoming migration: a file left from an earlier
     * stay of the VM would be taken for data the mirror did not send.
     */
    private static void refuseExistingCopies(String vmId, VolumeLayout layout) {
        for (CopyLocation copy : layout.copies()) {
            if (Files.exists(copy.file(layout.volumeId()))) {
                throw new EnclaveException.Conflict("vm " + vmId + ": copy " + copy.index() + " of its boot volume "
                        + layout.volumeId() + " already exists at " + copy.file(layout.volumeId()) + " on this host");
            }
        }
    }

    /** Removes an incoming migration's QEMU and files, and the volume copies it made here. */
    private void removeIncoming(String vmId, VmFiles files) {
        List<VolumeOnHost> made = new java.util.ArrayList<>(incomingVolumes(files, vmId));
        BootVolumeRecord.read(files, vmId).ifPresent(made::add);
        removeFromHost(vmId, files);
        for (VolumeOnHost volume : made) {
            storageDriver().deleteVolume(VolumeLayout.of(volume));
            log.info("vm {}: removed the copies of volume {} made for the migration", vmId, volume.volume().id());
        }
    }

    @Override
    public void startForMigration(VmRuntimeSpec spec) {
        VmFiles files = files(spec);
        synchronized (lock(spec.vmId())) {
            if (alivePid(files).isPresent()) {
                String status = new QmpClient(files.qmpSocket()).execute("query-status").path("status").asText();
                if ("prelaunch".equals(status)) return;
                throw new EnclaveException.Conflict("vm " + spec.vmId() + " runs on host " + info.id() + " (QEMU status "
                        + status + "): a cold move is for a stopped VM");
            }
            if (spec.bootVolume() == null && !Files.exists(files.disk())) {
                throw new EnclaveException.Conflict("vm " + spec.vmId() + " has no disk on host " + info.id() + " to move");
            }
            rememberDisk(spec, files);
            launch(spec, files, List.of("-S"));
            log.info("vm {} (tenant {}): QEMU started without the guest (pid {}) to move the stopped VM", spec.vmId(),
                    spec.tenantId(), alivePid(files).map(String::valueOf).orElse("?"));
        }
    }

    @Override
    public void completeColdIncoming(String vmId) {
        synchronized (lock(vmId)) {
            VmFiles files = files(vmId);
            IncomingMigration open = incoming.get(vmId);
            boolean alive = alivePid(files).isPresent();
            if (open == null && !IncomingMigration.recorded(files)) {
                if (!alive && Files.exists(files.dir())) return; // completed before
                throw new EnclaveException.Conflict("vm " + vmId + " has no incoming migration on host " + info.id());
            }
            if (!alive) {
                throw new EnclaveException.Conflict("vm " + vmId + ": the QEMU waiting for its migration on host " + info.id()
                        + " is gone: " + lastLines(files.qemuLog(), 400).strip());
            }
            String qemuStatus = awaitIncomingLoaded(vmId, files);
            // A source that never ran the guest hands over a QEMU that has not run it either.
            if (!"prelaunch".equals(qemuStatus)) {
                throw new EnclaveException.Conflict("vm " + vmId + ": its cold move has not completed on host " + info.id()
                        + " (QEMU status " + qemuStatus + ")");
            }
            finishIncoming(vmId, files, open);
        }
        forceStop(vmId); // QMP quit: QEMU flushes and closes the disks it received
        log.info("vm {}: cold move completed, stopped on host {} with its disk here", vmId, info.id());
    }

    @Override
    public void startMigration(String vmId, MigrationTarget target, boolean copyStorage) {
        synchronized (lock(vmId)) {
            OutgoingMigration current = outgoing.get(vmId);
            if (current != null) {
                String status = current.progress().status();
                if (MigrationProgress.ACTIVE.equals(status) && current.target().equals(target)
                        && current.copyStorage() == copyStorage) {
                    return;
                }
                if (MigrationProgress.ACTIVE.equals(status) || MigrationProgress.COMPLETED.equals(status)) {
                    throw new EnclaveException.Conflict("vm " + vmId + " is already " + (MigrationProgress.ACTIVE.equals(status)
                            ? "migrating to " + current.target().address() : "migrated to " + current.target().address()));
                }
            }
            VmFiles files = files(vmId);
            VmRuntimeStatus st = status(vmId);
            if (current == null && st.processAlive()) {
                // a migration an earlier process of this agent started: its mirror job and node would refuse a new one
                LeftoverMigration.clearMirror(vmId, new QmpClient(files.qmpSocket()));
            }
            boolean coldMove = st.state() == RuntimeState.PAUSED && "prelaunch".equals(
                    new QmpClient(files.qmpSocket()).execute("query-status").path("status").asText());
            if (st.state() != RuntimeState.RUNNING && !coldMove) {
                throw new EnclaveException.Conflict("vm " + vmId + " is not running on host " + info.id() + " (state "
                        + st.state() + "): only a running VM migrates live (a stopped one after startForMigration)");
            }
            if (!copyStorage && !files.sharedDisk()) {
                throw new EnclaveException.InvalidRequest("copyStorage", "vm " + vmId + " has its disk on host " + info.id()
                        + " only: migrate it with copyStorage");
            }
            Optional<VolumeLayout> bootVolume = BootVolumeRecord.read(files, vmId).map(VolumeLayout::of);
            Map<String, String> volumes = pluggedVolumeNodes(files, bootVolume.map(VolumeLayout::qdevId).orElse("disk0-dev"));
            if (!volumes.isEmpty() && !copyStorage) {
                throw new EnclaveException.InvalidRequest("copyStorage", "vm " + vmId + " has hot-plugged volumes ("
                        + String.join(", ", volumes.keySet()) + ") on host " + info.id() + "'s devices: they move only by copying");
            }
            List<MigratingDisk> disks = new java.util.ArrayList<>();
            disks.add(new MigratingDisk(bootVolume.map(v -> BlockGraph.of(v).top()).orElse(IncomingMigration.DISK_NODE),
                    IncomingMigration.DISK_NODE));
            volumes.forEach((volumeId, node) -> disks.add(new MigratingDisk(node, volumeId)));
            outgoing.put(vmId, OutgoingMigration.start(vmId, files, disks, target, copyStorage));
            log.info("vm {}: migration to {} started, {} storage", vmId, target, copyStorage ? "copied" : "shared");
        }
    }

    /**
     * The guest's hot-plugged volumes (block devices other than its boot disk, qdev id {@code bootDevice}): the
     * volume id (the qdev id without "-dev") and the block node its device uses.
     */
    private static Map<String, String> pluggedVolumeNodes(VmFiles files, String bootDevice) {
        Map<String, String> volumes = new java.util.TreeMap<>();
        for (JsonNode block : new QmpClient(files.qmpSocket()).execute("query-block")) {
            String qdev = qdevId(block.path("qdev").asText());
            if (!block.has("inserted") || qdev.equals(bootDevice)) continue;
            if (!qdev.endsWith("-dev")) {
                throw new IllegalStateException("vm block device " + qdev + " is neither the boot disk nor a volume");
            }
            volumes.put(qdev.substring(0, qdev.length() - "-dev".length()), block.path("inserted").path("node-name").asText());
        }
        return volumes;
    }

    /** QEMU names a device in query-block by its qdev id or its QOM path (/machine/peripheral/ID/virtio-backend). */
    private static String qdevId(String shown) {
        if (!shown.startsWith("/")) return shown;
        String[] parts = shown.split("/");
        return parts.length > 3 ? parts[3] : shown;
    }

    @Override
    public Map<String, Integer> pluggedVolumeSlots(String vmId) {
        synchronized (lock(vmId)) {
            VmFiles files = files(vmId);
            if (alivePid(files).isEmpty()) throw new EnclaveException.Conflict("vm " + vmId + " is not running on host " + info.id());
            String bootDevice = BootVolumeRecord.read(files, vmId).map(VolumeLayout::of).map(VolumeLayout::qdevId)
                    .orElse("disk0-dev");
            Map<String, String> volumes = pluggedVolumeNodes(files, bootDevice);
            Map<String, Integer> slots = new java.util.TreeMap<>();
            for (JsonNode bus : new QmpClient(files.qmpSocket()).execute("query-pci")) {
                for (JsonNode device : bus.path("devices")) {
                    String qdev = device.path("qdev_id").asText();
                    if (qdev.endsWith("-dev")) {
                        String volumeId = qdev.substring(0, qdev.length() - "-dev".length());
                        if (volumes.containsKey(volumeId)) slots.put(volumeId, device.path("slot").asInt());
                    }
                }
            }
            if (!slots.keySet().equals(volumes.keySet())) {
                throw new IllegalStateException("vm " + vmId + ": volumes " + volumes.keySet() + " but PCI devices for "
                        + slots.keySet());
            }
            return slots;
        }
    }

    @Override
    public MigrationProgress migrationProgress(String vmId) {
        OutgoingMigration m = outgoing.get(vmId);
        if (m != null) return m.progress();
        return leftoverMigration(vmId).orElseThrow(
                () -> new EnclaveException.Conflict("vm " + vmId + " has no migration on host " + info.id()));
    }

    /** What the VM's QEMU shows of a migration an earlier process of this agent started (see LeftoverMigration). */
    private Optional<MigrationProgress> leftoverMigration(String vmId) {
        synchronized (lock(vmId)) {
            if (outgoing.containsKey(vmId)) return Optional.of(outgoing.get(vmId).progress());
            VmFiles files = files(vmId);
            if (alivePid(files).isEmpty() || IncomingMigration.recorded(files)) return Optional.empty();
            return LeftoverMigration.find(vmId, files);
        }
    }

    @Override
    public void cancelMigration(String vmId) {
        OutgoingMigration m = outgoing.get(vmId);
        if (m == null) {
            cancelLeftoverMigration(vmId);
            return;
        }
        MigrationProgress p = m.cancel(Duration.ofSeconds(60));
        log.info("vm {}: migration to {} cancelled ({}); the VM stays on host {}", vmId, m.target().address(), p.status(),
                info.id());
    }

    /**
     * Cancels a migration an earlier process of this agent started: one still sending is cancelled in QEMU; one
     * that failed is over already (its mirror leftovers removed); one that completed cannot be undone here.
     */
    private void cancelLeftoverMigration(String vmId) {
        MigrationProgress p = leftoverMigration(vmId).orElseThrow(
                () -> new EnclaveException.Conflict("vm " + vmId + " has no migration on host " + info.id()));
        if (MigrationProgress.COMPLETED.equals(p.status())) {
            throw new EnclaveException.Conflict("the migration of vm " + vmId + " has already completed: the VM left host "
                    + info.id());
        }
        if (MigrationProgress.ACTIVE.equals(p.status())) {
            QmpClient qmp = new QmpClient(files(vmId).qmpSocket());
            qmp.execute("migrate_cancel");
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!(p = leftoverMigration(vmId).orElseThrow()).finished()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("vm " + vmId + ": the migration did not stop within 60 s of migrate_cancel");
                }
                Pause.sleep(Duration.ofMillis(20));
            }
        }
        log.info("vm {}: migration started by the previous agent process ended ({}{}); the VM stays on host {}", vmId,
                p.status(), p.error() == null ? "" : ": " + p.error(), info.id());
    }

    /**
     * The received QEMU's status once it has loaded what the source sent: the source reports completed once it sent
     * the last byte, and this QEMU may still be loading that state for a few ms.
     */
    private String awaitIncomingLoaded(String vmId, VmFiles files) {
        QmpClient qmp = new QmpClient(files.qmpSocket());
        try {
            String qemuStatus = qmp.execute("query-status").path("status").asText();
            long deadline = System.nanoTime() + INCOMING_LOAD_TIMEOUT.toNanos();
            while ("inmigrate".equals(qemuStatus) && System.nanoTime() < deadline) {
                Pause.sleep(Duration.ofMillis(10));
                qemuStatus = qmp.execute("query-status").path("status").asText();
            }
            return qemuStatus;
        } catch (QmpException e) {
            throw new IllegalStateException("vm " + vmId + ": the QEMU that received its migration on host " + info.id()
                    + " does not answer (" + e.getMessage() + "); its log: " + lastLines(files.qemuLog(), 1000).strip(), e);
        }
    }

    /** The migration is over here: its NBD exports and relays stop, its records go, the volumes are the VM's now. */
    private void finishIncoming(String vmId, VmFiles files, IncomingMigration open) {
        IncomingMigration.finish(vmId, files, open);
        incoming.remove(vmId);
        try {
            Files.deleteIfExists(files.incomingVolumesFile());
        } catch (IOException e) {
            throw new IllegalStateException("vm " + vmId + ": cannot remove " + files.incomingVolumesFile() + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void completeIncoming(String vmId) {
        synchronized (lock(vmId)) {
            VmFiles files = files(vmId);
            IncomingMigration open = incoming.get(vmId);
            boolean alive = alivePid(files).isPresent();
            if (open == null && !IncomingMigration.recorded(files)) {
                if (alive) return; // completed before
                throw new EnclaveException.Conflict("vm " + vmId + " has no incoming migration on host " + info.id());
            }
            if (!alive) {
                throw new EnclaveException.Conflict("vm " + vmId + ": the QEMU waiting for its migration on host " + info.id()
                        + " is gone: " + lastLines(files.qemuLog(), 400).strip());
            }
            QmpClient qmp = new QmpClient(files.qmpSocket());
            String qemuStatus = awaitIncomingLoaded(vmId, files);
            switch (qemuStatus) {
                case "running" -> { }
                case "paused", "prelaunch" -> qmp.execute("cont");
                default -> throw new EnclaveException.Conflict("vm " + vmId + ": its migration has not completed on host "
                        + info.id() + " (QEMU status " + qemuStatus + ")");
            }
            finishIncoming(vmId, files, open);
            guestReadyForBoot.remove(vmId);
            log.info("vm {}: incoming migration completed, running on host {}", vmId, info.id());
        }
    }

    @Override
    public void abortIncoming(String vmId) {
        synchronized (lock(vmId)) {
            VmFiles files = files(vmId);
            if (!incoming.containsKey(vmId) && !IncomingMigration.recorded(files)) {
                if (alivePid(files).isPresent()) {
                    throw new EnclaveException.Conflict("vm " + vmId + " runs on host " + info.id()
                            + " and is not an incoming migration: not aborting it");
                }
                return; // nothing of an incoming migration here (aborted before, or never prepared)
            }
            removeIncoming(vmId, files);
            log.info("vm {}: incoming migration aborted, nothing of it left on host {}", vmId, info.id());
        }
        locks.remove(vmId);
        guestReadyForBoot.remove(vmId);
    }

    @Override
    public void release(String vmId) {
        synchronized (lock(vmId)) {
            removeFromHost(vmId, files(vmId));
        }
        locks.remove(vmId);
        guestReadyForBoot.remove(vmId);
        log.info("vm {}: released from host {}", vmId, info.id());
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
        VolumeLayout rebuilt = storageDriver().completeResync(runningQmp(vmId), layout(volume),
                location(replacement, replacementDir), Duration.ofSeconds(30));
        rememberRebuiltBootVolume(vmId, volume, rebuilt, replacement, replacementDir);
        log.info("volume {} (tenant {}): copy {} rebuilt live on device {}", volume.volume().id(),
                volume.volume().tenantId(), replacement.index(), replacement.deviceId());
    }

    /**
     * A rebuilt copy of the VM's boot volume has a new file: the record must name it, or a later destroy would
     * delete the old (already gone) file and leave the new one.
     */
    private void rememberRebuiltBootVolume(String vmId, VolumeOnHost volume, VolumeLayout rebuilt, VolumeCopy replacement,
            String replacementDir) {
        VmFiles files = files(vmId);
        synchronized (lock(vmId)) {
            Optional<VolumeOnHost> boot = BootVolumeRecord.read(files, vmId);
            if (boot.isEmpty() || !boot.get().volume().id().equals(volume.volume().id())) return;
            CopyLocation copy = rebuilt.copy(replacement.index());
            var placement = volume.volume().placement().stream()
                    .map(c -> c.index() == copy.index() ? new VolumeCopy(copy.index(), copy.deviceId(), copy.generation(),
                            copy.state()) : c).toList();
            Map<String, String> dirs = new java.util.HashMap<>(volume.deviceDirs());
            dirs.put(replacement.deviceId(), replacementDir);
            BootVolumeRecord.remember(files, vmId, new VolumeOnHost(volume.volume().withPlacement(placement), dirs));
        }
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
        return VolumeLayout.of(volume);
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
        return io.enclave.agent.exec.ProcessExit.await(handle, timeout);
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

    /** The VM's files, its disk where this host recorded it (see {@link #rememberDisk}). */
    private VmFiles files(String vmId) {
        if (!vmId.matches("[a-z]+-[0-9a-f]{12}")) throw new IllegalArgumentException("bad vm id " + vmId);
        Path dir = vmsDir.resolve(vmId);
        Path diskDirFile = dir.resolve("disk-dir");
        if (!Files.exists(diskDirFile)) return new VmFiles(dir);
        try {
            return new VmFiles(dir, Path.of(Files.readString(diskDirFile).strip()).resolve(VmFiles.DISK_NAME));
        } catch (IOException e) {
            throw new IllegalStateException("vm " + vmId + ": cannot read " + diskDirFile + ": " + e.getMessage(), e);
        }
    }

    /** The VM's files with the disk where {@code spec} puts it. */
    private VmFiles files(VmRuntimeSpec spec) {
        VmFiles known = files(spec.vmId());
        if (spec.diskDir() == null) return known;
        return new VmFiles(known.dir(), Path.of(spec.diskDir()).resolve(VmFiles.DISK_NAME));
    }

    /** Records the spec and where the disk is (or which volume), so that status, restarts and re-adoption find it. */
    private static void rememberDisk(VmRuntimeSpec spec, VmFiles files) {
        try {
            Files.createDirectories(files.dir());
            Files.writeString(files.spec(), JsonLineChannel.JSON.writeValueAsString(
                    spec.withBootVolume(BootVolumeRecord.forHost(spec.bootVolume()))));
            if (spec.diskDir() != null) {
                if (!Path.of(spec.diskDir()).isAbsolute()) {
                    throw new EnclaveException.InvalidRequest("diskDir", "must be absolute, got '" + spec.diskDir() + "'");
                }
                Files.writeString(files.diskDirFile(), spec.diskDir());
            }
        } catch (IOException e) {
            throw new IllegalStateException("vm " + spec.vmId() + ": cannot record its files in " + files.dir() + ": "
                    + e.getMessage(), e);
        }
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
