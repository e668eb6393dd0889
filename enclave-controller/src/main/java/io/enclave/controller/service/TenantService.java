package io.enclave.controller.service;

import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.persistence.TokenRepository.TokenInfo;
import io.enclave.controller.auth.Tokens;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.tenant.Usage;
import io.enclave.core.validation.Validator;
import java.time.Clock;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Tenants, their quotas and their API tokens (admin work). */
public final class TenantService {
    private static final Logger log = LoggerFactory.getLogger(TenantService.class);

    /** A newly issued token: the only time its secret is shown. */
    public record IssuedToken(String id, String tenantId, String name, String token) {}

    private final Store store;
    private final Clock clock;
    private final java.util.function.Consumer<String> tenantNetworkingGone;

    public TenantService(Store store, Clock clock) {
        this(store, clock, t -> { });
    }

    /** @param tenantNetworkingGone told when a deleted tenant had a firewall, so the hosts remove it */
    public TenantService(Store store, Clock clock, java.util.function.Consumer<String> tenantNetworkingGone) {
        this.tenantNetworkingGone = tenantNetworkingGone;
        this.store = store;
        this.clock = clock;
    }

    public Tenant create(String name, Quota quota) {
        Validator v = new Validator().dnsLabel(name, "name");
        validateQuota(quota, v);
        v.throwIfInvalid();
        Tenant tenant = new Tenant(Ids.newId("tn"), name, quota, clock.instant());
        store.jdbi().useTransaction(h -> {
            if (store.tenants().nameTaken(h, name)) {
                throw new EnclaveException.Conflict("a tenant named '" + name + "' already exists");
            }
            store.tenants().insert(h, tenant);
        });
        log.info("tenant {} ({}) created with quota {}", tenant.id(), name, quota);
        return tenant;
    }

    public Tenant get(Scope scope, String id) {
        return store.jdbi().withHandle(h -> store.tenants().find(h, scope, id))
                .orElseThrow(() -> new EnclaveException.NotFound("tenant", id));
    }

    public List<Tenant> list() {
        return store.jdbi().withHandle(h -> store.tenants().list(h));
    }

    public Usage usage(String tenantId) {
        return store.jdbi().withHandle(h -> store.tenants().usage(h, tenantId));
    }

    public Tenant updateQuota(String id, Quota quota) {
        Validator v = new Validator();
        validateQuota(quota, v);
        v.throwIfInvalid();
        store.jdbi().useTransaction(h -> {
            store.tenants().lock(h, id).orElseThrow(() -> new EnclaveException.NotFound("tenant", id));
            store.tenants().updateQuota(h, id, quota);
        });
        log.info("tenant {}: quota set to {}", id, quota);
        return get(Scope.ALL_TENANTS, id);
    }

    public void delete(String id) {
        boolean hadFirewall = store.jdbi().inTransaction(h -> {
            store.tenants().lock(h, id).orElseThrow(() -> new EnclaveException.NotFound("tenant", id));
            if (store.tenants().usage(h, id).vms() > 0) {
                throw new EnclaveException.Conflict("tenant " + id + " still has VMs: delete them first");
            }
            if (!store.networks().ofTenant(h, id).isEmpty()) {
                throw new EnclaveException.Conflict("tenant " + id + " still has networks: delete them first");
            }
            boolean firewall = store.firewalls().find(h, Scope.ALL_TENANTS, id).isPresent();
            // The firewall goes with the tenant: its rules, its public address back to the pool.
            h.createUpdate("DELETE FROM firewall_rules WHERE tenant_id = :t").bind("t", id).execute();
            store.firewalls().delete(h, id);
            store.tenants().delete(h, id);
            return firewall;
        });
        if (hadFirewall) tenantNetworkingGone.accept(id);
        log.info("tenant {} deleted", id);
    }

    public IssuedToken issueToken(String tenantId, String name) {
        new Validator().dnsLabel(name, "name").throwIfInvalid();
        String secret = Tokens.newSecret();
        String id = Ids.newId("tok");
        store.jdbi().useTransaction(h -> {
            store.tenants().find(h, Scope.ALL_TENANTS, tenantId)
                    .orElseThrow(() -> new EnclaveException.NotFound("tenant", tenantId));
            store.tokens().insert(h, id, tenantId, name, Tokens.hash(secret), clock.instant());
        });
        log.info("tenant {}: token {} ({}) issued", tenantId, id, name);
        return new IssuedToken(id, tenantId, name, secret);
    }

    public List<TokenInfo> tokens(String tenantId) {
        get(Scope.ALL_TENANTS, tenantId);
        return store.jdbi().withHandle(h -> store.tokens().listForTenant(h, tenantId));
    }

    public void revokeToken(String tenantId, String tokenId) {
        boolean deleted = store.jdbi().inTransaction(h -> store.tokens().delete(h, tenantId, tokenId));
        if (!deleted) throw new EnclaveException.NotFound("token", tokenId);
        log.info("tenant {}: token {} revoked", tenantId, tokenId);
    }

    /** Creates the first admin token if there is none; returns its secret, or null if one existed. */
    public String bootstrapAdminToken() {
        return store.jdbi().inTransaction(h -> {
            if (store.tokens().adminExists(h)) return null;
            String secret = Tokens.newSecret();
            store.tokens().insert(h, Ids.newId("tok"), null, "bootstrap-admin", Tokens.hash(secret), clock.instant());
            return secret;
        });
    }

    /** Registers a known admin secret (for scripted installs); idempotent. */
    public void ensureAdminToken(String secret) {
        store.jdbi().useTransaction(h -> {
            if (store.tokens().findByHash(h, Tokens.hash(secret)).isEmpty()) {
                store.tokens().insert(h, Ids.newId("tok"), null, "configured-admin", Tokens.hash(secret), clock.instant());
            }
        });
    }

    private static void validateQuota(Quota q, Validator v) {
        if (!v.present(q, "quota")) return;
        v.require(q.vcpus() >= 0 && q.vcpus() <= 100_000, "quota.vcpus", "must be between 0 and 100000, got " + q.vcpus());
        v.require(q.memoryMib() >= 0 && q.memoryMib() <= 1L << 30, "quota.memoryMib",
                "must be between 0 and 1073741824, got " + q.memoryMib());
        v.require(q.diskGib() >= 0 && q.diskGib() <= 1L << 30, "quota.diskGib",
                "must be between 0 and 1073741824, got " + q.diskGib());
        v.require(q.vms() >= 0 && q.vms() <= 1_000_000, "quota.vms", "must be between 0 and 1000000, got " + q.vms());
    }
}
