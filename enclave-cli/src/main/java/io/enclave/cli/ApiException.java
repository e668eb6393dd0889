package io.enclave.cli;

import java.util.List;

/** A non-2xx answer of the API, with what its error body said. */
final class ApiException extends CliException {
    private static final long serialVersionUID = 1L;

    /** One invalid field named by the API. */
    record FieldError(String field, String reason) {}

    private final int status;
    private final String code;
    private final transient List<FieldError> fields;

    ApiException(int status, String code, String message, List<FieldError> fields) {
        super(FAILURE, message);
        this.status = status;
        this.code = code;
        this.fields = List.copyOf(fields);
    }

    int status() {
        return status;
    }

    /** The API's error code such as {@code not_found}, or null when the body had none. */
    String code() {
        return code;
    }

    List<FieldError> fields() {
        return fields;
    }

    /** Server-side or gateway trouble that may pass: 5xx. */
    boolean isServerError() {
        return status >= 500;
    }

    @Override
    List<String> details() {
        return fields.stream().map(f -> "  " + f.field() + ": " + f.reason()).toList();
    }
}
