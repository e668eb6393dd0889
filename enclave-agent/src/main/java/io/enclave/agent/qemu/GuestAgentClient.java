package io.enclave.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.ExecResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Speaks to qemu-guest-agent inside a guest through the virtio-serial chardev socket. Each connection
 * starts with guest-sync-delimited so that a stale reply left from an earlier connection is skipped.
 */
public final class GuestAgentClient {
    private final Path socket;

    public GuestAgentClient(Path socket) {
        this.socket = socket;
    }

    /** True if the guest agent answers a sync within {@code timeout}. */
    public boolean ping(Duration timeout) {
        try (JsonLineChannel ch = JsonLineChannel.open(socket)) {
            sync(ch, timeout);
            return true;
        } catch (IOException | QmpException e) {
            return false;
        }
    }

    /** Runs {@code command} (argv) in the guest, waits for it up to {@code timeout}, and returns its output. */
    public ExecResult exec(List<String> command, Duration timeout) {
        return exec(command, null, timeout);
    }

    /** Like {@link #exec(List, Duration)}, with {@code stdin} (if not null) as the command's standard input. */
    public ExecResult exec(List<String> command, byte[] stdin, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (JsonLineChannel ch = JsonLineChannel.open(socket)) {
            sync(ch, Duration.ofSeconds(5));
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("path", command.getFirst());
            args.put("arg", command.subList(1, command.size()));
            args.put("capture-output", true);
            if (stdin != null) args.put("input-data", Base64.getEncoder().encodeToString(stdin));
            long pid = call(ch, "guest-exec", args).path("pid").asLong();
            while (true) {
                JsonNode status = call(ch, "guest-exec-status", Map.of("pid", pid));
                if (status.path("exited").asBoolean()) {
                    return new ExecResult(status.path("exitcode").asInt(-1), decode(status.path("out-data")),
                            decode(status.path("err-data")), false);
                }
                if (System.nanoTime() > deadline) return new ExecResult(-1, "", "", true);
                Thread.sleep(50);
            }
        } catch (IOException e) {
            throw new EnclaveException.Unavailable("the guest agent did not answer: " + e.getMessage());
        } catch (QmpException e) {
            throw new EnclaveException.InvalidRequest("command", "the guest could not run it: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while waiting for the guest", e);
        }
    }

    private static void sync(JsonLineChannel ch, Duration timeout) throws IOException {
        long id = ThreadLocalRandom.current().nextLong(1, Integer.MAX_VALUE);
        ch.sendRaw(new byte[] {(byte) 0xFF});
        ch.send(Map.of("execute", "guest-sync-delimited", "arguments", Map.of("id", id)));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
            JsonNode reply = ch.read(left);
            if (reply.path("return").asLong(-1) == id) return;
        }
    }

    private static JsonNode call(JsonLineChannel ch, String command, Map<String, ?> arguments) throws IOException {
        ch.send(Map.of("execute", command, "arguments", arguments));
        JsonNode reply = ch.read(Duration.ofSeconds(10));
        if (reply.has("error")) {
            throw new QmpException("guest agent " + command + " failed: " + reply.get("error").path("desc").asText());
        }
        return reply.path("return");
    }

    private static String decode(JsonNode base64) {
        if (base64.isMissingNode() || base64.isNull()) return "";
        return new String(Base64.getDecoder().decode(base64.asText()), StandardCharsets.UTF_8);
    }
}
