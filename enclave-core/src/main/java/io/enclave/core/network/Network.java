package io.enclave.core.network;

/**
 * One private network of a tenant: a bridge on every host that has a VM on it (and, later, a VXLAN
 * segment {@code vni} joining those bridges). The gateway is the firewall's port-1 leg on this network.
 */
public record Network(String id, String name, String cidr, String gateway, int mtu, Integer vni) {
    /** Leaves room for a VXLAN header on a 1500-byte underlay. */
    public static final int DEFAULT_MTU = 1450;

    /** A network with the first host address as gateway and the default MTU. */
    public static Network of(String id, String name, String cidr) {
        return new Network(id, name, cidr, IpAllocator.firstHost(Cidr.parse(cidr)), DEFAULT_MTU, null);
    }

    public Cidr parsedCidr() {
        return Cidr.parse(cidr);
    }
}
