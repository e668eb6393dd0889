package io.enclave.agent.network;

import io.enclave.core.network.TenantNetworking;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Every kernel object name, derived from ids. Interface names must fit Linux's 15 characters, so they are
 * {@code prefix + kind letter + 10 hex digits} of the id (an id's own hex digits when it is
 * {@code xx-<12 hex>}, else a SHA-256 of it). Interface names only need to be unique inside their
 * namespace (a clash in the public namespace makes an apply fail, it never joins two tenants); namespace
 * names carry whole ids. The prefix (at most 4 characters: "enc" in production, "ent3" in tests) marks
 * everything as ours.
 */
public record NetNames(String prefix) {

    public NetNames {
        if (!prefix.matches("[a-z][a-z0-9]{0,3}")) throw new IllegalArgumentException("bad name prefix " + prefix);
    }

    public String publicNamespace() { return prefix + "-pub"; }
    /** The public bridge, in the public namespace. */
    public String publicBridge() { return prefix + "pub"; }

    /** Namespace names have no length limit: the whole tenant id, so two tenants never share one. */
    public String tenantNamespace(String tenantId) { return prefix + "-t-" + checked(tenantId); }
    public String firewallNamespace(String tenantId) { return prefix + "-f-" + checked(tenantId); }

    /** The firewall's port 2, in the firewall namespace. */
    public String firewallWan() { return prefix + "wan"; }
    /** The other end of port 2, a port of the public bridge. */
    public String publicPort(String tenantId) { return prefix + "f" + tag(tenantId); }

    /** A tenant network's bridge, in the tenant namespace. */
    public String networkBridge(String networkId) { return prefix + "b" + tag(networkId); }
    /** The firewall's veth end on a network (port 1, holds the gateway address), in the firewall namespace. */
    public String firewallLeg(String networkId) { return prefix + "n" + tag(networkId); }
    /** The bridge side of that veth, in the tenant namespace. */
    public String gatewayPort(String networkId) { return prefix + "g" + tag(networkId); }
    /** A tenant network's VXLAN device, in the tenant namespace on the network's bridge. */
    public String vxlan(String networkId) { return prefix + "v" + tag(networkId); }
    /** The public network's VXLAN device, in the public namespace on the public bridge. */
    public String publicVxlan() { return prefix + "vpub"; }
    /** A VM NIC's TAP, in the tenant namespace. */
    public String tap(String vmId, String networkId) { return prefix + "t" + hash(vmId + "/" + networkId); }

    public boolean isTap(String ifname) { return ifname.startsWith(prefix + "t") && ifname.length() == prefix.length() + 11; }
    public boolean isBridge(String ifname) { return ifname.startsWith(prefix + "b") && ifname.length() == prefix.length() + 11; }
    public boolean isGatewayPort(String ifname) { return ifname.startsWith(prefix + "g") && ifname.length() == prefix.length() + 11; }
    public boolean isVxlan(String ifname) { return ifname.startsWith(prefix + "v") && ifname.length() == prefix.length() + 11; }
    public boolean isFirewallLeg(String ifname) { return ifname.startsWith(prefix + "n") && ifname.length() == prefix.length() + 11; }

    private static String checked(String id) {
        if (!TenantNetworking.ID.matcher(id).matches()) throw new IllegalArgumentException("bad id " + id);
        return id;
    }

    static String tag(String id) {
        int dash = id.lastIndexOf('-');
        String tail = id.substring(dash + 1);
        if (tail.matches("[0-9a-f]{12}")) return tail.substring(2);
        return hash(id);
    }

    static String hash(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest).substring(0, 10);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
