package io.enclave.controller.hosts;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import io.enclave.core.host.HostAgent;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The controller ↔ host-agent protocol: every {@link HostAgent} method is one HTTP call,
 * {@code POST /agent/v1/call/<method>} with the arguments as a JSON array; the answer is the return value
 * as JSON, or an error object that maps back to the same {@link EnclaveException} kind. The interface is
 * the schema, so the two sides cannot drift apart method by method.
 */
public final class AgentWire {
    public static final String CALL_PATH = "/agent/v1/call/";

    static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private static final Map<String, Method> METHODS = methods();

    private AgentWire() {}

    /** The agent methods by name; the interface has no overloads, so a name is enough. */
    public static Method method(String name) {
        Method m = METHODS.get(name);
        if (m == null) throw new EnclaveException.NotFound("agent method", name);
        return m;
    }

    public static byte[] encodeArgs(Object[] args) {
        return write(args == null ? new Object[0] : args);
    }

    public static Object[] decodeArgs(Method method, byte[] body) {
        try {
            JsonNode node = MAPPER.readTree(body);
            Type[] types = method.getGenericParameterTypes();
            if (!(node instanceof ArrayNode array) || array.size() != types.length) {
                throw new EnclaveException.InvalidRequest("body", method.getName() + " takes " + types.length + " arguments");
            }
            Object[] args = new Object[types.length];
            for (int i = 0; i < types.length; i++) {
                JavaType type = MAPPER.getTypeFactory().constructType(types[i]);
                args[i] = MAPPER.convertValue(array.get(i), type);
            }
            return args;
        } catch (IOException | IllegalArgumentException e) {
            throw new EnclaveException.InvalidRequest("body", "arguments of " + method.getName() + " unreadable: " + e.getMessage());
        }
    }

    public static byte[] encodeResult(Object value) {
        return write(value);
    }

    public static Object decodeResult(Method method, byte[] body) {
        if (method.getReturnType() == void.class) return null;
        try {
            return MAPPER.readValue(body, MAPPER.getTypeFactory().constructType(method.getGenericReturnType()));
        } catch (IOException e) {
            throw new EnclaveException.Unavailable("agent answer to " + method.getName() + " unreadable: " + e.getMessage());
        }
    }

    /** The HTTP status and body for a failure of an agent call. */
    public static int status(Throwable e) {
        return switch (e) {
            case EnclaveException.InvalidRequest x -> 400;
            case EnclaveException.Unauthorized x -> 401;
            case EnclaveException.Forbidden x -> 403;
            case EnclaveException.NotFound x -> 404;
            case EnclaveException.Conflict x -> 409;
            case EnclaveException.QuotaExceeded x -> 422;
            case EnclaveException.Unavailable x -> 503;
            default -> 500;
        };
    }

    public static byte[] encodeError(Throwable e) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("kind", e instanceof EnclaveException ? e.getClass().getSimpleName() : "Internal");
        o.put("message", e.getMessage() == null ? e.getClass().getName() : e.getMessage());
        if (e instanceof EnclaveException.InvalidRequest bad) o.set("fields", MAPPER.valueToTree(bad.fields()));
        return write(o);
    }

    /** The exception an agent error stands for; unknown kinds become 503 with the agent's message. */
    public static RuntimeException decodeError(String hostId, String method, byte[] body) {
        String kind = "Internal";
        String message = "no message";
        List<FieldError> fields = List.of();
        try {
            JsonNode o = MAPPER.readTree(body);
            kind = o.path("kind").asText(kind);
            message = o.path("message").asText(message);
            if (o.has("fields")) fields = Arrays.asList(MAPPER.treeToValue(o.get("fields"), FieldError[].class));
        } catch (IOException | IllegalArgumentException e) {
            message = "unreadable error from agent: " + new String(body, java.nio.charset.StandardCharsets.UTF_8);
        }
        return switch (kind) {
            case "InvalidRequest" -> fields.isEmpty() ? new EnclaveException.InvalidRequest("request", message)
                    : new EnclaveException.InvalidRequest(fields);
            case "Conflict" -> new EnclaveException.Conflict(message);
            case "NotFound" -> new EnclaveException.NotFound(message);
            case "Unavailable" -> new EnclaveException.Unavailable(message);
            default -> new AgentCallFailed(hostId, method, message);
        };
    }

    /** An agent call failed on the host for a reason that is not the caller's (a command, QEMU). */
    public static final class AgentCallFailed extends RuntimeException {
        public AgentCallFailed(String hostId, String method, String message) {
            super("host " + hostId + ": " + method + " failed: " + message);
        }
    }

    private static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }

    private static Map<String, Method> methods() {
        Map<String, Method> byName = new HashMap<>();
        List<String> overloaded = new ArrayList<>();
        for (Method m : HostAgent.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.isDefault()) continue;
            if (byName.put(m.getName(), m) != null) overloaded.add(m.getName());
        }
        if (!overloaded.isEmpty()) throw new IllegalStateException("HostAgent methods must not be overloaded: " + overloaded);
        return Map.copyOf(byName);
    }
}
