package io.enclave.controller.persistence;

import io.enclave.core.operation.Operation;
import io.enclave.core.operation.OperationKind;
import io.enclave.core.operation.OperationStatus;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

public final class OperationRepository {
    private static final RowMapper<Operation> MAPPER = (rs, ctx) -> new Operation(rs.getString("id"),
            rs.getString("tenant_id"), OperationKind.valueOf(rs.getString("kind")), rs.getString("target_id"),
            rs.getLong("target_generation"), OperationStatus.valueOf(rs.getString("status")), rs.getInt("progress"),
            rs.getString("message"), rs.getString("error"), Rows.instant(rs, "created_at"),
            Rows.instant(rs, "updated_at"));

    public void insert(Handle h, Operation op, String idempotencyNamespace, String idempotencyKey) {
        h.createUpdate("""
                INSERT INTO operations (id, tenant_id, kind, target_id, target_generation, status, progress, message,
                  error, caller_scope, idempotency_key, created_at, updated_at)
                VALUES (:id, :tenant, :kind, :target, :gen, :status, :progress, :message, :error, :ns, :key,
                  :created, :updated)""")
                .bind("id", op.id()).bind("tenant", op.tenantId()).bind("kind", op.kind().name())
                .bind("target", op.targetId()).bind("gen", op.targetGeneration()).bind("status", op.status().name())
                .bind("progress", op.progress()).bind("message", op.message()).bind("error", op.error())
                .bind("ns", idempotencyNamespace).bind("key", idempotencyKey)
                .bind("created", Rows.ts(op.createdAt())).bind("updated", Rows.ts(op.updatedAt())).execute();
    }

    public Optional<Operation> find(Handle h, Scope scope, String id) {
        return scope.bind(h.createQuery("SELECT * FROM operations WHERE id = :id AND " + scope.condition("tenant_id")))
                .bind("id", id).map(MAPPER).findOne();
    }

    public Optional<Operation> findByIdempotencyKey(Handle h, String namespace, String key) {
        return h.createQuery("SELECT * FROM operations WHERE caller_scope = :ns AND idempotency_key = :key")
                .bind("ns", namespace).bind("key", key).map(MAPPER).findOne();
    }

    /** Newest first; optionally only those about one target. */
    public List<Operation> list(Handle h, Scope scope, String targetId, int limit) {
        String sql = "SELECT * FROM operations WHERE " + scope.condition("tenant_id")
                + (targetId == null ? "" : " AND target_id = :target") + " ORDER BY created_at DESC, id LIMIT :limit";
        var q = scope.bind(h.createQuery(sql)).bind("limit", limit);
        if (targetId != null) q.bind("target", targetId);
        return q.map(MAPPER).list();
    }

    public List<Operation> unfinishedForTarget(Handle h, String targetId) {
        return h.createQuery("SELECT * FROM operations WHERE target_id = :t AND status IN ('PENDING','RUNNING') "
                + "ORDER BY created_at").bind("t", targetId).map(MAPPER).list();
    }

    public void update(Handle h, String id, OperationStatus status, int progress, String message, String error,
            Instant now) {
        h.createUpdate("""
                UPDATE operations SET status = :status, progress = :progress, message = :message, error = :error,
                  updated_at = :now WHERE id = :id""")
                .bind("id", id).bind("status", status.name()).bind("progress", progress).bind("message", message)
                .bind("error", error).bind("now", Rows.ts(now)).execute();
    }
}
