package io.enclave.controller.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.core.host.MigrationTarget;
import java.lang.reflect.Method;
import org.junit.jupiter.api.Test;

/** The migration target's certificate and token travel from the destination agent to the source agent. */
class AgentWireMigrationTargetTest {
    static final MigrationTarget TARGET = new MigrationTarget("10.96.0.2", 40001, 40002,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "ab".repeat(32));

    @Test
    void prepareIncomingAnswerKeepsCertificateAndToken() {
        Method prepare = AgentWire.method("prepareIncoming");
        assertThat(AgentWire.decodeResult(prepare, AgentWire.encodeResult(TARGET))).isEqualTo(TARGET);
    }

    @Test
    void startMigrationArgumentsKeepCertificateAndToken() {
        Method start = AgentWire.method("startMigration");
        Object[] args = AgentWire.decodeArgs(start, AgentWire.encodeArgs(new Object[] {"vm-1", TARGET, true}));
        assertThat(args[1]).isEqualTo(TARGET);
        assertThat(((MigrationTarget) args[1]).token()).isEqualTo("ab".repeat(32));
        assertThat(TARGET.toString()).doesNotContain("abab");
    }
}
