package io.enclave.controller.service;

import io.enclave.controller.auth.Caller;
import io.enclave.core.error.EnclaveException;

/** Which tenant a request acts on: a tenant token's own; an admin names one. */
final class Tenancy {
    private Tenancy() {}

    static String targetTenant(Caller caller, String tenantIdForAdmin) {
        return switch (caller) {
            case Caller.TenantMember t -> {
                if (tenantIdForAdmin != null && !tenantIdForAdmin.equals(t.tenantId())) {
                    throw new EnclaveException.Forbidden("a tenant token can only act in its own tenant");
                }
                yield t.tenantId();
            }
            case Caller.Admin a -> {
                if (tenantIdForAdmin == null) {
                    throw new EnclaveException.InvalidRequest("tenantId", "is required when an admin acts for a tenant");
                }
                yield tenantIdForAdmin;
            }
        };
    }
}
