package io.enclave.controller.persistence;

import io.enclave.controller.auth.Caller;
import org.jdbi.v3.core.statement.SqlStatement;

/**
 * Tenancy, enforced in this one place: every read or write of a tenant-owned row goes through a Scope.
 * A tenant caller's scope adds {@code tenant_id = <its tenant>} to the query, so another tenant's rows
 * are simply not there (the API answers 404). Admins, and the platform's own reconcilers, use
 * {@link #ALL_TENANTS}.
 */
public record Scope(String tenantId) {

    public static final Scope ALL_TENANTS = new Scope(null);

    public static Scope of(Caller caller) {
        return switch (caller) {
            case Caller.Admin a -> ALL_TENANTS;
            case Caller.TenantMember t -> new Scope(t.tenantId());
        };
    }

    public boolean allTenants() {
        return tenantId == null;
    }

    /** The SQL condition to AND into a WHERE clause, on the given column. */
    public String condition(String column) {
        return allTenants() ? "1 = 1" : column + " = :scopeTenant";
    }

    public <T extends SqlStatement<T>> T bind(T statement) {
        return allTenants() ? statement : statement.bind("scopeTenant", tenantId);
    }

    /** The key under which idempotency keys are unique: one namespace per tenant, one for admins. */
    public String idempotencyNamespace() {
        return allTenants() ? "admin" : tenantId;
    }
}
