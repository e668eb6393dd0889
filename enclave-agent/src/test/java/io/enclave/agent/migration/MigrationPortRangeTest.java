package io.enclave.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Parsing --migration-ports, the first free port of a range, and the warning about the ephemeral range. */
class MigrationPortRangeTest {
    final List<ServerSocket> held = new ArrayList<>();

    @AfterEach
    void release() throws IOException {
        for (ServerSocket s : held) s.close();
    }

    @Test
    void parsesFirstDashLast() {
        assertThat(MigrationPortRange.parse("61000-61999")).isEqualTo(MigrationPortRange.DEFAULT);
        assertThat(MigrationPortRange.parse(" 5000 - 5000 ")).isEqualTo(MigrationPortRange.single(5000));
        assertThat(MigrationPortRange.DEFAULT.size()).isEqualTo(1000);
        assertThat(MigrationPortRange.DEFAULT).hasToString("61000-61999");
    }

    @Test
    void badInputGetsAMessageSayingWhatIsExpected() {
        for (String bad : List.of("61000", "", "a-b", "61000-", "-61999", "1-2-3", "61000:61999")) {
            assertThatThrownBy(() -> MigrationPortRange.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("expected FIRST-LAST, e.g. 61000-61999, got '" + bad + "'");
        }
        assertThatThrownBy(() -> MigrationPortRange.parse(null)).hasMessageContaining("expected FIRST-LAST");
        for (String bad : List.of("61999-61000", "0-10", "60000-70000")) {
            assertThatThrownBy(() -> MigrationPortRange.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ports FIRST-LAST need 1 ≤ FIRST ≤ LAST ≤ 65535, got " + bad);
        }
    }

    @Test
    void takesTheFirstFreePortSkippingBusyOnes() throws IOException {
        MigrationPortRange range = freeRange(5);
        hold(range.first());
        hold(range.first() + 1);
        try (ServerSocket relay = range.bindFirstFree("127.0.0.1")) {
            assertThat(relay.getLocalPort()).isEqualTo(range.first() + 2);
            assertThat(relay.getInetAddress()).isEqualTo(InetAddress.getLoopbackAddress());
        }
    }

    @Test
    void anExhaustedRangeFailsNamingIt() throws IOException {
        MigrationPortRange range = freeRange(3);
        for (int port = range.first(); port <= range.last(); port++) hold(port);
        assertThatThrownBy(() -> range.bindFirstFree("127.0.0.1")).isInstanceOf(IOException.class)
                .hasMessage("no free migration port on 127.0.0.1 in " + range + ": all 3 ports are in use; widen the"
                        + " agent's --migration-ports");
        MigrationPortRange one = MigrationPortRange.single(range.first());
        assertThatThrownBy(() -> one.bindFirstFree("127.0.0.1")).isInstanceOf(IOException.class)
                .hasMessage("migration port " + range.first() + " on 127.0.0.1 is in use");
    }

    @Test
    void anAddressThisHostDoesNotHaveFailsAtOnceNotAsAFullRange() {
        // TEST-NET-3: no interface here has it
        assertThatThrownBy(() -> MigrationPortRange.DEFAULT.bindFirstFree("203.0.113.77")).isInstanceOf(IOException.class)
                .hasMessageStartingWith("cannot listen on 203.0.113.77 port 61000: ");
    }

    @Test
    void warnsWhenTheRangeOverlapsTheKernelsEphemeralRange() throws IOException {
        Path file = Files.createTempFile("ip_local_port_range", "");
        try {
            Files.writeString(file, "32768\t60999\n");
            assertThat(MigrationPortRange.ephemeral(file)).contains(new MigrationPortRange(32768, 60999));
            assertThat(MigrationPortRange.DEFAULT.ephemeralOverlapWarning(file)).isEmpty();
            assertThat(new MigrationPortRange(60000, 61000).ephemeralOverlapWarning(file)).get().asString()
                    .contains("60000-61000").contains("32768-60999").contains("--migration-ports");
            Files.writeString(file, "garbage");
            assertThat(MigrationPortRange.DEFAULT.ephemeralOverlapWarning(file)).as("unreadable: no claim").isEmpty();
        } finally {
            Files.delete(file);
        }
        assertThat(MigrationPortRange.ephemeral(MigrationPortRange.EPHEMERAL_RANGE_FILE)).as("this machine's").isPresent();
    }

    private void hold(int port) throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress("127.0.0.1", port));
        held.add(s);
    }

    /** {@code n} consecutive ports below the ephemeral range that are free on 127.0.0.1 right now. */
    static MigrationPortRange freeRange(int n) {
        for (int attempt = 0; attempt < 50; attempt++) {
            int first = 20000 + ThreadLocalRandom.current().nextInt(9000);
            boolean free = true;
            for (int port = first; port < first + n && free; port++) {
                try (ServerSocket probe = new ServerSocket()) {
                    probe.bind(new InetSocketAddress("127.0.0.1", port));
                } catch (IOException taken) {
                    free = false;
                }
            }
            if (free) return new MigrationPortRange(first, first + n - 1);
        }
        throw new IllegalStateException("no " + n + " consecutive free ports in 20000-28999 on 127.0.0.1");
    }
}
