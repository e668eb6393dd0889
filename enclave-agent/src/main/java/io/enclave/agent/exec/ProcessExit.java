package io.enclave.agent.exec;

import java.time.Duration;

/**
 * Waiting for a process to end. {@link ProcessHandle#onExit()} on a process that is not this JVM's child
 * (a daemonised dnsmasq, a QEMU adopted after an agent restart) polls with growing sleeps and returns
 * seconds late; this polls every few milliseconds.
 */
public final class ProcessExit {
    private ProcessExit() {}

    /** @return true once {@code process} has ended, false if it is still alive after {@code timeout} */
    public static boolean await(ProcessHandle process, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (process.isAlive()) {
            if (System.nanoTime() >= deadline) return false;
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !process.isAlive();
            }
        }
        return true;
    }
}
