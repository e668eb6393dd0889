package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.core.network.HostRole;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

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
    private final Function<String, Set<String>> incomingHosts;

    public NetworkReconciler(Store store, HostRegistry hosts, NetworkService networks) {
        this(store, hosts, networks, tenantId -> Set.of());
    }

    /** @param incomingHosts hosts that VMs of a tenant are being migrated to (they need its networking first) */
    public NetworkReconciler(Store store, HostRegistry hosts, NetworkService networks,
            Function<String, Set<String>> incomingHosts) {
        this.store = store;
        this.hosts = hosts;
        this.networks = networks;
        this.incomingHosts = incomingHosts;
    }

    public Result reconcile(String tenantId) {
        Optional<FirewallRow> before = store.jdbi().withHandle(h -> store.firewalls().find(h, Scope.ALL_TENANTS, tenantId));
        List<HostRow> hostRows = store.jdbi().withHandle(h -> store.hosts().list(h));
        if (before.isEmpty()) {
            for (HostRow row : hostRows) {
                if (!"up".equals(row.status())) continue;
                hosts.get(row.id()).ifPresent(agent -> agent.removeNetworking(tenantId));
            }
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
        TenantPlacement placement = placement(tenantId, before.get(), hostRows);
        if (placement.firewallHost() == null) {
            record(tenantId, before.get().observedGeneration(), "pending", "no host is up to run the firewall");
            return Result.requeueAfter(Duration.ofSeconds(10));
        }
        if (!placement.firewallHost().equals(before.get().hostId())) {
            store.jdbi().useTransaction(h -> store.firewalls().placeOn(h, tenantId, placement.firewallHost()));
            log.info("tenant {}: firewall placed on host {}{}", tenantId, placement.firewallHost(),
                    before.get().hostId() == null ? "" : " (was on " + before.get().hostId() + ")");
        }
        List<String> failures = new ArrayList<>();
        long start = System.nanoTime();
        for (HostRow row : hostRows) {
            if (!"up".equals(row.status())) continue; // a down host converges when it is back
            Optional<HostAgent> agent = hosts.get(row.id());
            if (agent.isEmpty()) continue;
            try {
                HostRole role = placement.roles().get(row.id());
                if (role != null) agent.get().applyNetworking(pub.get(), desired.get().withHostRole(role));
                else agent.get().removeNetworking(tenantId);
            } catch (RuntimeException e) {
                log.warn("tenant {}: applying networking generation {} on host {} failed: {}", tenantId, generation,
                        row.id(), e.getMessage());
                failures.add("host " + row.id() + ": " + e.getMessage());
            }
        }
        if (!failures.isEmpty()) {
            record(tenantId, before.get().observedGeneration(), "error", String.join("; ", failures));
            return Result.requeueAfter(Duration.ofSeconds(5));
        }
        log.debug("tenant {}: networking generation {} applied on {} host(s) in {} ms", tenantId, generation,
                placement.roles().size(), (System.nanoTime() - start) / 1_000_000);
        if (before.get().observedGeneration() < generation || !"ready".equals(before.get().phase())) {
            record(tenantId, generation, "ready", null);
        }
        return Result.DONE;
    }

    /** The tenant's networking as {@code hostId} must have it (its role there included), if it has any. */
    public Optional<TenantNetworking> forHost(String tenantId, String hostId) {
        Optional<FirewallRow> fw = store.jdbi().withHandle(h -> store.firewalls().find(h, Scope.ALL_TENANTS, tenantId));
        Optional<TenantNetworking> desired = networks.desired(tenantId);
        if (fw.isEmpty() || desired.isEmpty()) return Optional.empty();
        List<HostRow> hostRows = store.jdbi().withHandle(h -> store.hosts().list(h));
        Set<String> extra = new HashSet<>(Set.of(hostId));
        HostRole role = placement(tenantId, fw.get(), hostRows, extra).roles().get(hostId);
        return Optional.of(desired.get().withHostRole(role == null ? HostRole.SINGLE_HOST : role));
    }

    private TenantPlacement placement(String tenantId, FirewallRow fw, List<HostRow> hostRows) {
        return placement(tenantId, fw, hostRows, Set.of());
    }

    private TenantPlacement placement(String tenantId, FirewallRow fw, List<HostRow> hostRows, Set<String> extra) {
        Set<String> vmHosts = new HashSet<>(store.jdbi().withHandle(h -> h.createQuery("""
                SELECT DISTINCT v.host_id FROM vms v JOIN nics n ON n.vm_id = v.id WHERE v.tenant_id = :t""")
                .bind("t", tenantId).mapTo(String.class).list()));
        vmHosts.addAll(incomingHosts.apply(tenantId));
        vmHosts.addAll(extra);
        return TenantPlacement.plan(fw.hostId(), hostRows, vmHosts);
    }

    private void record(String tenantId, long generation, String phase, String message) {
        store.jdbi().useTransaction(h -> store.firewalls().recordObserved(h, tenantId, generation, phase, message));
    }
}
