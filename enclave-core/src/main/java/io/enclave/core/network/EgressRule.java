package io.enclave.core.network;

/**
 * Allows VMs to open connections to {@code destinationCidr}. With no egress rules everything outbound is
 * allowed; with at least one, only what a rule allows.
 */
public record EgressRule(String id, Protocol protocol, Integer portFrom, Integer portTo, String destinationCidr) {}
