package io.enclave.core.network;

/**
 * Hits of one firewall rule: packets and bytes that opened a connection through it (later packets of the
 * connection pass as established and are not counted). {@code ruleId} is a rule's id or one of the
 * built-in counters {@code default:ingress-drop}, {@code default:egress-drop}, {@code default:egress-allow},
 * {@code default:input-drop}.
 */
public record RuleCounter(String ruleId, long packets, long bytes) {}
