package io.enclave.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A scripted HTTP server on 127.0.0.1 for testing the client: each "METHOD /path" answers its queued
 * responses in order, repeating the last one, and every request is recorded. It has no Enclave logic.
 */
final class FakeApi implements AutoCloseable {
    record Response(int status, String contentType, String body) {}

    record Request(String method, String path, String query, Map<String, List<String>> headers, String body) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().getFirst()).findFirst().orElse(null);
        }
    }

    private final HttpServer server;
    private final Map<String, Deque<Response>> script = new HashMap<>();
    private final List<Request> requests = new ArrayList<>();

    FakeApi() throws IOException {
        this(null);
    }

    /** With {@code tls}: an HTTPS server presenting that identity (a controller started with --tls). */
    FakeApi(io.enclave.tls.TlsIdentity tls) throws IOException {
        InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (tls == null) {
            server = HttpServer.create(loopback, 0);
        } else {
            var https = com.sun.net.httpserver.HttpsServer.create(loopback, 0);
            https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(
                    io.enclave.tls.PinnedTls.server(tls, List.of())));
            server = https;
        }
        server.createContext("/", this::handle);
        server.start();
    }

    /** The API base as a user would give it, without /v1. */
    String url() {
        return (server instanceof com.sun.net.httpserver.HttpsServer ? "https" : "http") + "://127.0.0.1:"
                + server.getAddress().getPort();
    }

    Map<String, String> env() {
        return Map.of("ENCLAVE_URL", url() + "/v1", "ENCLAVE_TOKEN", "secret-token");
    }

    /** Queues answers for a method and path under /v1 (the query is not part of the match). */
    synchronized FakeApi on(String method, String path, int status, String json) {
        script.computeIfAbsent(method + " /v1" + path, k -> new ArrayDeque<>())
                .add(new Response(status, "application/json", json));
        return this;
    }

    synchronized FakeApi onText(String method, String path, int status, String contentType, String text) {
        script.computeIfAbsent(method + " /v1" + path, k -> new ArrayDeque<>())
                .add(new Response(status, contentType, text));
        return this;
    }

    synchronized List<Request> requests() {
        return List.copyOf(requests);
    }

    synchronized List<Request> requests(String method, String path) {
        return requests.stream().filter(r -> r.method().equals(method) && r.path().equals("/v1" + path)).toList();
    }

    private void handle(HttpExchange exchange) throws IOException {
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String path = exchange.getRequestURI().getRawPath();
        Response response;
        synchronized (this) {
            requests.add(new Request(exchange.getRequestMethod(), path, exchange.getRequestURI().getRawQuery(),
                    Map.copyOf(exchange.getRequestHeaders()), body));
            Deque<Response> queue = script.get(exchange.getRequestMethod() + " " + path);
            if (queue == null) {
                response = new Response(404, "application/json",
                        "{\"error\":{\"status\":404,\"code\":\"not_found\",\"message\":\"unscripted " + path + "\",\"fields\":[]}}");
            } else {
                response = queue.size() > 1 ? queue.poll() : queue.peek();
            }
        }
        byte[] bytes = response.body() == null ? new byte[0] : response.body().getBytes(StandardCharsets.UTF_8);
        if (response.contentType() != null) exchange.getResponseHeaders().set("Content-Type", response.contentType());
        exchange.sendResponseHeaders(response.status(), bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
