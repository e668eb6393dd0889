package io.enclave.cli;

/** A failure the CLI reports as {@code error: <message>} on stderr, ending with its exit code. */
class CliException extends RuntimeException {
    static final int FAILURE = 1;
    static final int USAGE = 2;
    static final int OPERATION_FAILED = 3;

    private static final long serialVersionUID = 1L;

    private final int exitCode;

    CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    CliException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }

    /** Lines printed after the message, each already indented. */
    java.util.List<String> details() {
        return java.util.List.of();
    }

    static CliException usage(String message) {
        return new CliException(USAGE, message);
    }
}
