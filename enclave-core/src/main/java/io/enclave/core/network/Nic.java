package io.enclave.core.network;

/** A VM's interface on one tenant network, with its fixed MAC and address (a static DHCP lease). */
public record Nic(String vmId, String networkId, String mac, String ip, String hostname) {}
