package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintStream;

/**
 * Shows an operation's progress on stderr each time it changes: one line per change, or one line
 * redrawn in place when stderr is a terminal.
 */
final class ProgressReporter {
    private final PrintStream err;
    private final boolean terminal;
    private String last;
    private boolean lineOpen;

    ProgressReporter(PrintStream err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    /** {@code [ 60%] running: booting guest}. */
    static String line(JsonNode operation) {
        String message = Json.text(operation, "message");
        String error = Json.text(operation, "error");
        String detail = error != null ? error : message;
        return String.format("[%3d%%] %s%s", operation.path("progress").asInt(), operation.path("status").asText("?"),
                detail == null || detail.isBlank() ? "" : ": " + detail);
    }

    void report(JsonNode operation) {
        String line = line(operation);
        if (line.equals(last)) return;
        last = line;
        if (terminal) {
            err.print("\r\033[K" + line);
            lineOpen = true;
        } else {
            err.println(line);
        }
        err.flush();
    }

    /** A remark such as a failed poll, on its own line. */
    void note(String text) {
        endLine();
        err.println(text);
        err.flush();
    }

    /** Ends the redrawn line so that what follows starts on a fresh one. */
    void finish() {
        endLine();
        err.flush();
    }

    private void endLine() {
        if (lineOpen) {
            err.println();
            lineOpen = false;
        }
    }
}
