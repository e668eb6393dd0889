package io.enclave.controller.reconcile;

import java.time.Duration;

/** What a reconcile pass asks for next. */
public sealed interface Result {
    record Done() implements Result {}

    record RequeueAfter(Duration delay) implements Result {}

    Result DONE = new Done();

    static Result requeueAfter(Duration delay) {
        return new RequeueAfter(delay);
    }
}
