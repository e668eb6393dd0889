package io.enclave.controller.api;

import io.enclave.controller.auth.Caller;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;

/** One endpoint of the public API: method, path, who may call it, and what it does. */
public record Route(HandlerType method, String path, Access access, Handler handler) {

    public enum Access { PUBLIC, ANY_TOKEN, ADMIN }

    @FunctionalInterface
    public interface Handler {
        /** {@code caller} is null on public endpoints. */
        void handle(Context ctx, Caller caller) throws Exception;
    }
}
