package io.enclave.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Supplier;

/** Small values a process keeps in its data directory across restarts (host id, host secret). */
public final class StateFiles {
    private StateFiles() {}

    /** The file's value, or {@code create}'s written there first (readable by the owner only). */
    public static String readOrCreate(Path file, Supplier<String> create) throws IOException {
        if (Files.exists(file)) return Files.readString(file).strip();
        String value = create.get();
        Files.writeString(file, value + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return value;
    }
}
