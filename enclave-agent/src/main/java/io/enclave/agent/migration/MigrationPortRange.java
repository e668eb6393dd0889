package io.enclave.agent.migration;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The TCP ports a destination's migration relays listen on, {@code first} to {@code last} inclusive. They lie
 * outside Linux's ephemeral range ({@code /proc/sys/net/ipv4/ip_local_port_range}) so that the port recorded
 * for an incoming migration cannot be taken by some outgoing connection's local port while the agent restarts.
 */
public record MigrationPortRange(int first, int last) {
    /** The agent's default: above the kernel's default ephemeral range 32768–60999. */
    public static final MigrationPortRange DEFAULT = new MigrationPortRange(61000, 61999);
    /** The message of the BindException Linux gives for a port in use (EADDRINUSE). */
    private static final String PORT_IN_USE = "Address already in use";
    public static final Path EPHEMERAL_RANGE_FILE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

    public MigrationPortRange {
        if (first < 1 || last > 65535 || first > last) {
            throw new IllegalArgumentException("ports FIRST-LAST need 1 ≤ FIRST ≤ LAST ≤ 65535, got " + first + "-" + last);
        }
    }

    /** Exactly one port: a relay reopened on the port its record names. */
    public static MigrationPortRange single(int port) {
        return new MigrationPortRange(port, port);
    }

    /** Parses {@code FIRST-LAST} (e.g. {@code 61000-61999}); the message says what is wrong with {@code text}. */
    public static MigrationPortRange parse(String text) {
        String usage = "expected FIRST-LAST, e.g. " + DEFAULT + ", got '" + text + "'";
        if (text == null) throw new IllegalArgumentException(usage);
        String[] parts = text.strip().split("-", -1);
        if (parts.length != 2) throw new IllegalArgumentException(usage);
        int first;
        int last;
        try {
            first = Integer.parseInt(parts[0].strip());
            last = Integer.parseInt(parts[1].strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(usage, e);
        }
        return new MigrationPortRange(first, last);
    }

    public int size() {
        return last - first + 1;
    }

    public boolean overlaps(MigrationPortRange other) {
        return first <= other.last && other.first <= last;
    }

    /**
     * A server socket bound to the first port of this range that is free on {@code address}; fails naming the
     * range when every port is taken, and at once when the address itself cannot be bound.
     */
    public ServerSocket bindFirstFree(String address) throws IOException {
        BindException lastRefusal = null;
        for (int port = first; port <= last; port++) {
            ServerSocket server = new ServerSocket();
            try {
                server.bind(new InetSocketAddress(address, port));
                return server;
            } catch (BindException e) {
                server.close();
                if (e.getMessage() == null || !e.getMessage().contains(PORT_IN_USE)) {
                    throw new IOException("cannot listen on " + address + " port " + port + ": " + e.getMessage(), e);
                }
                lastRefusal = e;
            } catch (IOException | RuntimeException e) {
                server.close();
                throw e;
            }
        }
        if (size() == 1) throw new IOException("migration port " + first + " on " + address + " is in use", lastRefusal);
        throw new IOException("no free migration port on " + address + " in " + this + ": all " + size()
                + " ports are in use; widen the agent's --migration-ports", lastRefusal);
    }

    /** The kernel's ephemeral port range as {@code file} holds it ("32768\t60999"), empty if it is unreadable. */
    public static Optional<MigrationPortRange> ephemeral(Path file) {
        // A buffered line: Files.readString returned only the first byte of this procfs file here (procfs reports
        // its size as 0).
        try (var reader = Files.newBufferedReader(file)) {
            String[] parts = reader.readLine().strip().split("\\s+");
            return Optional.of(new MigrationPortRange(Integer.parseInt(parts[0]), Integer.parseInt(parts[1])));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** A warning when this range overlaps the kernel's ephemeral range in {@code file}, else empty. */
    public Optional<String> ephemeralOverlapWarning(Path file) {
        return ephemeral(file).filter(this::overlaps).map(e -> "the migration ports " + this + " overlap the kernel's"
                + " ephemeral port range " + e + " (" + file + "): after an agent restart the port of an incoming"
                + " migration may have been taken by an outgoing connection; choose --migration-ports outside it");
    }

    @Override
    public String toString() {
        return first + "-" + last;
    }
}
