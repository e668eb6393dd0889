package io.enclave.agent.network;

import io.enclave.core.network.Ipv4;

/**
 * Where this host's underlay (the network between hosts that carries VXLAN) lives.
 *
 * @param namespace    the namespace VXLAN devices are created from; null = the agent's own namespace
 *                     (production). Tests pass a namespace they created, to simulate hosts in one JVM.
 * @param localAddress this host's underlay IPv4 address (the VXLAN source address)
 * @param port         the VXLAN UDP port (4789 is the IANA one)
 */
public record Underlay(String namespace, String localAddress, int port) {

    public static final int VXLAN_PORT = 4789;

    public Underlay {
        if (namespace != null && !namespace.matches("[a-zA-Z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("bad underlay namespace " + namespace);
        }
        if (!Ipv4.isValid(localAddress)) throw new IllegalArgumentException("underlay address must be IPv4, got " + localAddress);
        if (port < 1 || port > 65535) throw new IllegalArgumentException("bad VXLAN port " + port);
    }
}
