package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code enclave op …}: asynchronous operations. */
@Command(name = "op", description = "List, show and wait for operations.",
        subcommands = {OperationCommands.ListOperations.class, OperationCommands.Show.class, OperationCommands.Wait.class})
final class OperationCommands {
    private OperationCommands() {}

    @Command(name = "list", description = "Recent operations, newest first.")
    static final class ListOperations implements Callable<Integer> {
        private final Session session;

        @Option(names = "--target", paramLabel = "ID", description = "Only the operations on this VM.") String targetId;
        @Option(names = "--limit", paramLabel = "N", description = "How many (the API's default is 50).") Integer limit;

        ListOperations(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().list(session.api().get("/operations",
                    ApiClient.query("limit", limit, "targetId", targetId)), Views.OPERATIONS);
            return 0;
        }
    }

    @Command(name = "show", description = "Show an operation's status, progress and error.")
    static final class Show implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get(ApiClient.path("operations", id)));
            return 0;
        }
    }

    @Command(name = "wait", description = {"Wait until an operation succeeds or fails, then show it.",
            "Exits with 3 when it failed."})
    static final class Wait implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Mixin WaitOptions wait;

        Wait(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            JsonNode operation = session.api().get(ApiClient.path("operations", id));
            session.printer().show(wait.waiter(session).await(operation));
            return 0;
        }
    }
}
