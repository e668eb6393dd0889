package io.enclave.agent.qemu;

/** QMP or the guest agent answered with an error, or could not be reached. */
public final class QmpException extends RuntimeException {
    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}
