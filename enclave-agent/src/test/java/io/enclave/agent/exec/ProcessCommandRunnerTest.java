package io.enclave.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessCommandRunnerTest {
    final ProcessCommandRunner runner = new ProcessCommandRunner();

    @Test
    void returnsOutputAndExitCode() {
        CommandResult r = runner.run(List.of("sh", "-c", "echo out; echo err >&2; exit 3"), Duration.ofSeconds(10));
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stdout()).isEqualTo("out\n");
        assertThat(r.stderr()).isEqualTo("err\n");
    }

    @Test
    void checkedFailureNamesTheCommandAndItsStderr() {
        assertThatThrownBy(() -> runner.runChecked("qemu-img", "info", "/nonexistent/disk.qcow2"))
                .isInstanceOf(CommandFailedException.class)
                .hasMessageContaining("qemu-img info /nonexistent/disk.qcow2")
                .hasMessageContaining("stderr:")
                .hasMessageContaining("No such file");
    }

    @Test
    void argumentsAreNeverInterpretedByAShell() {
        CommandResult r = runner.runChecked(List.of("echo", "$(id); rm -rf /tmp/x"), Duration.ofSeconds(10));
        assertThat(r.stdout()).isEqualTo("$(id); rm -rf /tmp/x\n");
    }

    @Test
    void aHungCommandTimesOut() {
        assertThatThrownBy(() -> runner.run(List.of("sleep", "30"), Duration.ofMillis(300)))
                .isInstanceOf(CommandFailedException.class).hasMessageContaining("timed out");
    }

    @Test
    void aMissingProgramIsReportedWithItsName() {
        assertThatThrownBy(() -> runner.run(List.of("no-such-program-xyz"), Duration.ofSeconds(5)))
                .isInstanceOf(CommandFailedException.class).hasMessageContaining("no-such-program-xyz");
    }
}
