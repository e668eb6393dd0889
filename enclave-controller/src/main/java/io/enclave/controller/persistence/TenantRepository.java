package io.enclave.controller.persistence;

import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.tenant.Usage;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

public final class TenantRepository {
    private static final RowMapper<Tenant> MAPPER = (rs, ctx) -> new Tenant(rs.getString("id"), rs.getString("name"),
            new Quota(rs.getInt("quota_vcpus"), rs.getLong("quota_memory_mib"), rs.getLong("quota_disk_gib"),
                    rs.getInt("quota_vms")),
            Rows.instant(rs, "created_at"));

    public void insert(Handle h, Tenant t) {
        h.createUpdate("""
                INSERT INTO tenants (id, name, quota_vcpus, quota_memory_mib, quota_disk_gib, quota_vms, created_at)
                VALUES (:id, :name, :vcpus, :mem, :disk, :vms, :created)""")
                .bind("id", t.id()).bind("name", t.name())
                .bind("vcpus", t.quota().vcpus()).bind("mem", t.quota().memoryMib())
                .bind("disk", t.quota().diskGib()).bind("vms", t.quota().vms())
                .bind("created", Rows.ts(t.createdAt())).execute();
    }

    public Optional<Tenant> find(Handle h, Scope scope, String id) {
        return scope.bind(h.createQuery("SELECT * FROM tenants WHERE id = :id AND " + scope.condition("id")))
                .bind("id", id).map(MAPPER).findOne();
    }

    public boolean nameTaken(Handle h, String name) {
        return h.createQuery("SELECT COUNT(*) FROM tenants WHERE name = :name").bind("name", name)
                .mapTo(Integer.class).one() > 0;
    }

    public List<Tenant> list(Handle h) {
        return h.createQuery("SELECT * FROM tenants ORDER BY name").map(MAPPER).list();
    }

    /** Locks the tenant's row until the transaction ends, so quota checks of one tenant are serialised. */
    public Optional<Tenant> lock(Handle h, String id) {
        return h.createQuery("SELECT * FROM tenants WHERE id = :id FOR UPDATE").bind("id", id).map(MAPPER).findOne();
    }

    public void updateQuota(Handle h, String id, Quota q) {
        h.createUpdate("""
                UPDATE tenants SET quota_vcpus = :vcpus, quota_memory_mib = :mem, quota_disk_gib = :disk,
                quota_vms = :vms WHERE id = :id""")
                .bind("id", id).bind("vcpus", q.vcpus()).bind("mem", q.memoryMib())
                .bind("disk", q.diskGib()).bind("vms", q.vms()).execute();
    }

    public void delete(Handle h, String id) {
        h.createUpdate("DELETE FROM tenants WHERE id = :id").bind("id", id).execute();
    }

    /**
     * What the tenant's VMs hold now, including those being deleted (their resources are not free yet); disk
     * counts the VMs' boot disks and the tenant's volumes (each once, at its size, whatever its copies). A boot
     * volume is its VM's boot disk, already counted by the VM's disk_gib: it is not counted again.
     */
    public Usage usage(Handle h, String tenantId) {
        return h.createQuery("""
                SELECT COALESCE(SUM(vcpus), 0) AS vcpus, COALESCE(SUM(memory_mib), 0) AS mem,
                       COALESCE(SUM(disk_gib), 0)
                         + (SELECT COALESCE(SUM(size_gib), 0) FROM volumes WHERE tenant_id = :t AND NOT boot_disk) AS disk,
                       COUNT(*) AS n
                FROM vms WHERE tenant_id = :t""").bind("t", tenantId)
                .map((rs, ctx) -> new Usage(rs.getInt("vcpus"), rs.getLong("mem"), rs.getLong("disk"), rs.getInt("n")))
                .one();
    }
}
