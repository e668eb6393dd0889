package io.enclave.agent.exec;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs host commands as child processes, logging each with its duration and outcome. */
public final class ProcessCommandRunner implements CommandRunner {
    private static final Logger log = LoggerFactory.getLogger(ProcessCommandRunner.class);

    @Override
    public CommandResult run(List<String> command, Duration timeout) {
        long start = System.nanoTime();
        Process process;
        try {
            process = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new CommandFailedException("cannot start command: " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
        CompletableFuture<String> out = drain(process.getInputStream());
        CompletableFuture<String> err = drain(process.getErrorStream());
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new CommandFailedException("command timed out after " + timeout.toSeconds() + " s: "
                        + String.join(" ", command), null);
            }
            CommandResult result = new CommandResult(List.copyOf(command), process.exitValue(), out.join(), err.join());
            long ms = (System.nanoTime() - start) / 1_000_000;
            if (result.ok()) {
                log.debug("ran in {} ms: {}", ms, String.join(" ", command));
            } else {
                log.info("exit {} in {} ms: {} stderr: {}", result.exitCode(), ms, String.join(" ", command),
                        result.stderr().strip());
            }
            return result;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CommandFailedException("interrupted while running " + String.join(" ", command), e);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }, Thread::startVirtualThread);
    }
}
