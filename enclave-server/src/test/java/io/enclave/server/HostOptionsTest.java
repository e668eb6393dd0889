package io.enclave.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.agent.migration.MigrationPortRange;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The agent's --migration-ports as the command line gives it. */
class HostOptionsTest {

    static HostOptions parse(String... args) {
        HostOptions options = new HostOptions();
        new CommandLine(options).parseArgs(args);
        return options;
    }

    @Test
    void migrationPortsDefaultOutsideTheEphemeralRangeAndCanBeChosen() {
        assertThat(parse().migrationPortRange()).isEqualTo(new MigrationPortRange(61000, 61999));
        assertThat(parse("--migration-ports", "62000-62009").migrationPortRange()).isEqualTo(new MigrationPortRange(62000, 62009));
    }

    @Test
    void aBadRangeIsAUsageErrorNamingTheOption() {
        assertThatThrownBy(() -> parse("--migration-ports", "62000").migrationPortRange())
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessage("--migration-ports: expected FIRST-LAST, e.g. 61000-61999, got '62000'");
        assertThatThrownBy(() -> parse("--migration-ports", "62009-62000").migrationPortRange())
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessage("--migration-ports: ports FIRST-LAST need 1 ≤ FIRST ≤ LAST ≤ 65535, got 62009-62000");
    }
}
