package io.enclave.controller.persistence;

import io.enclave.core.host.HostInfo;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

public final class HostRepository {

    /**
     * A host as the controller knows it. {@code status}: up or down (heartbeat). {@code maintenance}: none,
     * draining or on. {@code fenced}: declared dead and its HA VMs restarted elsewhere. {@code agentUrl} (https),
     * {@code agentCertificate} (PEM: the only certificate the controller accepts from the agent) and
     * {@code agentSecretSha256} (hex SHA-256 of the secret the agent's heartbeats present; the secret itself is
     * never stored) are null for the agent inside the controller's own process.
     */
    public record HostRow(HostInfo info, String status, Instant heartbeatAt, String agentUrl, String agentCertificate,
            String agentSecretSha256, String underlayAddress, String sharedStorage, String sharedStoragePath,
            String maintenance, boolean fenced) {

        public HostRow(HostInfo info, String status, Instant heartbeatAt) {
            this(info, status, heartbeatAt, null, null, null, null, null, null, "none", false);
        }

        public String id() {
            return info.id();
        }

        /** Whether new VMs (and VMs moving in) may be placed here. */
        public boolean schedulable() {
            return "up".equals(status) && "none".equals(maintenance) && !fenced;
        }
    }

    private static final RowMapper<HostRow> MAPPER = (rs, ctx) -> new HostRow(
            new HostInfo(rs.getString("id"), rs.getString("name"), rs.getInt("cpus"), rs.getLong("memory_mib"),
                    rs.getString("accelerator")),
            rs.getString("status"), Rows.instant(rs, "heartbeat_at"), rs.getString("agent_url"),
            rs.getString("agent_certificate"), rs.getString("agent_secret_sha256"), rs.getString("underlay_address"), rs.getString("shared_storage"),
            rs.getString("shared_storage_path"), rs.getString("maintenance"), rs.getBoolean("fenced"));

    /** Records a heartbeat of the in-process host (no remote agent). */
    public void upsert(Handle h, HostInfo info, String status, Instant now) {
        Optional<HostRow> existing = find(h, info.id());
        upsert(h, existing.map(e -> new HostRow(info, status, now, e.agentUrl(), e.agentCertificate(), e.agentSecretSha256(),
                e.underlayAddress(),
                e.sharedStorage(), e.sharedStoragePath(), e.maintenance(), e.fenced()))
                .orElse(new HostRow(info, status, now)), now);
    }

    /** Inserts or replaces the host's row (keeping its allocation). */
    public void upsert(Handle h, HostRow row, Instant now) {
        HostInfo info = row.info();
        int updated = h.createUpdate("""
                UPDATE hosts SET name = :name, cpus = :cpus, memory_mib = :mem, accelerator = :accel,
                status = :status, heartbeat_at = :now, agent_url = :url, agent_certificate = :cert,
                agent_secret_sha256 = :secretSha256,
                underlay_address = :underlay, shared_storage = :shared, shared_storage_path = :sharedPath,
                maintenance = :maintenance, fenced = :fenced WHERE id = :id""")
                .bindMap(binds(row, now)).execute();
        if (updated == 0) {
            h.createUpdate("""
                    INSERT INTO hosts (id, name, cpus, memory_mib, accelerator, status, heartbeat_at, agent_url,
                      agent_certificate, agent_secret_sha256, underlay_address, shared_storage, shared_storage_path, maintenance, fenced, joined_at)
                    VALUES (:id, :name, :cpus, :mem, :accel, :status, :now, :url, :cert, :secretSha256, :underlay, :shared,
                      :sharedPath, :maintenance, :fenced, :now)""")
                    .bindMap(binds(row, now)).execute();
            h.createUpdate("INSERT INTO host_allocations (host_id, vcpus, memory_mib) VALUES (:id, 0, 0)")
                    .bind("id", info.id()).execute();
        }
    }

    private static java.util.Map<String, Object> binds(HostRow row, Instant now) {
        java.util.Map<String, Object> m = new java.util.HashMap<>();
        m.put("id", row.id());
        m.put("name", row.info().name());
        m.put("cpus", row.info().cpus());
        m.put("mem", row.info().memoryMib());
        m.put("accel", row.info().accelerator());
        m.put("status", row.status());
        m.put("now", Rows.ts(now));
        m.put("url", row.agentUrl());
        m.put("cert", row.agentCertificate());
        m.put("secretSha256", row.agentSecretSha256());
        m.put("underlay", row.underlayAddress());
        m.put("shared", row.sharedStorage());
        m.put("sharedPath", row.sharedStoragePath());
        m.put("maintenance", row.maintenance());
        m.put("fenced", row.fenced());
        return m;
    }

    public List<HostRow> list(Handle h) {
        return h.createQuery("SELECT * FROM hosts ORDER BY name").map(MAPPER).list();
    }

    public Optional<HostRow> find(Handle h, String id) {
        return h.createQuery("SELECT * FROM hosts WHERE id = :id").bind("id", id).map(MAPPER).findOne();
    }

    public Optional<HostRow> lock(Handle h, String id) {
        return h.createQuery("SELECT * FROM hosts WHERE id = :id FOR UPDATE").bind("id", id).map(MAPPER).findOne();
    }

    public void heartbeat(Handle h, String id, HostInfo info, Instant now) {
        h.createUpdate("""
                UPDATE hosts SET status = 'up', heartbeat_at = :now, cpus = :cpus, memory_mib = :mem WHERE id = :id""")
                .bind("id", id).bind("now", Rows.ts(now)).bind("cpus", info.cpus()).bind("mem", info.memoryMib())
                .execute();
    }

    public void heartbeatAll(Handle h, java.util.Collection<String> ids, Instant now) {
        h.createUpdate("UPDATE hosts SET status = 'up', heartbeat_at = :now WHERE id IN (<ids>)")
                .bindList("ids", List.copyOf(ids)).bind("now", Rows.ts(now)).execute();
    }

    public void setStatus(Handle h, String id, String status) {
        h.createUpdate("UPDATE hosts SET status = :s WHERE id = :id").bind("id", id).bind("s", status).execute();
    }

    public void setMaintenance(Handle h, String id, String maintenance) {
        h.createUpdate("UPDATE hosts SET maintenance = :m WHERE id = :id").bind("id", id).bind("m", maintenance).execute();
    }

    public void setFenced(Handle h, String id, boolean fenced) {
        h.createUpdate("UPDATE hosts SET fenced = :f WHERE id = :id").bind("id", id).bind("f", fenced).execute();
    }

    /** vCPUs and memory already given to VMs on each host. */
    public record Allocation(String hostId, int vcpus, long memoryMib) {}

    public List<Allocation> allocations(Handle h) {
        return h.createQuery("SELECT host_id, vcpus, memory_mib FROM host_allocations")
                .map((rs, ctx) -> new Allocation(rs.getString("host_id"), rs.getInt("vcpus"), rs.getLong("memory_mib"))).list();
    }
}
