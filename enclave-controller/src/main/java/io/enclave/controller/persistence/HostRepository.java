package io.enclave.controller.persistence;

import io.enclave.core.host.HostInfo;
import java.time.Instant;
import java.util.List;
import org.jdbi.v3.core.Handle;

public final class HostRepository {

    public record HostRow(HostInfo info, String status, Instant heartbeatAt) {}

    public void upsert(Handle h, HostInfo info, String status, Instant now) {
        int updated = h.createUpdate("""
                UPDATE hosts SET name = :name, cpus = :cpus, memory_mib = :mem, accelerator = :accel,
                status = :status, heartbeat_at = :now WHERE id = :id""")
                .bind("id", info.id()).bind("name", info.name()).bind("cpus", info.cpus())
                .bind("mem", info.memoryMib()).bind("accel", info.accelerator()).bind("status", status)
                .bind("now", Rows.ts(now)).execute();
        if (updated == 0) {
            h.createUpdate("""
                    INSERT INTO hosts (id, name, cpus, memory_mib, accelerator, status, heartbeat_at)
                    VALUES (:id, :name, :cpus, :mem, :accel, :status, :now)""")
                    .bind("id", info.id()).bind("name", info.name()).bind("cpus", info.cpus())
                    .bind("mem", info.memoryMib()).bind("accel", info.accelerator()).bind("status", status)
                    .bind("now", Rows.ts(now)).execute();
            h.createUpdate("INSERT INTO host_allocations (host_id, vcpus, memory_mib) VALUES (:id, 0, 0)")
                    .bind("id", info.id()).execute();
        }
    }

    public List<HostRow> list(Handle h) {
        return h.createQuery("SELECT * FROM hosts ORDER BY name").map((rs, ctx) -> new HostRow(
                new HostInfo(rs.getString("id"), rs.getString("name"), rs.getInt("cpus"), rs.getLong("memory_mib"),
                        rs.getString("accelerator")),
                rs.getString("status"), Rows.instant(rs, "heartbeat_at"))).list();
    }

    /** vCPUs and memory already given to VMs on each host. */
    public record Allocation(String hostId, int vcpus, long memoryMib) {}

    public List<Allocation> allocations(Handle h) {
        return h.createQuery("SELECT host_id, vcpus, memory_mib FROM host_allocations")
                .map((rs, ctx) -> new Allocation(rs.getString("host_id"), rs.getInt("vcpus"), rs.getLong("memory_mib"))).list();
    }

}
