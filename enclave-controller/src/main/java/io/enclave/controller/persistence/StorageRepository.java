package io.enclave.controller.persistence;

import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.DeviceReport;
import io.enclave.core.storage.StorageDevice;
import io.enclave.core.storage.StoragePool;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

/** Storage devices and pools: platform resources, managed by admins only (no tenant scope). */
public final class StorageRepository {

    /** A device as stored, with what its host last measured and the pool it is in (null when none). */
    public record DeviceRow(StorageDevice device, String poolId, long usedBytes, long availableBytes, String problem,
            Instant probedAt, Instant createdAt) {}

    public record PoolRow(StoragePool pool, Instant createdAt) {}

    private static final RowMapper<DeviceRow> DEVICE = (rs, ctx) -> new DeviceRow(
            new StorageDevice(rs.getString("id"), rs.getString("host_id"), rs.getString("path"),
                    rs.getLong("capacity_bytes"), DeviceHealth.valueOf(rs.getString("health"))),
            rs.getString("pool_id"), rs.getLong("used_bytes"), rs.getLong("available_bytes"), rs.getString("problem"),
            Rows.instant(rs, "probed_at"), Rows.instant(rs, "created_at"));

    private static final String DEVICES = """
            SELECT d.*, pd.pool_id FROM storage_devices d LEFT JOIN storage_pool_devices pd ON pd.device_id = d.id""";

    public void insertDevice(Handle h, String id, String hostId, String path, DeviceReport report, Instant now) {
        h.createUpdate("""
                INSERT INTO storage_devices (id, host_id, path, capacity_bytes, used_bytes, available_bytes, health,
                  problem, probed_at, created_at)
                VALUES (:id, :host, :path, :cap, :used, :avail, :health, :problem, :now, :now)""")
                .bind("id", id).bind("host", hostId).bind("path", path).bind("cap", report.capacityBytes())
                .bind("used", report.usedBytes()).bind("avail", report.availableBytes())
                .bind("health", report.health().name()).bind("problem", report.problem()).bind("now", Rows.ts(now))
                .execute();
    }

    /** Records a probe. A failed probe keeps the last known capacity (a dead device reports none). */
    public void recordProbe(Handle h, String id, DeviceReport report, Instant now) {
        boolean measured = report.capacityBytes() > 0;
        h.createUpdate("UPDATE storage_devices SET health = :health, problem = :problem, probed_at = :now"
                        + (measured ? ", capacity_bytes = :cap, used_bytes = :used, available_bytes = :avail" : "")
                        + " WHERE id = :id")
                .bind("id", id).bind("health", report.health().name()).bind("problem", report.problem())
                .bind("now", Rows.ts(now)).bind("cap", report.capacityBytes()).bind("used", report.usedBytes())
                .bind("avail", report.availableBytes()).execute();
    }

    public Optional<DeviceRow> device(Handle h, String id) {
        return h.createQuery(DEVICES + " WHERE d.id = :id").bind("id", id).map(DEVICE).findOne();
    }

    public List<DeviceRow> devices(Handle h) {
        return h.createQuery(DEVICES + " ORDER BY d.created_at, d.id").map(DEVICE).list();
    }

    public List<DeviceRow> devicesOfPool(Handle h, String poolId) {
        return h.createQuery(DEVICES + " WHERE pd.pool_id = :p ORDER BY pd.position").bind("p", poolId).map(DEVICE).list();
    }

    public boolean pathTaken(Handle h, String hostId, String path) {
        return h.createQuery("SELECT COUNT(*) FROM storage_devices WHERE host_id = :h AND path = :p")
                .bind("h", hostId).bind("p", path).mapTo(Integer.class).one() > 0;
    }

    /** Bytes promised to volume copies on each device (every copy at its volume's full size), by device id. */
    public Map<String, Long> reservedBytes(Handle h) {
        Map<String, Long> reserved = new HashMap<>();
        h.createQuery("""
                SELECT device_id, SUM(gib) AS gib FROM (
                  SELECT c.device_id, v.size_gib AS gib FROM volume_copies c JOIN volumes v ON v.id = c.volume_id
                  UNION ALL
                  SELECT m.device_id, v.size_gib AS gib FROM migration_volume_copies m JOIN volumes v ON v.id = m.volume_id
                ) promised GROUP BY device_id""")
                .map((rs, ctx) -> Map.entry(rs.getString("device_id"), rs.getLong("gib") << 30))
                .forEach(e -> reserved.put(e.getKey(), e.getValue()));
        return reserved;
    }

    public void insertPool(Handle h, StoragePool pool, Instant now) {
        h.createUpdate("INSERT INTO storage_pools (id, name, host_id, created_at) VALUES (:id, :name, :host, :now)")
                .bind("id", pool.id()).bind("name", pool.name()).bind("host", pool.hostId()).bind("now", Rows.ts(now))
                .execute();
        for (int i = 0; i < pool.deviceIds().size(); i++) {
            h.createUpdate("INSERT INTO storage_pool_devices (pool_id, device_id, position) VALUES (:p, :d, :i)")
                    .bind("p", pool.id()).bind("d", pool.deviceIds().get(i)).bind("i", i).execute();
        }
    }

    public Optional<PoolRow> pool(Handle h, String id) {
        return h.createQuery("SELECT * FROM storage_pools WHERE id = :id").bind("id", id)
                .map((rs, ctx) -> rs.getString("id")).findOne().map(found -> poolRow(h, found));
    }

    public Optional<PoolRow> poolByName(Handle h, String name) {
        return h.createQuery("SELECT id FROM storage_pools WHERE name = :n").bind("n", name).mapTo(String.class)
                .findOne().map(id -> poolRow(h, id));
    }

    /** Locks the pool's row: placements in one pool are serialised, so two volumes never take the same space. */
    public Optional<PoolRow> lockPool(Handle h, String id) {
        return h.createQuery("SELECT id FROM storage_pools WHERE id = :id FOR UPDATE").bind("id", id)
                .mapTo(String.class).findOne().map(found -> poolRow(h, found));
    }

    public List<PoolRow> pools(Handle h) {
        return h.createQuery("SELECT id FROM storage_pools ORDER BY name").mapTo(String.class).list().stream()
                .map(id -> poolRow(h, id)).toList();
    }

    public int volumeCount(Handle h, String poolId) {
        return h.createQuery("SELECT COUNT(*) FROM volumes WHERE pool_id = :p").bind("p", poolId)
                .mapTo(Integer.class).one();
    }

    private PoolRow poolRow(Handle h, String id) {
        List<String> devices = h.createQuery("SELECT device_id FROM storage_pool_devices WHERE pool_id = :p ORDER BY position")
                .bind("p", id).mapTo(String.class).list();
        return h.createQuery("SELECT * FROM storage_pools WHERE id = :id").bind("id", id)
                .map((rs, ctx) -> new PoolRow(new StoragePool(rs.getString("id"), rs.getString("name"),
                        rs.getString("host_id"), devices), Rows.instant(rs, "created_at"))).one();
    }
}
