package io.enclave.core.network;

/**
 * {@code protocol} traffic to the tenant's public address on {@code publicPort} goes to the VM's NIC on
 * {@code networkId} at {@code targetPort}; only from {@code sourceCidr} (all when null).
 */
public record PortForward(String id, Protocol protocol, int publicPort, String vmId, String networkId, int targetPort,
        String sourceCidr) {}
