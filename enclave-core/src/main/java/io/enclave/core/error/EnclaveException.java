package io.enclave.core.error;

import java.util.List;

/**
 * Every failure a caller can cause. Each kind maps to one HTTP status at the API edge; the message
 * always says what is wrong and with which resource.
 */
public sealed class EnclaveException extends RuntimeException {

    private EnclaveException(String message) {
        super(message);
    }

    /** One or more fields of a request are invalid (400). */
    public static final class InvalidRequest extends EnclaveException {
        private final List<FieldError> fields;

        public InvalidRequest(List<FieldError> fields) {
            super(summary(fields));
            this.fields = List.copyOf(fields);
        }

        public InvalidRequest(String field, String reason) {
            this(List.of(new FieldError(field, reason)));
        }

        public List<FieldError> fields() {
            return fields;
        }

        private static String summary(List<FieldError> fields) {
            StringBuilder sb = new StringBuilder("invalid request: ");
            for (int i = 0; i < fields.size(); i++) {
                if (i > 0) sb.append("; ");
                sb.append(fields.get(i).field()).append(": ").append(fields.get(i).reason());
            }
            return sb.toString();
        }
    }

    /** The request is well formed but would exceed the tenant's quota (422). */
    public static final class QuotaExceeded extends EnclaveException {
        private final List<FieldError> fields;

        public QuotaExceeded(List<FieldError> fields) {
            super("quota exceeded: " + String.join("; ", fields.stream().map(f -> f.field() + ": " + f.reason()).toList()));
            this.fields = List.copyOf(fields);
        }

        public List<FieldError> fields() {
            return fields;
        }
    }

    /** The resource does not exist, or is not visible to the caller (404). */
    public static final class NotFound extends EnclaveException {
        public NotFound(String kind, String id) {
            super(kind + " '" + id + "' not found");
        }

        /** The same failure reported elsewhere (by a host agent), with its message as is. */
        public NotFound(String message) {
            super(message);
        }
    }

    /** The request conflicts with the current state of a resource (409). */
    public static final class Conflict extends EnclaveException {
        public Conflict(String message) {
            super(message);
        }
    }

    /** A needed component (a host, a guest agent) did not answer in time (503). */
    public static final class Unavailable extends EnclaveException {
        public Unavailable(String message) {
            super(message);
        }
    }

    /** No or a bad credential (401). */
    public static final class Unauthorized extends EnclaveException {
        public Unauthorized(String message) {
            super(message);
        }
    }

    /** A valid credential without the right to do this (403). */
    public static final class Forbidden extends EnclaveException {
        public Forbidden(String message) {
            super(message);
        }
    }
}
