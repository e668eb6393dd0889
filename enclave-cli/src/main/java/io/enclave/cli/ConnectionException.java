package io.enclave.cli;

/** The API could not be reached or did not answer: worth retrying while waiting for an operation. */
final class ConnectionException extends CliException {
    private static final long serialVersionUID = 1L;

    ConnectionException(String message, Throwable cause) {
        super(FAILURE, message, cause);
    }
}
