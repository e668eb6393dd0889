package io.enclave.agent.simulator;

import io.enclave.core.host.ExecResult;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.HostInfo;
import io.enclave.core.host.MigrationProgress;
import io.enclave.core.host.MigrationTarget;
import io.enclave.core.host.RuntimeState;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.host.VmRuntimeStatus;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.DeviceReport;
import io.enclave.core.storage.ResyncProgress;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import io.enclave.core.storage.VolumeSnapshot;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SIMULATOR — runs no VM at all. It only records state in memory so that control-plane scale tests and
 * benchmarks (tens of thousands of VMs) can exercise the controller without QEMU. Never used to prove a
 * feature works.
 */
public final class SimulatedHostAgent implements HostAgent {
    private final HostInfo info;
    private final Map<String, VmRuntimeStatus> vms = new ConcurrentHashMap<>();
    private final Map<String, MigrationTarget> incoming = new ConcurrentHashMap<>();
    private final Map<String, MigrationProgress> outgoing = new ConcurrentHashMap<>();

    public SimulatedHostAgent(HostInfo info) {
        this.info = info;
    }

    @Override public HostInfo info() { return info; }

    @Override public List<String> listVms() { return vms.keySet().stream().sorted().toList(); }

    @Override
    public VmRuntimeStatus status(String vmId) {
        return vms.getOrDefault(vmId, VmRuntimeStatus.absent(vmId));
    }

    @Override
    public void createDisk(VmRuntimeSpec spec) {
        vms.putIfAbsent(spec.vmId(), state(spec.vmId(), RuntimeState.DEFINED));
    }

    @Override
    public void start(VmRuntimeSpec spec) {
        vms.put(spec.vmId(), new VmRuntimeStatus(spec.vmId(), RuntimeState.RUNNING, true, Instant.now(), null, null));
    }

    @Override public void powerDown(String vmId) { vms.computeIfPresent(vmId, (k, v) -> state(k, RuntimeState.DEFINED)); }

    @Override public void forceStop(String vmId) { vms.computeIfPresent(vmId, (k, v) -> state(k, RuntimeState.DEFINED)); }

    @Override public void reset(String vmId) { }

    @Override public void resume(String vmId) { }

    @Override public void clearDeadProcess(String vmId) { vms.computeIfPresent(vmId, (k, v) -> state(k, RuntimeState.DEFINED)); }

    @Override public void destroy(String vmId) { vms.remove(vmId); }

    @Override public String console(String vmId, int maxBytes) { return "(simulated host: no console)\n"; }

    @Override
    public ExecResult exec(String vmId, List<String> command, Duration timeout) {
        throw new UnsupportedOperationException("the simulated host runs no guests");
    }

    @Override public void applyNetworking(PublicNetwork publicNetwork, TenantNetworking tenant) { }

    @Override public void removeNetworking(String tenantId) { }

    @Override public Map<String, RuleCounter> ruleCounters(String tenantId) { return Map.of(); }

    /** Every simulated device is 1 TiB, empty and online. */
    @Override
    public DeviceReport registerDevice(String deviceId, String path) { return probeDevice(deviceId, path); }

    @Override
    public DeviceReport probeDevice(String deviceId, String path) {
        return new DeviceReport(1L << 40, 0, 1L << 40, DeviceHealth.ONLINE, null);
    }

    @Override public void createVolume(VolumeOnHost volume) { }

    @Override public void growVolume(VolumeOnHost volume, long newSizeGib, String attachedVmId) { }

    @Override public void deleteVolume(VolumeOnHost volume) { }

    @Override public void attachVolume(String vmId, VolumeOnHost volume) { }

    @Override public void detachVolume(String vmId, VolumeOnHost volume, Duration timeout) { }

    @Override public List<VolumeSnapshot> listSnapshots(VolumeOnHost volume, String attachedVmId) { return List.of(); }

    @Override public void createSnapshot(VolumeOnHost volume, String name, String attachedVmId) { }

    @Override public void revertSnapshot(VolumeOnHost volume, String name) { }

    @Override public void deleteSnapshot(VolumeOnHost volume, String name, String attachedVmId) { }

    @Override public void resyncDetached(VolumeOnHost volume, VolumeCopy replacement, String replacementDir) { }

    @Override
    public String startResync(String vmId, VolumeOnHost volume, VolumeCopy replacement, String replacementDir) {
        return volume.volume().id() + "-resync";
    }

    @Override
    public ResyncProgress resyncProgress(String vmId, String jobId) { return new ResyncProgress("ready", 1, 1, null); }

    @Override
    public void completeResync(String vmId, VolumeOnHost volume, VolumeCopy replacement, String replacementDir) { }

    // A simulated migration completes the moment it starts.

    @Override
    public MigrationTarget prepareIncoming(VmRuntimeSpec spec, boolean copyStorage, String listenAddress) {
        MigrationTarget known = incoming.get(spec.vmId());
        if (known != null) return known;
        if (status(spec.vmId()).processAlive()) {
            throw new EnclaveException.Conflict("vm " + spec.vmId() + " is already running on host " + info.id());
        }
        // nothing listens: no certificate; a token of the real shape, so the controller carries one around
        byte[] token = new byte[32];
        java.util.concurrent.ThreadLocalRandom.current().nextBytes(token);
        MigrationTarget target = new MigrationTarget(listenAddress, 49152, copyStorage ? 49153 : null, null,
                java.util.HexFormat.of().formatHex(token));
        incoming.put(spec.vmId(), target);
        vms.put(spec.vmId(), state(spec.vmId(), RuntimeState.PAUSED));
        return target;
    }

    @Override
    public void startMigration(String vmId, MigrationTarget target, boolean copyStorage) {
        if (status(vmId).state() != RuntimeState.RUNNING) {
            throw new EnclaveException.Conflict("vm " + vmId + " is not running on host " + info.id());
        }
        outgoing.put(vmId, new MigrationProgress(MigrationProgress.COMPLETED, 1, 0, 0, 0, null));
        vms.computeIfPresent(vmId, (k, v) -> state(k, RuntimeState.PAUSED));
    }

    @Override
    public void startForMigration(VmRuntimeSpec spec) {
        throw new EnclaveException.Conflict("the simulator moves no stopped VMs");
    }

    @Override
    public void completeColdIncoming(String vmId) {
        throw new EnclaveException.Conflict("the simulator moves no stopped VMs");
    }

    @Override
    public Map<String, Integer> pluggedVolumeSlots(String vmId) {
        return Map.of(); // simulated VMs have no devices
    }

    @Override
    public MigrationProgress migrationProgress(String vmId) {
        MigrationProgress p = outgoing.get(vmId);
        if (p == null) throw new EnclaveException.Conflict("vm " + vmId + " has no migration on host " + info.id());
        return p;
    }

    @Override
    public void cancelMigration(String vmId) {
        if (outgoing.containsKey(vmId)) {
            throw new EnclaveException.Conflict("the migration of vm " + vmId + " has already completed");
        }
    }

    @Override
    public void completeIncoming(String vmId) {
        if (incoming.remove(vmId) != null) {
            vms.put(vmId, new VmRuntimeStatus(vmId, RuntimeState.RUNNING, true, Instant.now(), null, null));
        }
    }

    @Override
    public void abortIncoming(String vmId) {
        if (incoming.remove(vmId) != null) vms.remove(vmId);
    }

    @Override
    public void release(String vmId) {
        outgoing.remove(vmId);
        vms.remove(vmId);
    }

    private static VmRuntimeStatus state(String vmId, RuntimeState state) {
        return new VmRuntimeStatus(vmId, state, false, null, null, null);
    }
}
