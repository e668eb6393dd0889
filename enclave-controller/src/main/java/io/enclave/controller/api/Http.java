package io.enclave.controller.api;

import io.enclave.core.error.EnclaveException;
import io.javalin.http.Context;

/** Small helpers for reading requests and writing JSON responses. */
final class Http {
    private Http() {}

    static void json(Context ctx, int status, Object body) {
        ctx.status(status).contentType("application/json").result(Json.write(body));
    }

    static <T> T body(Context ctx, Class<T> type) {
        return Json.read(ctx.bodyAsBytes(), type);
    }

    /** An optional body: absent or empty means the defaults. */
    static <T> T optionalBody(Context ctx, Class<T> type, T defaults) {
        byte[] bytes = ctx.bodyAsBytes();
        return bytes.length == 0 ? defaults : Json.read(bytes, type);
    }

    static int intParam(Context ctx, String name, int defaultValue, int min, int max) {
        String raw = ctx.queryParam(name);
        if (raw == null) return defaultValue;
        try {
            int value = Integer.parseInt(raw);
            if (value < min || value > max) throw new NumberFormatException();
            return value;
        } catch (NumberFormatException e) {
            throw new EnclaveException.InvalidRequest(name, "must be an integer between " + min + " and " + max + ", got '" + raw + "'");
        }
    }

    static String idempotencyKey(Context ctx) {
        String key = ctx.header("Idempotency-Key");
        if (key != null && (key.isBlank() || key.length() > 255)) {
            throw new EnclaveException.InvalidRequest("Idempotency-Key", "must be 1 to 255 characters");
        }
        return key;
    }
}
