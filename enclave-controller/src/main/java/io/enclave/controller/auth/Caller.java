package io.enclave.controller.auth;

/** Who is making a request, as established from its bearer token. */
public sealed interface Caller {
    String tokenId();

    record Admin(String tokenId) implements Caller {}

    record TenantMember(String tenantId, String tokenId) implements Caller {}

    default boolean isAdmin() {
        return this instanceof Admin;
    }
}
