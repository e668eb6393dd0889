package io.enclave.core.host;

/** The result of a command run inside a guest through its guest agent. */
public record ExecResult(int exitCode, String stdout, String stderr, boolean timedOut) {}
