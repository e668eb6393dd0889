package io.enclave.controller.service;

import io.enclave.controller.persistence.StorageRepository.DeviceRow;
import io.enclave.controller.persistence.StorageRepository.PoolRow;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostAgent;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.DeviceReport;
import io.enclave.core.storage.DeviceSpace;
import io.enclave.core.storage.StorageDevice;
import io.enclave.core.storage.StoragePool;
import io.enclave.core.storage.StorageRules;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeOnHost;
import io.enclave.core.validation.Validator;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The provider's storage devices and pools (admin only): registration through the host's agent, pools over
 * registered devices, and capacity, use and health as the hosts measure them.
 */
public final class StorageService {
    private static final Logger log = LoggerFactory.getLogger(StorageService.class);

    /** A device with the bytes promised to volume copies on it. */
    public record DeviceInfo(DeviceRow row, long reservedBytes) {}

    /** A pool with its devices and the number of volumes in it. */
    public record PoolInfo(PoolRow row, List<DeviceInfo> devices, int volumes) {}

    private final Store store;
    private final HostRegistry hosts;
    private final Clock clock;

    public StorageService(Store store, HostRegistry hosts, Clock clock) {
        this.store = store;
        this.hosts = hosts;
        this.clock = clock;
    }

    public DeviceInfo registerDevice(String hostIdOrNull, String path) {
        Validator v = new Validator();
        StorageRules.validateDevicePath(path, v);
        v.throwIfInvalid();
        String hostId = hostIdOrNull != null ? hostIdOrNull : onlyHost();
        HostAgent agent = hosts.get(hostId).orElseThrow(() ->
                new EnclaveException.InvalidRequest("hostId", "no reachable host '" + hostId + "'"));
        String id = Ids.newId("dev");
        Instant now = clock.instant();
        store.jdbi().useTransaction(h -> {
            if (store.storage().pathTaken(h, hostId, path)) {
                throw new EnclaveException.Conflict("a device is already registered at " + path + " on host " + hostId);
            }
            DeviceReport report = agent.registerDevice(id, path);
            store.storage().insertDevice(h, id, hostId, path, report, now);
        });
        log.info("storage device {} registered at {} on host {}", id, path, hostId);
        return device(id);
    }

    /** Every device, probed now by its host (health, capacity and use are current). */
    public List<DeviceInfo> devices() {
        refresh();
        return store.jdbi().withHandle(h -> {
            Map<String, Long> reserved = store.storage().reservedBytes(h);
            return store.storage().devices(h).stream()
                    .map(d -> new DeviceInfo(d, reserved.getOrDefault(d.device().id(), 0L))).toList();
        });
    }

    public PoolInfo createPool(String name, List<String> deviceIds) {
        Instant now = clock.instant();
        String id = Ids.newId("pool");
        store.jdbi().useTransaction(h -> {
            List<StorageDevice> known = store.storage().devices(h).stream().map(DeviceRow::device).toList();
            Validator v = new Validator();
            StorageRules.validatePool(name, deviceIds, known, v);
            v.throwIfInvalid();
            if (store.storage().poolByName(h, name).isPresent()) {
                throw new EnclaveException.Conflict("a storage pool named '" + name + "' already exists");
            }
            for (String deviceId : deviceIds) {
                DeviceRow d = store.storage().device(h, deviceId).orElseThrow();
                if (d.poolId() != null) {
                    throw new EnclaveException.InvalidRequest("deviceIds", "device '" + deviceId
                            + "' is already in pool '" + d.poolId() + "'");
                }
            }
            String hostId = store.storage().device(h, deviceIds.getFirst()).orElseThrow().device().hostId();
            store.storage().insertPool(h, new StoragePool(id, name, hostId, deviceIds), now);
        });
        log.info("storage pool {} ({}) created over devices {}", id, name, deviceIds);
        return pools().stream().filter(p -> p.row().pool().id().equals(id)).findFirst().orElseThrow();
    }

    /** Every pool with its devices, probed now. */
    public List<PoolInfo> pools() {
        refresh();
        return store.jdbi().withHandle(h -> {
            Map<String, Long> reserved = store.storage().reservedBytes(h);
            return store.storage().pools(h).stream().map(p -> new PoolInfo(p,
                    store.storage().devicesOfPool(h, p.pool().id()).stream()
                            .map(d -> new DeviceInfo(d, reserved.getOrDefault(d.device().id(), 0L))).toList(),
                    store.storage().volumeCount(h, p.pool().id()))).toList();
        });
    }

    /**
     * Probes every device through its host and records the result. Copies on a device that failed are marked
     * failed, so their volumes show as degraded (or failed, with no copy left).
     */
    public void refresh() {
        List<DeviceRow> rows = store.jdbi().withHandle(h -> store.storage().devices(h));
        for (DeviceRow row : rows) {
            StorageDevice d = row.device();
            DeviceReport report = hosts.get(d.hostId()).map(a -> a.probeDevice(d.id(), d.path()))
                    .orElse(new DeviceReport(0, 0, 0, DeviceHealth.FAILED, "host " + d.hostId() + " is not reachable"));
            Instant now = clock.instant();
            store.jdbi().useTransaction(h -> {
                store.storage().recordProbe(h, d.id(), report, now);
                if (report.health() == DeviceHealth.FAILED) markCopiesFailed(h, d.id());
            });
            if (report.health() != d.health()) {
                log.warn("storage device {} at {} on host {}: {} → {} ({})", d.id(), d.path(), d.hostId(), d.health(),
                        report.health(), report.problem());
            }
        }
    }

    private void markCopiesFailed(Handle h, String deviceId) {
        for (String volumeId : store.volumes().idsOnDevice(h, deviceId)) {
            Volume volume = store.volumes().find(h, Scope.ALL_TENANTS, volumeId)
                    .orElseThrow().volume();
            volume.placement().stream()
                    .filter(c -> c.deviceId().equals(deviceId) && c.state() == CopyState.IN_SYNC)
                    .forEach(c -> {
                        store.volumes().saveCopy(h, volumeId, c.withState(CopyState.FAILED), false);
                        log.warn("volume {} (tenant {}): copy {} on failed device {} marked failed", volumeId,
                                volume.tenantId(), c.index(), deviceId);
                    });
        }
    }

    // ---------------------------------------------------------------- for VolumeService

    /** The pool's devices with what is promised on each, for placement. */
    public List<DeviceSpace> poolSpace(Handle h, String poolId) {
        Map<String, Long> reserved = store.storage().reservedBytes(h);
        return store.storage().devicesOfPool(h, poolId).stream()
                .map(d -> DeviceSpace.of(d.device(), reserved.getOrDefault(d.device().id(), 0L))).toList();
    }

    /** The volume with the host directory of every device of its pool. */
    public VolumeOnHost onHost(Handle h, Volume volume) {
        return new VolumeOnHost(volume, store.storage().devicesOfPool(h, volume.poolId()).stream()
                .collect(Collectors.toMap(d -> d.device().id(), d -> d.device().path())));
    }

    HostAgent agentOfPool(Handle h, String poolId) {
        String hostId = store.storage().pool(h, poolId).orElseThrow().pool().hostId();
        return hosts.get(hostId).orElseThrow(() -> new EnclaveException.Unavailable(
                "host " + hostId + " of storage pool " + poolId + " is not reachable"));
    }

    private DeviceInfo device(String id) {
        return store.jdbi().withHandle(h -> new DeviceInfo(store.storage().device(h, id).orElseThrow(),
                store.storage().reservedBytes(h).getOrDefault(id, 0L)));
    }

    private String onlyHost() {
        var all = hosts.all();
        if (all.size() != 1) {
            throw new EnclaveException.InvalidRequest("hostId", "is required: the controller knows " + all.size() + " hosts");
        }
        return all.iterator().next().info().id();
    }
}
