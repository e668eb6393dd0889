package io.enclave.agent.exec;

import java.time.Duration;

/** A sleep in a polling loop: an interrupt ends it with an exception (the interrupt flag kept), never silently. */
public final class Pause {
    private Pause() {}

    public static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
