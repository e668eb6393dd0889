package io.enclave.agent.exec;

import java.time.Duration;
import java.util.List;

/**
 * The one way the agent runs host commands (qemu-img, qemu-system, ip, nft …). Arguments are passed as
 * a vector, never through a shell, so user input cannot become shell syntax.
 */
public interface CommandRunner {

    /** Runs the command and returns whatever happened. */
    CommandResult run(List<String> command, Duration timeout);

    /** Runs the command and throws {@link CommandFailedException} (command + stderr) unless it exits 0. */
    default CommandResult runChecked(List<String> command, Duration timeout) {
        CommandResult result = run(command, timeout);
        if (!result.ok()) throw new CommandFailedException(result);
        return result;
    }

    default CommandResult runChecked(String... command) {
        return runChecked(List.of(command), Duration.ofMinutes(2));
    }
}
