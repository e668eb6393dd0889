package io.enclave.agent.network;

import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.util.List;
import java.util.Map;

/**
 * Turns a declarative description of networking into kernel state on one host. Every method converges
 * (checks before it creates), so calling it again, or after an agent restart, changes nothing that is
 * already right.
 */
public interface NetworkDriver {

    /**
     * Creates or repairs the public network every tenant firewall's port 2 attaches to, and its uplink; its
     * VXLAN to other hosts stays as it is (unless there is an uplink, which replaces it).
     */
    void ensurePublicNetwork(PublicNetwork network);

    /**
     * Creates or repairs the public network and its VXLAN (VNI {@link PublicNetwork#VNI}) to the other hosts:
     * flood entries to exactly {@code publicPeers} (underlay IPv4 addresses); empty = no VXLAN; null = leave
     * the VXLAN as it is. With an uplink there is no VXLAN: the uplink's network joins the hosts.
     */
    void ensurePublicNetwork(PublicNetwork network, List<String> publicPeers);

    /** Removes the public network (every tenant must be removed first). */
    void removePublicNetwork();

    /**
     * Converges the tenant's networks, VM ports, firewall (rules applied atomically) and DHCP/DNS to
     * exactly {@code tenant}; removes what is no longer in it. Validates first, so bad input applies nothing.
     */
    void applyTenant(TenantNetworking tenant);

    /** Removes everything of the tenant from the host (its VMs must be stopped first). */
    void removeTenant(String tenantId);

    /**
     * Takes every tenant firewall of this host off the public network (its port on the public bridge down) and
     * returns the ports taken down. For a host cut off from the controller, which may move the firewalls and
     * their public addresses to another host meanwhile; the next {@link #applyTenant} of a firewall this host
     * still runs brings its port back up.
     */
    List<String> isolateFirewalls();

    /** Hit counters of the tenant's firewall rules, by rule id (plus the built-in {@code default:*} ones). */
    Map<String, RuleCounter> ruleCounters(String tenantId);

    /** What QEMU needs to plug the VM's NIC on {@code networkId} in: the namespace to run in, the TAP, MAC and MTU. */
    NicAttachment nicAttachment(TenantNetworking tenant, String vmId, String networkId);
}
