package io.enclave.core.host;

/** One NIC as QEMU sees it: a persistent TAP (in the VM's network namespace), the guest MAC and MTU. */
public record VmNic(String networkId, String tap, String mac, int mtu) {}
