package io.enclave.agent.exec;

/** A host command failed; the message carries the command line, exit code and stderr. */
public final class CommandFailedException extends RuntimeException {
    private final CommandResult result;

    public CommandFailedException(CommandResult result) {
        super("command failed (exit " + result.exitCode() + "): " + String.join(" ", result.command())
                + (result.stderr().isBlank() ? "" : "\nstderr: " + result.stderr().strip()));
        this.result = result;
    }

    public CommandFailedException(String message, Throwable cause) {
        super(message, cause);
        this.result = null;
    }

    public CommandResult result() {
        return result;
    }
}
