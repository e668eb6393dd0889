package db.migration;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.flywaydb.core.api.migration.BaseJavaMigration;
import org.flywaydb.core.api.migration.Context;

/**
 * Agents behind TLS: a host row keeps the agent's certificate (PEM, pinned by the controller when it calls the
 * agent) and only the SHA-256 (hex) of the agent's heartbeat secret. Existing secrets are hashed here and the
 * clear column is dropped. In Java, not SQL: H2 and PostgreSQL spell SHA-256 differently. Hosts migrated from
 * V8 have no certificate yet; they are called again once their (upgraded) agent rejoins with its secret.
 */
public class V9__agent_tls extends BaseJavaMigration {

    @Override
    public void migrate(Context context) throws Exception {
        Connection c = context.getConnection();
        try (Statement s = c.createStatement()) {
            s.execute("ALTER TABLE hosts ADD COLUMN agent_certificate VARCHAR(8192)");
            s.execute("ALTER TABLE hosts ADD COLUMN agent_secret_sha256 VARCHAR(64)");
        }
        Map<String, String> secrets = new LinkedHashMap<>();
        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT id, agent_secret FROM hosts WHERE agent_secret IS NOT NULL")) {
            while (rs.next()) secrets.put(rs.getString(1), rs.getString(2));
        }
        try (PreparedStatement update = c.prepareStatement("UPDATE hosts SET agent_secret_sha256 = ? WHERE id = ?")) {
            for (Map.Entry<String, String> e : secrets.entrySet()) {
                update.setString(1, sha256Hex(e.getValue()));
                update.setString(2, e.getKey());
                update.executeUpdate();
            }
        }
        try (Statement s = c.createStatement()) {
            s.execute("ALTER TABLE hosts DROP COLUMN agent_secret");
        }
    }

    /** The same hash HostService computes of a presented secret. */
    static String sha256Hex(String secret) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    }
}
