package io.enclave.core.error;

/** One rejected input field: which one and why, in words a user can act on. */
public record FieldError(String field, String reason) {}
