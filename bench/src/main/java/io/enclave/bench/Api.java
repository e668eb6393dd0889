package io.enclave.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Minimal API client for the benchmarks; records the server's own time (Server-Timing header). */
final class Api {
    static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final String token;

    record Answer(int status, JsonNode json, double serverMs, double clientMs, int bytes) {}

    Api(String base, String token) {
        this.base = base.endsWith("/v1") ? base.substring(0, base.length() - 3) : base;
        this.token = token;
    }

    Api as(String otherToken) {
        return new Api(base, otherToken);
    }

    Answer get(String path) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
    }

    Answer post(String path, Object body) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(base + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body == null ? "" : JSON.writeValueAsString(body))));
    }

    Answer delete(String path) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(base + path)).DELETE());
    }

    private Answer send(HttpRequest.Builder b) throws Exception {
        b.header("Authorization", "Bearer " + token).timeout(Duration.ofMinutes(2));
        long t0 = System.nanoTime();
        HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        double clientMs = (System.nanoTime() - t0) / 1e6;
        String timing = r.headers().firstValue("Server-Timing").orElse("app;dur=-1");
        double serverMs = Double.parseDouble(timing.substring(timing.indexOf("dur=") + 4));
        JsonNode json = r.body().length == 0 ? JSON.nullNode() : JSON.readTree(r.body());
        if (r.statusCode() >= 400) throw new IllegalStateException(r.statusCode() + " " + new String(r.body()));
        return new Answer(r.statusCode(), json, serverMs, clientMs, r.body().length);
    }
}
