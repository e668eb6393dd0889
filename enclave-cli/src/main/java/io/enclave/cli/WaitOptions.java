package io.enclave.cli;

import java.time.Duration;
import picocli.CommandLine.Option;

/** {@code --wait} and its timeout, for commands that start an asynchronous operation. */
final class WaitOptions {
    @Option(names = "--wait", description = "Follow the operation until it succeeds or fails, showing progress on stderr.")
    boolean wait;

    @Option(names = "--wait-timeout", paramLabel = "SECONDS", defaultValue = "600",
            description = "Give up waiting after this many seconds (default: ${DEFAULT-VALUE}).")
    long waitTimeoutSeconds;

    @Option(names = "--poll-interval-ms", hidden = true, defaultValue = "250")
    long pollIntervalMillis;

    OperationWaiter waiter(Session session) {
        if (waitTimeoutSeconds < 0) throw CliException.usage("--wait-timeout must not be negative");
        if (pollIntervalMillis < 1) throw CliException.usage("--poll-interval-ms must be at least 1");
        return new OperationWaiter(session.api(), session.progress(), Duration.ofMillis(pollIntervalMillis),
                Duration.ofSeconds(waitTimeoutSeconds));
    }
}
