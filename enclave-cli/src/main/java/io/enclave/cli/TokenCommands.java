package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code enclave token …}: a tenant's API tokens (admin). */
@Command(name = "token", description = "Issue, list and revoke a tenant's API tokens (admin).",
        subcommands = {TokenCommands.Create.class, TokenCommands.ListTokens.class, TokenCommands.Revoke.class})
final class TokenCommands {
    private TokenCommands() {}

    @Command(name = "create", description = "Issue a token; its secret is printed now and never again.")
    static final class Create implements Callable<Integer> {
        private final Session session;

        @Parameters(index = "0", paramLabel = "TENANT_ID") String tenantId;
        @Parameters(index = "1", paramLabel = "NAME") String name;

        Create(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            JsonNode issued = session.api().post(ApiClient.path("tenants", tenantId, "tokens"), Map.of("name", name),
                    (String) null);
            session.printer().show(issued);
            if (!session.printer().json()) session.err.println("note: the secret (token) is shown only this once");
            return 0;
        }
    }

    @Command(name = "list", description = "List a tenant's tokens, without secrets.")
    static final class ListTokens implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "TENANT_ID") String tenantId;

        ListTokens(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().list(session.api().get(ApiClient.path("tenants", tenantId, "tokens")), Views.TOKENS);
            return 0;
        }
    }

    @Command(name = "revoke", description = "Revoke a token.")
    static final class Revoke implements Callable<Integer> {
        private final Session session;

        @Parameters(index = "0", paramLabel = "TENANT_ID") String tenantId;
        @Parameters(index = "1", paramLabel = "TOKEN_ID") String tokenId;

        Revoke(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.api().delete(ApiClient.path("tenants", tenantId, "tokens", tokenId), null);
            session.printer().note("token " + tokenId + " revoked");
            return 0;
        }
    }
}
