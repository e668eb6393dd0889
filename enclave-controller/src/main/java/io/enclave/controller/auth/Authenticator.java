package io.enclave.controller.auth;

import io.enclave.controller.persistence.TokenRepository;
import io.enclave.core.error.EnclaveException;
import org.jdbi.v3.core.Jdbi;

/** Turns an Authorization header into a {@link Caller}, or refuses it (401). */
public final class Authenticator {
    private final Jdbi jdbi;
    private final TokenRepository tokens;

    public Authenticator(Jdbi jdbi, TokenRepository tokens) {
        this.jdbi = jdbi;
        this.tokens = tokens;
    }

    public Caller authenticate(String authorizationHeader) {
        if (authorizationHeader == null || authorizationHeader.isBlank()) {
            throw new EnclaveException.Unauthorized("missing Authorization header: send 'Authorization: Bearer <token>'");
        }
        if (!authorizationHeader.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new EnclaveException.Unauthorized("Authorization header must be 'Bearer <token>'");
        }
        String hash = Tokens.hash(authorizationHeader.substring(7).strip());
        return jdbi.withHandle(h -> tokens.findByHash(h, hash))
                .orElseThrow(() -> new EnclaveException.Unauthorized("invalid or revoked token"));
    }

    public static void requireAdmin(Caller caller) {
        if (!caller.isAdmin()) throw new EnclaveException.Forbidden("this endpoint is for administrators only");
    }
}
