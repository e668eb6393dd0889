package io.enclave.core.network;

/** A public address that belongs to one VM NIC: inbound traffic to it goes to the VM (as far as ingress rules allow), and the VM's outbound traffic leaves from it. */
public record OneToOneNat(String id, String publicIp, String vmId, String networkId) {}
