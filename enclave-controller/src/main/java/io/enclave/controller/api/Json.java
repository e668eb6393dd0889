package io.enclave.controller.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.enclave.core.error.EnclaveException;
import java.io.IOException;
import java.util.stream.Collectors;

/** The API's JSON: strict on input (unknown fields and wrong types are errors naming the field). */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .setSerializationInclusion(JsonInclude.Include.ALWAYS);

    private Json() {}

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }

    /** Parses a request body; every problem becomes a 400 that names the field or the position. */
    public static <T> T read(byte[] body, Class<T> type) {
        if (body == null || body.length == 0) {
            throw new EnclaveException.InvalidRequest("body", "a JSON object is required");
        }
        try {
            T value = MAPPER.readValue(body, type);
            if (value == null) throw new EnclaveException.InvalidRequest("body", "a JSON object is required, got null");
            return value;
        } catch (UnrecognizedPropertyException e) {
            throw new EnclaveException.InvalidRequest(path(e), "unknown field; known fields are "
                    + e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", ")));
        } catch (InvalidFormatException e) {
            throw new EnclaveException.InvalidRequest(path(e), "must be " + typeName(e.getTargetType())
                    + ", got '" + e.getValue() + "'");
        } catch (MismatchedInputException e) {
            String field = path(e);
            throw new EnclaveException.InvalidRequest(field.isEmpty() ? "body" : field,
                    field.isEmpty() ? "must be a JSON object" : "must be " + typeName(e.getTargetType()));
        } catch (JsonProcessingException e) {
            throw new EnclaveException.InvalidRequest("body", "malformed JSON: " + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr());
        } catch (IOException e) {
            throw new EnclaveException.InvalidRequest("body", "unreadable: " + e.getMessage());
        }
    }

    private static String path(JsonMappingException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }

    private static String typeName(Class<?> type) {
        if (type == null) return "of another type";
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) return "an integer";
        if (type == Boolean.class || type == boolean.class) return "true or false";
        if (type == String.class) return "a string";
        if (java.util.List.class.isAssignableFrom(type)) return "an array";
        return "an object";
    }
}
