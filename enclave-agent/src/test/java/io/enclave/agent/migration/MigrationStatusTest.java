package io.enclave.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.core.host.MigrationProgress;
import org.junit.jupiter.api.Test;

class MigrationStatusTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void mapsQemuStatuses() throws Exception {
        assertThat(MigrationStatus.fromQueryMigrate(JSON.readTree(
                "{\"status\":\"completed\",\"total-time\":1200,\"downtime\":12,\"ram\":{\"transferred\":100,\"remaining\":0}}")))
                .isEqualTo(new MigrationProgress("completed", 1200, 12, 100, 0, null));
        assertThat(MigrationStatus.fromQueryMigrate(JSON.readTree(
                "{\"status\":\"active\",\"total-time\":300,\"ram\":{\"transferred\":10,\"remaining\":90}}")).status())
                .isEqualTo("active");
        assertThat(MigrationStatus.fromQueryMigrate(JSON.readTree("{\"status\":\"failed\",\"error-desc\":\"boom\"}")))
                .extracting(MigrationProgress::status, MigrationProgress::error).containsExactly("failed", "boom");
        assertThat(MigrationStatus.status("cancelling")).isEqualTo("active");
        assertThat(MigrationStatus.status("cancelled")).isEqualTo("cancelled");
    }

    @Test
    void anIncomingCompletedIsNotTheOutgoingOnesEnd() throws Exception {
        // what a QEMU that came in by migration answers before its own outgoing migration has connected
        assertThat(MigrationStatus.fromQueryMigrate(JSON.readTree("{\"status\":\"completed\"}")).status()).isEqualTo("active");
    }

    @Test
    void aCompletedWhoseTimesAreNotFilledInYetIsNotTheEnd() throws Exception {
        // QEMU 7.2 sets "completed" a moment before it computes total-time and downtime (seen once in a full run)
        assertThat(MigrationStatus.fromQueryMigrate(JSON.readTree(
                "{\"status\":\"completed\",\"total-time\":0,\"downtime\":0,\"ram\":{\"transferred\":109296124}}")).status())
                .isEqualTo("active");
    }
}
