package io.enclave.controller.api;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Maps every failure to one HTTP status and a JSON body that says what is wrong. */
final class ErrorResponses {
    private static final Logger log = LoggerFactory.getLogger(ErrorResponses.class);

    record ErrorBody(int status, String code, String message, List<FieldError> fields) {}

    private ErrorResponses() {}

    static void handle(Exception e, Context ctx) {
        ErrorBody body = switch (e) {
            case EnclaveException.InvalidRequest ir -> new ErrorBody(400, "invalid_request", ir.getMessage(), ir.fields());
            case EnclaveException.Unauthorized u -> new ErrorBody(401, "unauthorized", u.getMessage(), List.of());
            case EnclaveException.Forbidden f -> new ErrorBody(403, "forbidden", f.getMessage(), List.of());
            case EnclaveException.NotFound nf -> new ErrorBody(404, "not_found", nf.getMessage(), List.of());
            case EnclaveException.Conflict c -> new ErrorBody(409, "conflict", c.getMessage(), List.of());
            case EnclaveException.QuotaExceeded q -> new ErrorBody(422, "quota_exceeded", q.getMessage(), q.fields());
            case EnclaveException.Unavailable u -> new ErrorBody(503, "unavailable", u.getMessage(), List.of());
            case HttpResponseException h when h.getStatus() == 404 ->
                    new ErrorBody(404, "not_found", "no endpoint " + ctx.method() + " " + ctx.path(), List.of());
            case HttpResponseException h -> new ErrorBody(h.getStatus(), "http_" + h.getStatus(), h.getMessage(), List.of());
            default -> {
                log.error("{} {} failed: {}", ctx.method(), ctx.path(), e.getMessage(), e);
                yield new ErrorBody(500, "internal_error", String.valueOf(e.getMessage()), List.of());
            }
        };
        if (body.status() == 401) ctx.header("WWW-Authenticate", "Bearer");
        send(ctx, body);
    }

    private static void send(Context ctx, ErrorBody body) {
        ctx.status(body.status()).contentType("application/json").result(Json.write(Map.of("error", body)));
    }
}
