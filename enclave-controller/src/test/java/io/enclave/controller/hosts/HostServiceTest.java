package io.enclave.controller.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.controller.persistence.Database;
import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.persistence.TestDatabases;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.core.host.HostInfo;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Down detection of remote hosts by their heartbeats, around a controller restart. */
class HostServiceTest {
    static final Duration DEAD_AFTER = Duration.ofSeconds(10);

    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        Instant now;

        ManualClock(Instant now) {
            this.now = now;
        }

        @Override public ZoneOffset getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
    }

    @Test
    void aHostIsNotDeclaredDeadForSilenceThatFellWhileTheControllerWasDown() throws Exception {
        Database db = TestDatabases.open("h2");
        try {
            Store store = Store.over(db.jdbi());
            Instant start = Instant.parse("2026-11-27T12:00:00Z");
            // Both hosts last beat 5 minutes before this controller started (it was down meanwhile).
            store.jdbi().useTransaction(h -> {
                for (String id : List.of("host-quiet", "host-back")) {
                    store.hosts().upsert(h, new HostRow(new HostInfo(id, id, 4, 8192, "tcg"), "up", start.minusSeconds(300),
                            "https://192.0.2.1:8471", null, "0".repeat(64), null, null, null, "none", false), start.minusSeconds(300));
                }
            });
            ManualClock clock = new ManualClock(start);
            List<String> dead = new ArrayList<>();
            HostService hosts = new HostService(store, new HostRegistry(), clock, "join-token-0123456789abcdef", DEAD_AFTER, dead::add,
                    io.enclave.tls.TlsIdentity.generate("controller", List.of(), Duration.ofDays(1)));

            clock.now = start.plusSeconds(1);
            hosts.checkHeartbeats();
            assertThat(dead).as("one second after the start nobody is dead yet").isEmpty();

            clock.now = start.plusSeconds(3);
            store.jdbi().useTransaction(h -> store.hosts().upsert(h, new HostInfo("host-back", "host-back", 4, 8192, "tcg"),
                    "up", clock.now));
            clock.now = start.plus(DEAD_AFTER).plusSeconds(1);
            hosts.checkHeartbeats();
            assertThat(dead).as("the host that stayed silent since the start, and only it").containsExactly("host-quiet");
            assertThat(hosts.get("host-quiet").status()).isEqualTo("down");
            assertThat(hosts.get("host-back").status()).isEqualTo("up");
        } finally {
            TestDatabases.close(db);
        }
    }
}
