package io.enclave.core.network;

/**
 * Allows new connections from {@code sourceCidr} to the tenant's 1:1 public addresses ({@code publicIp},
 * or all of them when null) on {@code protocol} and, for TCP/UDP, ports {@code portFrom}-{@code portTo}.
 * Port forwards open themselves; these rules open 1:1 addresses.
 */
public record IngressRule(String id, Protocol protocol, Integer portFrom, Integer portTo, String sourceCidr,
        String publicIp) {}
