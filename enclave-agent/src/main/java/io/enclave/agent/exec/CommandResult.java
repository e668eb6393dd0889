package io.enclave.agent.exec;

import java.util.List;

public record CommandResult(List<String> command, int exitCode, String stdout, String stderr) {
    public boolean ok() {
        return exitCode == 0;
    }
}
