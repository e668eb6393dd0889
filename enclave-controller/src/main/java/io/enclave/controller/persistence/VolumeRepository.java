package io.enclave.controller.persistence;

import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeSnapshot;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** Tenants' volumes with their copies and snapshots. Every tenant-facing read goes through a {@link Scope}. */
public final class VolumeRepository {

    /** A volume as stored, with its creation and last change times. */
    public record VolumeRow(Volume volume, Instant createdAt, Instant updatedAt) {}

    private record Head(String id, String tenantId, String name, String poolId, long sizeGib, int copies,
            String attachedVmId, boolean bootDisk, Instant createdAt, Instant updatedAt) {}

    public void insert(Handle h, Volume v, Instant now) {
        h.createUpdate("""
                INSERT INTO volumes (id, tenant_id, name, pool_id, size_gib, copies, attached_vm_id, boot_disk,
                  created_at, updated_at)
                VALUES (:id, :t, :name, :pool, :size, :copies, :vm, :boot, :now, :now)""")
                .bind("id", v.id()).bind("t", v.tenantId()).bind("name", v.name()).bind("pool", v.poolId())
                .bind("size", v.sizeGib()).bind("copies", v.copies()).bind("vm", v.attachedVmId())
                .bind("boot", v.bootDisk()).bind("now", Rows.ts(now)).execute();
        for (VolumeCopy c : v.placement()) saveCopy(h, v.id(), c, true);
    }

    /** Records the Idempotency-Key of the request that created the volume. */
    public void recordIdempotencyKey(Handle h, String volumeId, String scope, String key) {
        h.createUpdate("UPDATE volumes SET idempotency_scope = :s, idempotency_key = :k WHERE id = :id")
                .bind("id", volumeId).bind("s", scope).bind("k", key).execute();
    }

    /** The volume a request with this key made, if it still exists. */
    public Optional<String> idByIdempotencyKey(Handle h, String scope, String key) {
        return h.createQuery("SELECT id FROM volumes WHERE idempotency_scope = :s AND idempotency_key = :k")
                .bind("s", scope).bind("k", key).mapTo(String.class).findOne();
    }

    public Optional<VolumeRow> find(Handle h, Scope scope, String id) {
        return head(h, scope, id, false).map(head -> row(h, head));
    }

    /** Locks the volume's row for the rest of the transaction: changes to one volume are serialised. */
    public Optional<VolumeRow> lock(Handle h, Scope scope, String id) {
        return head(h, scope, id, true).map(head -> row(h, head));
    }

    public List<VolumeRow> list(Handle h, Scope scope) {
        return scope.bind(h.createQuery("SELECT * FROM volumes WHERE " + scope.condition("tenant_id") + " ORDER BY name, id"))
                .map((rs, ctx) -> head(rs)).list().stream().map(head -> row(h, head)).toList();
    }

    public List<VolumeRow> attachedTo(Handle h, String vmId) {
        return h.createQuery("SELECT * FROM volumes WHERE attached_vm_id = :vm ORDER BY id").bind("vm", vmId)
                .map((rs, ctx) -> head(rs)).list().stream().map(head -> row(h, head)).toList();
    }

    /** For the given VMs, the id of the volume each boots from (VMs without one are absent). */
    public java.util.Map<String, String> bootVolumeIds(Handle h, Scope scope, java.util.Collection<String> vmIds) {
        java.util.Map<String, String> ids = new java.util.HashMap<>();
        if (vmIds.isEmpty()) return ids;
        scope.bind(h.createQuery("SELECT attached_vm_id, id FROM volumes WHERE boot_disk AND attached_vm_id IN (<vms>) AND "
                        + scope.condition("tenant_id")))
                .bindList("vms", List.copyOf(vmIds))
                .map((rs, ctx) -> java.util.Map.entry(rs.getString(1), rs.getString(2)))
                .forEach(e -> ids.put(e.getKey(), e.getValue()));
        return ids;
    }

    /** The volume the VM boots from, if it has one. */
    public Optional<VolumeRow> bootVolumeOf(Handle h, String vmId) {
        return attachedTo(h, vmId).stream().filter(r -> r.volume().bootDisk()).findFirst();
    }

    /** The volumes with a copy on the device, for every tenant. */
    public List<String> idsOnDevice(Handle h, String deviceId) {
        return h.createQuery("SELECT DISTINCT volume_id FROM volume_copies WHERE device_id = :d ORDER BY volume_id")
                .bind("d", deviceId).mapTo(String.class).list();
    }

    public boolean nameTaken(Handle h, String tenantId, String name) {
        return h.createQuery("SELECT COUNT(*) FROM volumes WHERE tenant_id = :t AND name = :n")
                .bind("t", tenantId).bind("n", name).mapTo(Integer.class).one() > 0;
    }

    public void updateSize(Handle h, String id, long sizeGib, Instant now) {
        h.createUpdate("UPDATE volumes SET size_gib = :s, updated_at = :now WHERE id = :id")
                .bind("id", id).bind("s", sizeGib).bind("now", Rows.ts(now)).execute();
    }

    public void updateAttachment(Handle h, String id, String vmId, boolean bootDisk, Instant now) {
        h.createUpdate("UPDATE volumes SET attached_vm_id = :vm, boot_disk = :boot, updated_at = :now WHERE id = :id")
                .bind("id", id).bind("vm", vmId).bind("boot", bootDisk).bind("now", Rows.ts(now)).execute();
    }

    /** Forgets every attachment to the VM (its QEMU is gone with it). */
    public void detachAllFrom(Handle h, String vmId) {
        h.createUpdate("UPDATE volumes SET attached_vm_id = NULL, boot_disk = FALSE WHERE attached_vm_id = :vm")
                .bind("vm", vmId).execute();
    }

    public void saveCopy(Handle h, String volumeId, VolumeCopy c, boolean insert) {
        String sql = insert
                ? "INSERT INTO volume_copies (volume_id, copy_index, device_id, generation, state) VALUES (:v, :i, :d, :g, :s)"
                : "UPDATE volume_copies SET device_id = :d, generation = :g, state = :s WHERE volume_id = :v AND copy_index = :i";
        h.createUpdate(sql).bind("v", volumeId).bind("i", c.index()).bind("d", c.deviceId()).bind("g", c.generation())
                .bind("s", c.state().name()).execute();
    }

    /** Volumes with a copy being rebuilt (resyncing), by volume id, with that copy. */
    public List<java.util.Map.Entry<String, VolumeCopy>> resyncingCopies(Handle h) {
        return h.createQuery("SELECT volume_id, copy_index, device_id, generation, state FROM volume_copies WHERE state = 'RESYNCING'")
                .map((rs, ctx) -> java.util.Map.entry(rs.getString("volume_id"), new VolumeCopy(rs.getInt("copy_index"),
                        rs.getString("device_id"), rs.getInt("generation"), CopyState.RESYNCING))).list();
    }

    /** Copies a live migration makes of one of a VM's volumes in pool {@code toPoolId} of the destination host. */
    public record PlannedCopies(String volumeId, String toPoolId, List<VolumeCopy> copies) {}

    public void recordMigrationCopies(Handle h, String vmId, PlannedCopies planned) {
        for (VolumeCopy c : planned.copies()) {
            h.createUpdate("""
                    INSERT INTO migration_volume_copies (vm_id, volume_id, to_pool_id, copy_index, device_id, generation)
                    VALUES (:vm, :v, :p, :i, :d, :g)""")
                    .bind("vm", vmId).bind("v", planned.volumeId()).bind("p", planned.toPoolId()).bind("i", c.index())
                    .bind("d", c.deviceId()).bind("g", c.generation()).execute();
        }
    }

    /** The copies planned for each volume of the VM's migration, by volume. */
    public List<PlannedCopies> migrationCopies(Handle h, String vmId) {
        record Row(String volumeId, String poolId, VolumeCopy copy) {}
        List<Row> rows = h.createQuery("SELECT * FROM migration_volume_copies WHERE vm_id = :vm ORDER BY volume_id, copy_index")
                .bind("vm", vmId).map((rs, ctx) -> new Row(rs.getString("volume_id"), rs.getString("to_pool_id"),
                        new VolumeCopy(rs.getInt("copy_index"), rs.getString("device_id"), rs.getInt("generation"),
                                CopyState.IN_SYNC))).list();
        java.util.Map<String, List<Row>> byVolume = new java.util.LinkedHashMap<>();
        for (Row row : rows) byVolume.computeIfAbsent(row.volumeId(), k -> new java.util.ArrayList<>()).add(row);
        return byVolume.values().stream().map(r -> new PlannedCopies(r.getFirst().volumeId(), r.getFirst().poolId(),
                r.stream().map(Row::copy).toList())).toList();
    }

    /** The migration completed: its volumes live in the planned pools, on the planned copies, from now on. */
    public void adoptMigrationCopies(Handle h, String vmId, Instant now) {
        migrationCopies(h, vmId).forEach(planned -> {
            h.createUpdate("UPDATE volumes SET pool_id = :p, updated_at = :now WHERE id = :v").bind("p", planned.toPoolId())
                    .bind("now", Rows.ts(now)).bind("v", planned.volumeId()).execute();
            h.createUpdate("DELETE FROM volume_copies WHERE volume_id = :v").bind("v", planned.volumeId()).execute();
            for (VolumeCopy c : planned.copies()) saveCopy(h, planned.volumeId(), c, true);
        });
        forgetMigrationCopies(h, vmId);
    }

    public void forgetMigrationCopies(Handle h, String vmId) {
        h.createUpdate("DELETE FROM migration_volume_copies WHERE vm_id = :vm").bind("vm", vmId).execute();
    }

    public void delete(Handle h, String id) {
        h.createUpdate("DELETE FROM volumes WHERE id = :id").bind("id", id).execute();
    }

    public void insertSnapshot(Handle h, String volumeId, VolumeSnapshot s) {
        h.createUpdate("INSERT INTO volume_snapshots (volume_id, name, created_at) VALUES (:v, :n, :t)")
                .bind("v", volumeId).bind("n", s.name()).bind("t", Rows.ts(s.createdAt())).execute();
    }

    public void deleteSnapshot(Handle h, String volumeId, String name) {
        h.createUpdate("DELETE FROM volume_snapshots WHERE volume_id = :v AND name = :n")
                .bind("v", volumeId).bind("n", name).execute();
    }

    private Optional<Head> head(Handle h, Scope scope, String id, boolean forUpdate) {
        return scope.bind(h.createQuery("SELECT * FROM volumes WHERE id = :id AND " + scope.condition("tenant_id")
                        + (forUpdate ? " FOR UPDATE" : "")))
                .bind("id", id).map((rs, ctx) -> head(rs)).findOne();
    }

    private static Head head(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new Head(rs.getString("id"), rs.getString("tenant_id"), rs.getString("name"), rs.getString("pool_id"),
                rs.getLong("size_gib"), rs.getInt("copies"), rs.getString("attached_vm_id"), rs.getBoolean("boot_disk"),
                Rows.instant(rs, "created_at"), Rows.instant(rs, "updated_at"));
    }

    private VolumeRow row(Handle h, Head head) {
        List<VolumeCopy> copies = h.createQuery("SELECT * FROM volume_copies WHERE volume_id = :v ORDER BY copy_index")
                .bind("v", head.id()).map((rs, ctx) -> new VolumeCopy(rs.getInt("copy_index"), rs.getString("device_id"),
                        rs.getInt("generation"), CopyState.valueOf(rs.getString("state")))).list();
        List<VolumeSnapshot> snapshots = h.createQuery(
                        "SELECT * FROM volume_snapshots WHERE volume_id = :v ORDER BY created_at, name")
                .bind("v", head.id()).map((rs, ctx) -> new VolumeSnapshot(rs.getString("name"),
                        Rows.instant(rs, "created_at"))).list();
        return new VolumeRow(new Volume(head.id(), head.tenantId(), head.name(), head.poolId(), head.sizeGib(),
                head.copies(), copies, head.attachedVmId(), head.bootDisk(), snapshots), head.createdAt(), head.updatedAt());
    }
}
