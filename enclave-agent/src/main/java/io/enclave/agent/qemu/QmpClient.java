package io.enclave.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

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
            JsonNode greeting = ch.read(TIMEOUT);
            if (!greeting.has("QMP")) throw new QmpException("unexpected QMP greeting: " + greeting);
            call(ch, "qmp_capabilities", Map.of(), "cap");
            return call(ch, command, arguments, "cmd");
        } catch (IOException e) {
            throw new QmpException("QMP " + command + " on " + socket + ": " + e.getMessage(), e);
        }
    }

    public JsonNode execute(String command) {
        return execute(command, Map.of());
    }

    private static JsonNode call(JsonLineChannel ch, String command, Map<String, ?> arguments, String id)
            throws IOException {
        Map<String, Object> message = new LinkedHashMap<>();
        message.put("execute", command);
        if (!arguments.isEmpty()) message.put("arguments", arguments);
        message.put("id", id);
        ch.send(message);
        while (true) {
            JsonNode reply = ch.read(TIMEOUT);
            if (reply.has("event")) continue; // events interleave with replies
            if (!id.equals(reply.path("id").asText())) continue;
            if (reply.has("error")) {
                throw new QmpException("QMP " + command + " failed: " + reply.get("error").path("desc").asText());
            }
            return reply.path("return");
        }
    }
}
