package io.enclave.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Speaks QMP to one QEMU process over its unix socket. One short connection per call: QEMU serves one
 * QMP client at a time, and a fresh connection needs no recovery after an agent restart.
 */
public final class QmpClient {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final Path socket;

    public QmpClient(Path socket) {
        this.socket = socket;
    }

    /** Runs one command and returns its "return" value; a QMP error becomes a {@link QmpException}. */
    public JsonNode execute(String command, Map<String, ?> arguments) {
        try (JsonLineChannel ch = JsonLineChannel.open(socket)) {
            greeting(ch);
            call(ch, "qmp_capabilities", Map.of(), "cap");
            return call(ch, command, arguments, "cmd");
        } catch (IOException e) {
            throw new QmpException("QMP " + command + " on " + socket + ": " + e.getMessage(), e);
        }
    }

    public JsonNode execute(String command) {
        return execute(command, Map.of());
    }

    /**
     * Reads the greeting. An event may come first: QEMU sends events to a monitor whose previous client had
     * negotiated capabilities until the next client's connection is set up (greeting, capabilities reset), so
     * an event emitted just as one client leaves and the next connects reaches the next one before its greeting.
     */
    private static void greeting(JsonLineChannel ch) throws IOException {
        for (int skipped = 0; ; skipped++) {
            JsonNode greeting = ch.read(TIMEOUT);
            if (greeting.has("QMP")) return;
            if (!greeting.has("event") || skipped >= 100) throw new QmpException("unexpected QMP greeting: " + greeting);
        }
    }

    /**
     * Opens one connection for a sequence of commands that must see the events between them (such as
     * {@code device_del} then {@code DEVICE_DELETED}, or a block job's progress). Close it promptly: QEMU
     * serves one QMP client at a time.
     */
    public Session session() {
        try {
            JsonLineChannel ch = JsonLineChannel.open(socket);
            try {
                greeting(ch);
                Session session = new Session(ch);
                session.execute("qmp_capabilities", Map.of());
                return session;
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        } catch (IOException e) {
            throw new QmpException("QMP session on " + socket + ": " + e.getMessage(), e);
        }
    }

    /** One QMP connection that keeps every event it sees until asked for it. */
    public final class Session implements AutoCloseable {
        private final JsonLineChannel ch;
        private final List<JsonNode> events = new ArrayList<>();
        private int nextId;

        private Session(JsonLineChannel ch) {
            this.ch = ch;
        }

        public JsonNode execute(String command) {
            return execute(command, Map.of());
        }

        /** Runs one command and returns its "return" value; events read meanwhile are kept. */
        public JsonNode execute(String command, Map<String, ?> arguments) {
            String id = "s" + nextId++;
            try {
                return call(ch, command, arguments, id, events);
            } catch (IOException e) {
                throw new QmpException("QMP " + command + " on " + socket + ": " + e.getMessage(), e);
            }
        }

        /**
         * Returns (and forgets) the first event named {@code name} whose whole message matches, waiting up to
         * {@code timeout} for it; events seen earlier in the session count.
         */
        public JsonNode awaitEvent(String name, Predicate<JsonNode> match, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                for (Iterator<JsonNode> it = events.iterator(); it.hasNext(); ) {
                    JsonNode event = it.next();
                    if (name.equals(event.path("event").asText()) && match.test(event)) {
                        it.remove();
                        return event;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new QmpException("no " + name + " event from " + socket + " within " + timeout.toMillis() + " ms");
                }
                try {
                    JsonNode message = ch.read(Duration.ofNanos(left));
                    if (message.has("event")) events.add(message);
                } catch (java.net.SocketTimeoutException e) {
                    // loop once more to report the timeout with the event name
                } catch (IOException e) {
                    throw new QmpException("waiting for " + name + " on " + socket + ": " + e.getMessage(), e);
                }
            }
        }

        /** Every event seen so far that no one awaited, oldest first; the list is emptied. */
        public List<JsonNode> takeEvents() {
            List<JsonNode> taken = List.copyOf(events);
            events.clear();
            return taken;
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException e) {
                // nothing to do: the connection is gone either way
            }
        }
    }

    private static JsonNode call(JsonLineChannel ch, String command, Map<String, ?> arguments, String id)
            throws IOException {
        return call(ch, command, arguments, id, null);
    }

    private static JsonNode call(JsonLineChannel ch, String command, Map<String, ?> arguments, String id,
                                 List<JsonNode> events) throws IOException {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("execute", command);
        if (!arguments.isEmpty()) message.put("arguments", arguments);
        message.put("id", id);
        ch.send(message);
        while (true) {
            JsonNode reply = ch.read(TIMEOUT);
            if (reply.has("event")) { // events interleave with replies
                if (events != null) events.add(reply);
                continue;
            }
            if (!id.equals(reply.path("id").asText())) continue;
            if (reply.has("error")) {
                throw new QmpException("QMP " + command + " failed: " + reply.get("error").path("desc").asText());
            }
            return reply.path("return");
        }
    }
}
