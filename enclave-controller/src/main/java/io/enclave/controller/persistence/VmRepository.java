package io.enclave.controller.persistence;

import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmPhase;
import io.enclave.core.vm.VmPlacement;
import io.enclave.core.vm.VmSpec;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

public final class VmRepository {
    private static final RowMapper<Vm> MAPPER = (rs, ctx) -> new Vm(
            rs.getString("id"), rs.getString("tenant_id"),
            new VmSpec(rs.getString("name"), rs.getInt("vcpus"), rs.getLong("memory_mib"), rs.getLong("disk_gib"),
                    rs.getString("image_name"), new VmPlacement(rs.getBoolean("highly_available"),
                            rs.getString("anti_affinity_group"), rs.getString("shared_storage") != null)),
            rs.getString("host_id"), DesiredState.valueOf(rs.getString("desired_state")), rs.getLong("generation"),
            rs.getBoolean("reboot_pending"), rs.getInt("stop_timeout_seconds"), VmPhase.valueOf(rs.getString("phase")),
            rs.getLong("observed_generation"), rs.getBoolean("guest_ready"), rs.getString("message"),
            Rows.instant(rs, "created_at"), Rows.instant(rs, "updated_at"));

    /** Records the VM and adds what it holds to its host's allocation. */
    public void insert(Handle h, Vm vm) {
        insert(h, vm, null);
    }

    /** {@code sharedStorage}: the shared storage the boot disk lives on (null: the host's own). */
    public void insert(Handle h, Vm vm, String sharedStorage) {
        h.createUpdate("UPDATE host_allocations SET vcpus = vcpus + :c, memory_mib = memory_mib + :m WHERE host_id = :h")
                .bind("h", vm.hostId()).bind("c", vm.spec().vcpus()).bind("m", vm.spec().memoryMib()).execute();
        h.createUpdate("""
                INSERT INTO vms (id, tenant_id, name, vcpus, memory_mib, disk_gib, image_name, host_id, desired_state,
                  generation, reboot_pending, stop_timeout_seconds, phase, observed_generation, guest_ready, message,
                  failed_attempts, created_at, updated_at, highly_available, anti_affinity_group, shared_storage)
                VALUES (:id, :tenant, :name, :vcpus, :mem, :disk, :image, :host, :desired, :gen, :reboot, :timeout,
                  :phase, :observed, :ready, :message, 0, :created, :updated, :ha, :group, :shared)""")
                .bind("ha", vm.spec().placement().highlyAvailable())
                .bind("group", vm.spec().placement().antiAffinityGroup()).bind("shared", sharedStorage)
                .bind("id", vm.id()).bind("tenant", vm.tenantId()).bind("name", vm.spec().name())
                .bind("vcpus", vm.spec().vcpus()).bind("mem", vm.spec().memoryMib()).bind("disk", vm.spec().diskGib())
                .bind("image", vm.spec().image()).bind("host", vm.hostId()).bind("desired", vm.desiredState().name())
                .bind("gen", vm.generation()).bind("reboot", vm.rebootPending()).bind("timeout", vm.stopTimeoutSeconds())
                .bind("phase", vm.phase().name()).bind("observed", vm.observedGeneration()).bind("ready", vm.guestReady())
                .bind("message", vm.message()).bind("created", Rows.ts(vm.createdAt()))
                .bind("updated", Rows.ts(vm.updatedAt())).execute();
    }

    public Optional<Vm> find(Handle h, Scope scope, String id) {
        return scope.bind(h.createQuery("SELECT * FROM vms WHERE id = :id AND " + scope.condition("tenant_id")))
                .bind("id", id).map(MAPPER).findOne();
    }

    /** Locks the VM's row for the rest of the transaction. */
    public Optional<Vm> lock(Handle h, Scope scope, String id) {
        return scope.bind(h.createQuery("SELECT * FROM vms WHERE id = :id AND " + scope.condition("tenant_id")
                + " FOR UPDATE")).bind("id", id).map(MAPPER).findOne();
    }

    /** One page of VMs ordered by id, starting after {@code afterId} (null for the first page). */
    public List<Vm> list(Handle h, Scope scope, String afterId, int limit) {
        String sql = "SELECT * FROM vms WHERE " + scope.condition("tenant_id")
                + (afterId == null ? "" : " AND id > :after") + " ORDER BY id LIMIT :limit";
        var q = scope.bind(h.createQuery(sql)).bind("limit", limit);
        if (afterId != null) q.bind("after", afterId);
        return q.map(MAPPER).list();
    }

    public boolean nameTaken(Handle h, String tenantId, String name) {
        return h.createQuery("SELECT COUNT(*) FROM vms WHERE tenant_id = :t AND name = :n")
                .bind("t", tenantId).bind("n", name).mapTo(Integer.class).one() > 0;
    }

    /** Records a new desired state as a new generation; returns that generation. */
    public long setDesired(Handle h, String id, DesiredState desired, boolean rebootPending, int stopTimeoutSeconds,
            Instant now) {
        h.createUpdate("""
                UPDATE vms SET desired_state = :d, reboot_pending = :r, stop_timeout_seconds = :t,
                  generation = generation + 1, failed_attempts = 0, updated_at = :now WHERE id = :id""")
                .bind("id", id).bind("d", desired.name()).bind("r", rebootPending).bind("t", stopTimeoutSeconds)
                .bind("now", Rows.ts(now)).execute();
        return h.createQuery("SELECT generation FROM vms WHERE id = :id").bind("id", id).mapTo(Long.class).one();
    }

    /** Records what the reconciler observed; {@code observedGeneration} is only ever raised. */
    public void recordObserved(Handle h, String id, VmPhase phase, long observedGeneration, boolean guestReady,
            String message, Instant now) {
        h.createUpdate("""
                UPDATE vms SET phase = :phase, guest_ready = :ready, message = :message, updated_at = :now,
                  observed_generation = CASE WHEN observed_generation < :obs THEN :obs ELSE observed_generation END
                WHERE id = :id""")
                .bind("id", id).bind("phase", phase.name()).bind("ready", guestReady).bind("message", message)
                .bind("obs", observedGeneration).bind("now", Rows.ts(now)).execute();
    }

    public void clearReboot(Handle h, String id) {
        h.createUpdate("UPDATE vms SET reboot_pending = FALSE WHERE id = :id").bind("id", id).execute();
    }

    /** Counts one more failed attempt at the current generation and returns the count. */
    public int recordFailure(Handle h, String id, String message, Instant now) {
        h.createUpdate("""
                UPDATE vms SET failed_attempts = failed_attempts + 1, message = :m, updated_at = :now WHERE id = :id""")
                .bind("id", id).bind("m", message).bind("now", Rows.ts(now)).execute();
        return h.createQuery("SELECT failed_attempts FROM vms WHERE id = :id").bind("id", id)
                .mapTo(Integer.class).findOne().orElse(0);
    }

    /**
     * Deletes the VM's row and its boot volume's (the host removed its files with the VM); other volumes attached
     * to it become detached (its QEMU, which held them, is gone).
     */
    public void delete(Handle h, String id) {
        h.createUpdate("DELETE FROM volumes WHERE attached_vm_id = :id AND boot_disk").bind("id", id).execute();
        h.createUpdate("UPDATE volumes SET attached_vm_id = NULL, boot_disk = FALSE WHERE attached_vm_id = :id")
                .bind("id", id).execute();
        // The host's allocation gives back what the VM held, in the same transaction as the delete.
        h.createUpdate("""
                UPDATE host_allocations SET
                  vcpus = vcpus - (SELECT vcpus FROM vms WHERE id = :id),
                  memory_mib = memory_mib - (SELECT memory_mib FROM vms WHERE id = :id)
                WHERE host_id = (SELECT host_id FROM vms WHERE id = :id)""").bind("id", id).execute();
        h.createUpdate("DELETE FROM vms WHERE id = :id").bind("id", id).execute();
    }

    /** VMs whose host does not yet match the desired state (the reconcilers' to-do list). */
    public List<String> unconvergedIds(Handle h) {
        return h.createQuery("SELECT id FROM vms WHERE observed_generation < generation OR phase IN "
                + "('PENDING','CREATING','STARTING','REBOOTING','STOPPING','DELETING') ORDER BY id")
                .mapTo(String.class).list();
    }

    public List<String> idsOnHost(Handle h, String hostId) {
        return h.createQuery("SELECT id FROM vms WHERE host_id = :h ORDER BY id").bind("h", hostId)
                .mapTo(String.class).list();
    }

    public long count(Handle h) {
        return h.createQuery("SELECT COUNT(*) FROM vms").mapTo(Long.class).one();
    }

    /** Moves the VM's record (and what it holds) to another host, as a migration or an HA restart does. */
    public void moveToHost(Handle h, String id, String toHost) {
        h.createUpdate("""
                UPDATE host_allocations SET
                  vcpus = vcpus - (SELECT vcpus FROM vms WHERE id = :id),
                  memory_mib = memory_mib - (SELECT memory_mib FROM vms WHERE id = :id)
                WHERE host_id = (SELECT host_id FROM vms WHERE id = :id)""").bind("id", id).execute();
        h.createUpdate("UPDATE vms SET host_id = :to WHERE id = :id").bind("id", id).bind("to", toHost).execute();
        h.createUpdate("""
                UPDATE host_allocations SET
                  vcpus = vcpus + (SELECT vcpus FROM vms WHERE id = :id),
                  memory_mib = memory_mib + (SELECT memory_mib FROM vms WHERE id = :id)
                WHERE host_id = :to""").bind("id", id).bind("to", toHost).execute();
    }

    /** The hosts that already run a VM of the tenant's anti-affinity group. */
    public java.util.Set<String> hostsOfGroup(Handle h, String tenantId, String group) {
        return new java.util.HashSet<>(h.createQuery(
                "SELECT DISTINCT host_id FROM vms WHERE tenant_id = :t AND anti_affinity_group = :g")
                .bind("t", tenantId).bind("g", group).mapTo(String.class).list());
    }

    /** The shared storage the VM's boot disk is on, or null for host-local storage. */
    public String sharedStorage(Handle h, String id) {
        return h.createQuery("SELECT shared_storage FROM vms WHERE id = :id").bind("id", id).mapTo(String.class)
                .findOne().orElse(null);
    }

    public List<Vm> onHost(Handle h, String hostId) {
        return h.createQuery("SELECT * FROM vms WHERE host_id = :h ORDER BY id").bind("h", hostId).map(MAPPER).list();
    }

    /** A migration in flight: the destination and the operation that tracks it. */
    public record Migration(String vmId, String tenantId, String fromHost, String toHost, String operationId) {}

    public void startMigration(Handle h, String id, String toHost, String operationId) {
        h.createUpdate("UPDATE vms SET migrating_to = :to, migration_operation = :op WHERE id = :id")
                .bind("id", id).bind("to", toHost).bind("op", operationId).execute();
    }

    public void endMigration(Handle h, String id) {
        h.createUpdate("UPDATE vms SET migrating_to = NULL, migration_operation = NULL WHERE id = :id").bind("id", id).execute();
    }

    public Optional<Migration> migration(Handle h, String id) {
        return migrations(h, "id = :id", id).stream().findFirst();
    }

    public List<Migration> migrations(Handle h) {
        return migrations(h, "TRUE", null);
    }

    private List<Migration> migrations(Handle h, String condition, String id) {
        var q = h.createQuery("SELECT id, tenant_id, host_id, migrating_to, migration_operation FROM vms "
                + "WHERE migrating_to IS NOT NULL AND " + condition);
        if (id != null) q.bind("id", id);
        return q.map((rs, ctx) -> new Migration(rs.getString("id"), rs.getString("tenant_id"), rs.getString("host_id"),
                rs.getString("migrating_to"), rs.getString("migration_operation"))).list();
    }

    /** For the given VM ids, their host (absent ids have no record). */
    public java.util.Map<String, String> hostsOf(Handle h, java.util.Collection<String> ids) {
        java.util.Map<String, String> m = new java.util.HashMap<>();
        if (ids.isEmpty()) return m;
        h.createQuery("SELECT id, host_id FROM vms WHERE id IN (<ids>)").bindList("ids", List.copyOf(ids))
                .map((rs, ctx) -> java.util.Map.entry(rs.getString(1), rs.getString(2))).forEach(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }
}
