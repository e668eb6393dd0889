package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;

/** What a command that started an operation prints: the operation, or with --wait the outcome. */
final class Follow {
    private Follow() {}

    /**
     * Without --wait prints {@code accepted} (the API's answer). With --wait follows {@code operation} and
     * prints the VM it changed, or the finished operation when the VM was deleted.
     */
    static int vmOperation(Session session, JsonNode accepted, JsonNode operation, WaitOptions wait) {
        Printer printer = session.printer();
        if (!wait.wait) {
            printer.show(accepted, "nics", Views.NICS);
            return 0;
        }
        JsonNode done = wait.waiter(session).await(operation);
        if ("delete_vm".equals(Json.text(done, "kind"))) {
            printer.show(done);
        } else {
            printer.show(session.api().get(ApiClient.path("vms", Json.text(done, "targetId"))), "nics", Views.NICS);
        }
        return 0;
    }
}
