package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;

/** Short human forms of sizes and times for tables. */
final class Units {
    private static final String[] BINARY = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

    private Units() {}

    /** A byte count in the largest binary unit that keeps it at least 1, with one decimal when not whole. */
    static String bytes(long bytes) {
        if (bytes < 1024) return bytes + "B";
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < BINARY.length - 1) {
            value /= 1024;
            unit++;
        }
        String number = value == Math.rint(value) ? String.valueOf((long) value) : String.format(java.util.Locale.ROOT, "%.1f", value);
        return number + BINARY[unit];
    }

    /** A timestamp to the second, {@code 2025-01-02T03:04:05Z}; text that is not a timestamp is kept. */
    static String time(String iso) {
        if (iso == null) return null;
        try {
            return Instant.parse(iso).truncatedTo(ChronoUnit.SECONDS).toString();
        } catch (DateTimeParseException e) {
            return iso;
        }
    }

    /** A number field with a unit suffix, or null when absent. */
    static String withUnit(JsonNode node, String field, String unit) {
        String value = Json.text(node, field);
        return value == null ? null : value + unit;
    }
}
