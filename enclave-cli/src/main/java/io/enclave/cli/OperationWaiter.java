package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/**
 * Polls {@code GET /v1/operations/{id}} until the operation succeeds or fails, reporting progress.
 * Failed polls that may pass (connection trouble, 5xx) are retried until the deadline.
 */
final class OperationWaiter {
    private final ApiClient api;
    private final ProgressReporter progress;
    private final Duration interval;
    private final Duration timeout;

    OperationWaiter(ApiClient api, ProgressReporter progress, Duration interval, Duration timeout) {
        this.api = api;
        this.progress = progress;
        this.interval = interval;
        this.timeout = timeout;
    }

    static boolean finished(JsonNode operation) {
        String status = Json.text(operation, "status");
        return "succeeded".equals(status) || "failed".equals(status);
    }

    /**
     * The operation once it has succeeded.
     *
     * @throws CliException with exit code 3 when it failed, 1 when the timeout passed first
     */
    JsonNode await(JsonNode operation) {
        String id = Json.text(operation, "id");
        if (id == null) throw new CliException(CliException.FAILURE, "the API answered without an operation id");
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode current = operation;
        String lastTrouble = null;
        progress.report(current);
        try {
            while (!finished(current)) {
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) throw timedOut(current, lastTrouble);
                sleep(Math.min(interval.toNanos(), remaining));
                try {
                    current = api.get(ApiClient.path("operations", id));
                    lastTrouble = null;
                } catch (ConnectionException e) {
                    lastTrouble = retrying(lastTrouble, e.getMessage());
                } catch (ApiException e) {
                    if (!e.isServerError()) throw e;
                    lastTrouble = retrying(lastTrouble, e.getMessage());
                }
                progress.report(current);
            }
        } finally {
            progress.finish();
        }
        if ("failed".equals(Json.text(current, "status"))) throw failed(current);
        return current;
    }

    private String retrying(String lastTrouble, String trouble) {
        if (lastTrouble == null) progress.note("polling failed, retrying: " + trouble);
        return trouble;
    }

    private CliException timedOut(JsonNode operation, String trouble) {
        String id = Json.text(operation, "id");
        return new CliException(CliException.FAILURE, "gave up waiting for operation " + id + " after "
                + timeout.toSeconds() + "s; it is still " + Json.text(operation, "status") + " ("
                + operation.path("progress").asInt() + "%)" + (trouble == null ? "" : "; last poll: " + trouble)
                + ". Follow it with: enclave op wait " + id);
    }

    static CliException failed(JsonNode operation) {
        String error = Json.text(operation, "error");
        if (error == null) error = Json.text(operation, "message");
        return new CliException(CliException.OPERATION_FAILED, "operation " + Json.text(operation, "id") + " ("
                + Json.text(operation, "kind") + " of " + Json.text(operation, "targetId") + ") failed"
                + (error == null ? "" : ": " + error));
    }

    private static void sleep(long nanos) {
        try {
            Thread.sleep(Duration.ofNanos(nanos));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(CliException.FAILURE, "interrupted while waiting");
        }
    }
}
