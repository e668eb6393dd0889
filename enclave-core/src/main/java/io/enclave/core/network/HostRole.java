package io.enclave.core.network;

import io.enclave.core.error.EnclaveException;
import java.util.List;

/**
 * What one host does for a tenant whose networks span hosts.
 *
 * @param firewall    this host runs the tenant's firewall (and its dnsmasq)
 * @param peers       underlay IPv4 addresses of the other hosts taking part in the tenant's networks
 *                    (empty: the tenant lives on this host alone, no VXLAN)
 * @param publicPeers underlay IPv4 addresses of all other hosts (the public network spans every host)
 */
public record HostRole(boolean firewall, List<String> peers, List<String> publicPeers) {

    /** The whole tenant on one host: firewall here, no VXLAN. */
    public static final HostRole SINGLE_HOST = new HostRole(true, List.of(), List.of());

    public HostRole {
        peers = checked(peers, "hostRole.peers");
        publicPeers = checked(publicPeers, "hostRole.publicPeers");
    }

    private static List<String> checked(List<String> addresses, String field) {
        List<String> copy = List.copyOf(addresses == null ? List.of() : addresses);
        for (int i = 0; i < copy.size(); i++) {
            if (!Ipv4.isValid(copy.get(i))) {
                throw new EnclaveException.InvalidRequest(field + "[" + i + "]",
                        "must be an IPv4 underlay address (got '" + copy.get(i) + "')");
            }
        }
        if (copy.stream().distinct().count() != copy.size()) {
            throw new EnclaveException.InvalidRequest(field, "lists an address twice: " + copy);
        }
        return copy;
    }
}
