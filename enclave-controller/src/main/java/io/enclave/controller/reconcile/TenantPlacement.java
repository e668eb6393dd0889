package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.core.network.HostRole;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which hosts take part in one tenant's networking and what each does there: the firewall runs on one
 * host; every host with one of the tenant's VMs (or receiving one by migration) bridges the tenant's
 * networks, joined to the others by VXLAN over the underlay. Pure: decided from rows, applied by
 * {@link NetworkReconciler}.
 *
 * @param firewallHost where the firewall runs (null: no host is up to run it)
 * @param roles        the role of every taking-part host, by host id
 */
public record TenantPlacement(String firewallHost, Map<String, HostRole> roles) {

    /**
     * @param currentFirewallHost where the firewall runs now (null: not yet placed); it stays there while
     *                            that host is up and not fenced
     * @param vmHosts             hosts of the tenant's VMs with NICs, and hosts VMs are migrating to
     */
    public static TenantPlacement plan(String currentFirewallHost, List<HostRow> hosts, Collection<String> vmHosts) {
        Map<String, HostRow> byId = new LinkedHashMap<>();
        hosts.forEach(h -> byId.put(h.id(), h));
        String firewall = currentFirewallHost;
        if (firewall == null || !usable(byId.get(firewall))) {
            firewall = new TreeSet<>(vmHosts).stream().filter(id -> usable(byId.get(id))).findFirst()
                    .orElse(hosts.stream().filter(HostRow::schedulable).map(HostRow::id).sorted().findFirst().orElse(null));
        }
        Set<String> taking = new TreeSet<>(vmHosts);
        if (firewall != null) taking.add(firewall);
        taking.removeIf(id -> !byId.containsKey(id));

        Map<String, HostRole> roles = new LinkedHashMap<>();
        for (String id : taking) {
            roles.put(id, new HostRole(id.equals(firewall), underlays(byId, taking, id),
                    underlays(byId, byId.keySet(), id)));
        }
        return new TenantPlacement(firewall, roles);
    }

    private static boolean usable(HostRow h) {
        return h != null && "up".equals(h.status()) && !h.fenced();
    }

    /** The underlay addresses of {@code ids} other than {@code self} (hosts without one cannot be reached by VXLAN). */
    private static List<String> underlays(Map<String, HostRow> byId, Collection<String> ids, String self) {
        List<String> out = new ArrayList<>();
        for (String id : ids) {
            HostRow h = byId.get(id);
            if (!id.equals(self) && h != null && h.underlayAddress() != null && !out.contains(h.underlayAddress())) {
                out.add(h.underlayAddress());
            }
        }
        return out;
    }
}
