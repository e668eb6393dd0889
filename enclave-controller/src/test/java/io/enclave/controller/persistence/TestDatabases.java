package io.enclave.controller.persistence;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * The databases the persistence tests run against: embedded H2 in a temp directory, and the local
 * PostgreSQL server that scripts/test.sh starts (ENCLAVE_TEST_PG_URL). Each test gets a fresh schema.
 */
public final class TestDatabases {
    private static final java.util.Map<Database, java.nio.file.Path> H2_DIRS = new java.util.concurrent.ConcurrentHashMap<>();

    private TestDatabases() {}

    /** Closes the database and removes what the test made of it. */
    public static void close(Database db) throws Exception {
        db.close();
        java.nio.file.Path dir = H2_DIRS.remove(db);
        if (dir != null) {
            try (var walk = Files.walk(dir)) {
                for (java.nio.file.Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    public static Stream<String> kinds() {
        return Stream.of("h2", "postgresql");
    }

    /** A fresh, migrated database of the given kind; close it to drop it. */
    public static Database open(String kind) throws Exception {
        return switch (kind) {
            case "h2" -> {
                java.nio.file.Path dir = Files.createTempDirectory("enclave-h2");
                Database db = Database.open(Database.h2Url(dir), null, null);
                H2_DIRS.put(db, dir);
                yield db;
            }
            case "postgresql" -> {
                String url = System.getenv("ENCLAVE_TEST_PG_URL");
                if (url == null || url.isBlank()) {
                    Assumptions.assumeTrue("1".equals(System.getenv("ENCLAVE_SKIP_POSTGRES")) == false,
                            "PostgreSQL tests skipped on purpose (ENCLAVE_SKIP_POSTGRES=1)");
                    throw new IllegalStateException("ENCLAVE_TEST_PG_URL is not set: run the tests with scripts/test.sh, "
                            + "which starts a local PostgreSQL (or set ENCLAVE_SKIP_POSTGRES=1 to skip them knowingly)");
                }
                String schema = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
                try (Connection c = DriverManager.getConnection(url)) {
                    c.createStatement().execute("CREATE SCHEMA " + schema);
                }
                yield Database.open(url + (url.contains("?") ? "&" : "?") + "currentSchema=" + schema, null, null);
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

}
