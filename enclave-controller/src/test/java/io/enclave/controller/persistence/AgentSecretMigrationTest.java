package io.enclave.controller.persistence;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * V9 on a database that V8 left with agents' secrets in clear: each secret becomes its SHA-256, the clear
 * column is gone, the in-process host (no secret) keeps none, and nothing else of the row changes.
 */
class AgentSecretMigrationTest {

    @ParameterizedTest
    @MethodSource("io.enclave.controller.persistence.TestDatabases#kinds")
    void v9HashesTheSecretsOfExistingHostsAndDropsTheClearColumn(String kind) throws Exception {
        Path h2Dir = null;
        String url;
        if (kind.equals("h2")) {
            h2Dir = Files.createTempDirectory("enclave-v9");
            url = Database.h2Url(h2Dir);
        } else {
            String pg = System.getenv("ENCLAVE_TEST_PG_URL");
            Assumptions.assumeTrue(pg != null && !pg.isBlank(), "no PostgreSQL (ENCLAVE_TEST_PG_URL) for this run");
            String schema = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            try (Connection c = DriverManager.getConnection(pg)) {
                c.createStatement().execute("CREATE SCHEMA " + schema);
            }
            url = pg + (pg.contains("?") ? "&" : "?") + "currentSchema=" + schema;
        }
        String secret = "0123456789abcdef".repeat(4);
        Flyway.configure().dataSource(url, null, null).locations("classpath:db/migration").target("8").load().migrate();
        try (Connection c = DriverManager.getConnection(url)) {
            var insert = c.prepareStatement("""
                    INSERT INTO hosts (id, name, cpus, memory_mib, accelerator, status, heartbeat_at, agent_url, agent_secret,
                      underlay_address) VALUES (?, ?, 4, 4096, 'tcg', 'up', ?, ?, ?, ?)""");
            for (Object[] row : List.of(new Object[] {"host-remote1", "remote", "http://10.0.0.2:8471", secret, "10.0.0.2"},
                    new Object[] {"host-local1", "local", null, null, null})) {
                insert.setString(1, (String) row[0]);
                insert.setString(2, (String) row[1]);
                insert.setObject(3, java.sql.Timestamp.from(Instant.parse("2026-01-01T00:00:00Z")));
                insert.setString(4, (String) row[2]);
                insert.setString(5, (String) row[3]);
                insert.setString(6, (String) row[4]);
                insert.executeUpdate();
            }
        }

        Database db = Database.open(url, null, null);
        try {
            List<Map<String, Object>> rows = db.jdbi().withHandle(h -> h.createQuery("SELECT * FROM hosts ORDER BY id")
                    .mapToMap().list());
            assertThat(rows).hasSize(2);
            Map<String, Object> local = upper(rows.get(0));
            Map<String, Object> remote = upper(rows.get(1));
            assertThat(remote).doesNotContainKey("AGENT_SECRET").containsKeys("AGENT_SECRET_SHA256", "AGENT_CERTIFICATE");
            assertThat(remote.get("AGENT_SECRET_SHA256")).isEqualTo(HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8))));
            assertThat(remote.values()).noneMatch(v -> v != null && v.toString().contains(secret));
            assertThat(remote.get("AGENT_CERTIFICATE")).isNull();
            assertThat(remote.get("AGENT_URL")).isEqualTo("http://10.0.0.2:8471");
            assertThat(remote.get("UNDERLAY_ADDRESS")).isEqualTo("10.0.0.2");
            assertThat(local.get("AGENT_SECRET_SHA256")).isNull();
            // And the repository reads the migrated rows.
            var host = db.jdbi().withHandle(h -> new HostRepository().find(h, "host-remote1")).orElseThrow();
            assertThat(host.agentSecretSha256()).isEqualTo(remote.get("AGENT_SECRET_SHA256"));
            assertThat(host.agentCertificate()).isNull();
        } finally {
            db.close();
            if (h2Dir != null) {
                try (var walk = Files.walk(h2Dir)) {
                    for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
                }
            }
        }
    }

    private static Map<String, Object> upper(Map<String, Object> row) {
        Map<String, Object> m = new java.util.HashMap<>();
        row.forEach((k, v) -> m.put(k.toUpperCase(java.util.Locale.ROOT), v));
        return m;
    }
}
