package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The Enclave REST API over HTTP: JSON in and out, bearer authentication, and every non-2xx answer
 * turned into an {@link ApiException} carrying the error body's status, message and field errors.
 */
final class ApiClient implements AutoCloseable {
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final String USER_AGENT = "enclave-cli/0.1";

    private final URI base;
    private final String token;
    private final HttpClient http;

    ApiClient(Config config) {
        this.base = config.baseUrl();
        this.token = config.token();
        HttpClient.Builder builder = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER);
        // A controller with a self-signed certificate (enclave-server --tls): trust exactly the one it printed.
        if (config.fingerprint() != null) {
            builder.sslContext(io.enclave.tls.PinnedTls.clientPinnedByFingerprint(null, config.fingerprint()));
        }
        this.http = builder.build();
    }

    URI baseUrl() {
        return base;
    }

    /** A path below the API base from raw segments, each percent-encoded: {@code path("vms", id, "start")}. */
    static String path(String... segments) {
        StringJoiner joined = new StringJoiner("/", "/", "");
        for (String s : segments) joined.add(URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20"));
        return joined.toString();
    }

    /** Query parameters in order; null values are left out. */
    static Map<String, Object> query(Object... namesAndValues) {
        Map<String, Object> q = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            if (namesAndValues[i + 1] != null) q.put((String) namesAndValues[i], namesAndValues[i + 1]);
        }
        return q;
    }

    JsonNode get(String path) {
        return get(path, Map.of());
    }

    JsonNode get(String path, Map<String, Object> query) {
        return json(send("GET", path, query, null, null, DEFAULT_TIMEOUT));
    }

    JsonNode post(String path, Object body, String idempotencyKey) {
        return json(send("POST", path, Map.of(), body, idempotencyKey, DEFAULT_TIMEOUT));
    }

    JsonNode post(String path, Object body, Duration timeout) {
        return json(send("POST", path, Map.of(), body, null, timeout));
    }

    JsonNode put(String path, Object body) {
        return json(send("PUT", path, Map.of(), body, null, DEFAULT_TIMEOUT));
    }

    /** DELETE; the answer's JSON, or null for 204 No Content. */
    JsonNode delete(String path, String idempotencyKey) {
        return json(send("DELETE", path, Map.of(), null, idempotencyKey, DEFAULT_TIMEOUT));
    }

    /** GET of a non-JSON resource (the console): its bytes as sent. */
    byte[] getBytes(String path, Map<String, Object> query) {
        return send("GET", path, query, null, null, DEFAULT_TIMEOUT).body();
    }

    private HttpResponse<byte[]> send(String method, String path, Map<String, Object> query, Object body,
            String idempotencyKey, Duration timeout) {
        URI uri = URI.create(base + path + queryString(query));
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .header("Accept", "application/json")
                .header("User-Agent", USER_AGENT);
        if (idempotencyKey != null) request.header("Idempotency-Key", idempotencyKey);
        if (body != null) {
            request.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofByteArray(Json.write(body)));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (HttpConnectTimeoutException e) {
            throw new ConnectionException("cannot connect to the Enclave API at " + base + ": timed out after "
                    + CONNECT_TIMEOUT.toSeconds() + "s", e);
        } catch (HttpTimeoutException e) {
            throw new ConnectionException("no answer from the Enclave API at " + base + " to " + method + " " + path
                    + " within " + timeout.toSeconds() + "s", e);
        } catch (ConnectException e) {
            throw new ConnectionException("cannot connect to the Enclave API at " + base + ": connection refused"
                    + " (is the controller running? check --url or ENCLAVE_URL)", e);
        } catch (javax.net.ssl.SSLHandshakeException e) {
            throw new ConnectionException("the Enclave API at " + base + " presented a certificate this client does not "
                    + "trust (" + describe(e) + "); for a controller started with --tls pass --fingerprint (or "
                    + Config.FINGERPRINT_ENV + ") with the fingerprint it printed", e);
        } catch (IOException e) {
            throw new ConnectionException("request " + method + " " + uri + " failed: " + describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(CliException.FAILURE, "interrupted", e);
        }
        if (response.statusCode() / 100 != 2) throw errorOf(response.statusCode(), response.body(), method, path);
        return response;
    }

    private static JsonNode json(HttpResponse<byte[]> response) {
        byte[] body = response.body();
        if (response.statusCode() == 204 || body.length == 0) return null;
        try {
            return Json.read(body);
        } catch (IOException e) {
            throw new CliException(CliException.FAILURE, "the API answered " + response.request().method() + " "
                    + response.uri() + " with something that is not JSON: " + snippet(body));
        }
    }

    /** The exception for a non-2xx answer: from the API's error body, or the raw status when there is none. */
    static ApiException errorOf(int status, byte[] body, String method, String path) {
        JsonNode error = null;
        try {
            JsonNode tree = body.length == 0 ? null : Json.read(body);
            if (tree != null && tree.path("error").isObject()) error = tree.get("error");
        } catch (IOException ignored) {
            // not the API's error body: fall through to the raw answer
        }
        if (error == null) {
            String text = "HTTP " + status + " from " + method + " " + path;
            return new ApiException(status, null, body.length == 0 ? text : text + ": " + snippet(body), List.of());
        }
        List<ApiException.FieldError> fields = new ArrayList<>();
        for (JsonNode f : error.path("fields")) {
            fields.add(new ApiException.FieldError(f.path("field").asText(), f.path("reason").asText()));
        }
        String message = Json.text(error, "message");
        if (message == null || message.isBlank()) message = "HTTP " + status + " from " + method + " " + path;
        return new ApiException(error.path("status").asInt(status), Json.text(error, "code"), message, fields);
    }

    private static String queryString(Map<String, Object> query) {
        if (query.isEmpty()) return "";
        StringJoiner q = new StringJoiner("&", "?", "");
        query.forEach((name, value) -> q.add(URLEncoder.encode(name, StandardCharsets.UTF_8) + "="
                + URLEncoder.encode(String.valueOf(value), StandardCharsets.UTF_8)));
        return q.toString();
    }

    private static String snippet(byte[] body) {
        String text = new String(body, StandardCharsets.UTF_8).strip().replaceAll("\\s+", " ");
        return text.length() <= 200 ? text : text.substring(0, 200) + "…";
    }

    private static String describe(IOException e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    @Override
    public void close() {
        http.close();
    }
}
