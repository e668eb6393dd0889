package io.enclave.controller.persistence;

import io.enclave.controller.auth.Caller;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

public final class TokenRepository {

    /** A token as listed to an admin: never the secret, never its hash. */
    public record TokenInfo(String id, String tenantId, String name, Instant createdAt) {}

    public void insert(Handle h, String id, String tenantId, String name, String hash, Instant createdAt) {
        h.createUpdate("""
                INSERT INTO tokens (id, tenant_id, name, token_hash, created_at)
                VALUES (:id, :tenant, :name, :hash, :created)""")
                .bind("id", id).bind("tenant", tenantId).bind("name", name).bind("hash", hash)
                .bind("created", Rows.ts(createdAt)).execute();
    }

    public Optional<Caller> findByHash(Handle h, String hash) {
        return h.createQuery("SELECT id, tenant_id FROM tokens WHERE token_hash = :hash").bind("hash", hash)
                .map((rs, ctx) -> {
                    String tenant = rs.getString("tenant_id");
                    return tenant == null ? (Caller) new Caller.Admin(rs.getString("id"))
                            : new Caller.TenantMember(tenant, rs.getString("id"));
                }).findOne();
    }

    public List<TokenInfo> listForTenant(Handle h, String tenantId) {
        return h.createQuery("SELECT * FROM tokens WHERE tenant_id = :t ORDER BY created_at").bind("t", tenantId)
                .map((rs, ctx) -> new TokenInfo(rs.getString("id"), rs.getString("tenant_id"), rs.getString("name"),
                        Rows.instant(rs, "created_at"))).list();
    }

    public boolean delete(Handle h, String tenantId, String tokenId) {
        return h.createUpdate("DELETE FROM tokens WHERE id = :id AND tenant_id = :t")
                .bind("id", tokenId).bind("t", tenantId).execute() > 0;
    }

    public boolean adminExists(Handle h) {
        return h.createQuery("SELECT COUNT(*) FROM tokens WHERE tenant_id IS NULL").mapTo(Integer.class).one() > 0;
    }
}
