package io.enclave.server.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.core.host.HostInfo;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of membership: joins the controller with the join token (retrying while the controller
 * is unreachable), then reports a heartbeat every interval; joins again if the controller forgot the host.
 */
public final class ControllerLink implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControllerLink.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the agent tells the controller about itself when it joins (certificate: PEM its RPC serves with). */
    public record Identity(HostInfo info, String agentUrl, String certificate, String secret, String underlayAddress,
            String sharedStorage, String sharedStoragePath) {}

    /** The controller refused the host for good (bad token, identity taken, invalid field). */
    public static final class JoinRefused extends RuntimeException {
        public JoinRefused(String message) {
            super(message);
        }
    }

    private final URI controller;
    private final String joinToken;
    private final Identity identity;
    private final Duration interval;
    private final HttpClient http;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "controller-link");
        t.setDaemon(true);
        return t;
    });

    private final Duration selfFenceAfter;
    private final Runnable selfFence;
    private final Consumer<String> controllerCertificate;
    private volatile long lastAcknowledged = System.nanoTime();
    private volatile boolean fenced;
    private volatile boolean controllerRefuses;
    private volatile boolean refusalNoted;

    /**
     * @param selfFenceAfter when the controller has not acknowledged a heartbeat for this long, {@code selfFence}
     *                       runs (once per outage): the controller will declare the host dead and restart its
     *                       highly-available VMs elsewhere, so this host must stop them first. Null: never.
     * @param controllerCertificate gets the controller's certificate (PEM) from every successful join, before
     *                       the join counts as done: the only client certificate the agent's RPC accepts
     * @param tls            for an https:// controller: trusts exactly the controller's certificate (null: http)
     */
    public ControllerLink(String controllerUrl, String joinToken, Identity identity, Duration interval,
            Duration selfFenceAfter, Runnable selfFence, Consumer<String> controllerCertificate, SSLContext tls) {
        this.controllerCertificate = controllerCertificate;
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3));
        if (tls != null) builder.sslContext(tls);
        this.http = builder.build();
        this.controller = URI.create(controllerUrl.endsWith("/") ? controllerUrl : controllerUrl + "/");
        this.joinToken = joinToken;
        this.identity = identity;
        this.interval = interval;
        this.selfFenceAfter = selfFenceAfter;
        this.selfFence = selfFence;
    }

    /** Joins (waiting up to {@code patience} for the controller to answer), then starts the heartbeat. */
    public void start(Duration patience) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        while (true) {
            try {
                join();
                acknowledged();
                break;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("controller " + controller + " unreachable: " + e, e);
                log.info("controller {} not reachable yet ({}); retrying", controller, e.getMessage());
                Thread.sleep(1000);
            }
        }
        timer.scheduleWithFixedDelay(this::beat, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void join() throws IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("hostId", identity.info().id());
        body.put("name", identity.info().name());
        body.put("cpus", identity.info().cpus());
        body.put("memoryMib", identity.info().memoryMib());
        body.put("accelerator", identity.info().accelerator());
        body.put("agentUrl", identity.agentUrl());
        body.put("agentCertificate", identity.certificate());
        body.put("agentSecret", identity.secret());
        body.put("underlayAddress", identity.underlayAddress());
        body.put("sharedStorage", identity.sharedStorage());
        body.put("sharedStoragePath", identity.sharedStoragePath());
        HttpResponse<String> r;
        try {
            r = post("hosts/join", joinToken, body);
        } catch (javax.net.ssl.SSLException e) {
            // Not a controller that is down: one whose certificate is not the pinned one (or that speaks no TLS).
            throw new JoinRefused("TLS with controller " + controller + " refused, nothing sent (is --controller-fingerprint"
                    + " the fingerprint enclave-server --tls printed?): " + e.getMessage());
        }
        if (r.statusCode() == 200) {
            String certificate = JSON.readTree(r.body()).path("controllerCertificate").asText("");
            if (certificate.isBlank()) throw new JoinRefused("controller " + controller + " sent no controllerCertificate");
            controllerCertificate.accept(certificate);
            log.info("host {} joined controller {}", identity.info().id(), controller);
            return;
        }
        if (r.statusCode() >= 500) throw new IOException("controller answered " + r.statusCode() + ": " + r.body());
        throw new JoinRefused("controller refused host " + identity.info().id() + " (" + r.statusCode() + "): " + r.body());
    }

    private void beat() {
        try {
            HttpResponse<String> r = post("hosts/" + identity.info().id() + "/heartbeat", identity.secret(),
                    Map.of("cpus", identity.info().cpus(), "memoryMib", identity.info().memoryMib()));
            if (r.statusCode() == 404) {
                log.warn("controller does not know host {}: joining again", identity.info().id());
                join();
                acknowledged();
            } else if (r.statusCode() != 204) {
                log.warn("heartbeat of host {} answered {}: {}", identity.info().id(), r.statusCode(), r.body());
            } else {
                acknowledged();
            }
        } catch (IOException | RuntimeException e) {
            controllerRefuses = refusesConnections(controller);
            log.warn("heartbeat of host {} failed: {}", identity.info().id(), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        fenceIfCutOff();
    }

    /**
     * Whether the controller's machine answers but nothing listens on the controller's port (connection
     * refused): the network to it works and the controller is not running (restarted, upgraded), so it declares
     * no host dead. A timeout or an unreachable network says nothing of the kind. (The HTTP client's exceptions
     * carry no reason, hence a plain socket.)
     */
    static boolean refusesConnections(URI url) {
        int port = url.getPort() != -1 ? url.getPort() : "https".equals(url.getScheme()) ? 443 : 80;
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress(url.getHost(), port), 2000);
            return false;
        } catch (java.net.ConnectException e) {
            return e.getMessage() != null && e.getMessage().contains("Connection refused");
        } catch (IOException e) {
            return false;
        }
    }

    private void acknowledged() {
        controllerRefuses = false;
        lastAcknowledged = System.nanoTime();
        if (fenced) log.info("host {}: controller reachable again after self-fencing", identity.info().id());
        fenced = false;
    }

    private void fenceIfCutOff() {
        if (selfFenceAfter == null || fenced || System.nanoTime() - lastAcknowledged < selfFenceAfter.toNanos()) return;
        if (controllerRefuses) {
            // Not cut off: the controller is down, and a controller that is down declares no host dead. Its
            // successor gives every host a full --host-dead-seconds from its start to beat again.
            if (!refusalNoted) log.warn("host {}: the controller refuses connections (not running): its VMs keep running, no self-fencing",
                    identity.info().id());
            refusalNoted = true;
            return;
        }
        refusalNoted = false;
        fenced = true;
        log.warn("host {}: no heartbeat acknowledged for {} s: fencing itself (stopping its shared-storage VMs, taking its firewalls off the public network)",
                identity.info().id(), selfFenceAfter.toSeconds());
        try {
            selfFence.run();
        } catch (RuntimeException e) {
            log.error("host {}: self-fencing failed: {}", identity.info().id(), e.getMessage(), e);
        }
    }

    private HttpResponse<String> post(String path, String bearer, Object body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(controller.resolve(path))
                .timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + bearer)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
