package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.FirewallRepository.FirewallRow;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.service.NetworkService;
import io.enclave.core.host.HostAgent;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converges one tenant's networking (networks, VM ports, firewall, DHCP/DNS) on every host to what the
 * store records, and records the generation it applied. Keyed by tenant id.
 */
public final class NetworkReconciler {
    private static final Logger log = LoggerFactory.getLogger(NetworkReconciler.class);

    private final Store store;
    private final HostRegistry hosts;
    private final NetworkService networks;

    public NetworkReconciler(Store store, HostRegistry hosts, NetworkService networks) {
        this.store = store;
        this.hosts = hosts;
        this.networks = networks;
    }

    public Result reconcile(String tenantId) {
        Optional<FirewallRow> before = store.jdbi().withHandle(h -> store.firewalls().find(h, Scope.ALL_TENANTS, tenantId));
        if (before.isEmpty()) {
            for (HostAgent agent : hosts.all()) agent.removeNetworking(tenantId);
            return Result.DONE;
        }
        // Applied even when the generation is already observed: the apply is idempotent and repairs
        // drift on the host (a firewall namespace that was removed, a dnsmasq that died).
        long generation = before.get().generation();
        Optional<PublicNetwork> pub = networks.publicNetwork();
        Optional<TenantNetworking> desired = networks.desired(tenantId);
        if (pub.isEmpty() || desired.isEmpty()) {
            record(tenantId, before.get().observedGeneration(), "pending", "the public network is not configured");
            return Result.requeueAfter(Duration.ofSeconds(10));
        }
        try {
            long start = System.nanoTime();
            for (HostAgent agent : hosts.all()) agent.applyNetworking(pub.get(), desired.get());
            log.debug("tenant {}: networking generation {} applied in {} ms ({} networks, {} NICs, {} rules)", tenantId,
                    generation, (System.nanoTime() - start) / 1_000_000, desired.get().networks().size(),
                    desired.get().nics().size(), desired.get().ingressRules().size() + desired.get().portForwards().size()
                            + desired.get().oneToOneNats().size() + desired.get().egressRules().size());
            if (before.get().observedGeneration() < generation || !"ready".equals(before.get().phase())) {
                record(tenantId, generation, "ready", null);
            }
            return Result.DONE;
        } catch (RuntimeException e) {
            log.warn("tenant {}: applying networking generation {} failed: {}", tenantId, generation, e.getMessage());
            record(tenantId, before.get().observedGeneration(), "error", e.getMessage());
            return Result.requeueAfter(Duration.ofSeconds(5));
        }
    }

    private void record(String tenantId, long generation, String phase, String message) {
        store.jdbi().useTransaction(h -> store.firewalls().recordObserved(h, tenantId, generation, phase, message));
    }
}
