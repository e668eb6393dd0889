package io.enclave.agent.network;

import io.enclave.core.host.VmNic;

/** A VM NIC's place on the host: QEMU runs in {@code netns} and opens the TAP {@code nic.tap()} there. */
public record NicAttachment(String tenantId, String netns, VmNic nic) {}
