package io.enclave.server.agent;

import io.enclave.controller.hosts.AgentWire;
import io.enclave.core.host.HostAgent;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.security.cert.X509Certificate;
import java.util.List;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves one host's {@link HostAgent} to the controller over HTTPS only (TLS 1.3), with the agent's own
 * certificate, to a client that presents the controller's certificate (mutual TLS, pinned: no other client
 * gets past the handshake). Until the agent has learnt the controller's certificate (its first join) it
 * accepts no client at all.
 */
public final class AgentRpcServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentRpcServer.class);

    private volatile HostAgent agent;
    private final TlsIdentity identity;
    private final SslContextFactory.Server tls = new SslContextFactory.Server();
    private volatile X509Certificate controller;
    private Javalin app;

    /**
     * Prepares the TLS side (which takes a while, so the agent does it while it sets up its host).
     *
     * @param controller the only client certificate accepted; null: none until {@link #trustController}.
     */
    public AgentRpcServer(TlsIdentity identity, X509Certificate controller) {
        this.identity = identity;
        this.controller = controller;
        tls.setSslContext(PinnedTls.server(identity, controller == null ? List.of() : List.of(controller)));
        tls.setNeedClientAuth(true);
        try {
            tls.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot set up the agent's TLS: " + e.getMessage(), e);
        }
    }

    /** Starts serving {@code agent}; returns the port (useful with port 0). */
    public int start(HostAgent agent, String address, int port) {
        this.agent = agent;
        app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.useVirtualThreads = true;
            config.http.maxRequestSize = 16 * 1024 * 1024;
            // The only connector (Javalin adds its plain HTTP one only when none is configured).
            config.jetty.addConnector((server, httpConfig) -> {
                HttpConfiguration https = new HttpConfiguration(httpConfig);
                https.addCustomizer(new SecureRequestCustomizer(false));
                ServerConnector connector = new ServerConnector(server, new SslConnectionFactory(tls, "http/1.1"),
                        new HttpConnectionFactory(https));
                connector.setHost(address);
                connector.setPort(port);
                return connector;
            });
        });
        app.get("/agent/v1/health", ctx -> ctx.result("ok"));
        app.post(AgentWire.CALL_PATH + "{method}", this::call);
        app.start();
        return app.port();
    }

    /** From now on only a client presenting {@code certificate} is accepted (handshakes under way finish as they began). */
    public void trustController(X509Certificate certificate) {
        try {
            tls.reload(f -> f.setSslContext(PinnedTls.server(identity, List.of(certificate))));
            controller = certificate;
        } catch (Exception e) {
            throw new IllegalStateException("cannot switch the agent's TLS to the controller's new certificate: " + e.getMessage(), e);
        }
    }

    public X509Certificate trustedController() {
        return controller;
    }

    private void call(Context ctx) {
        String name = ctx.pathParam("method");
        try {
            Method method = AgentWire.method(name);
            Object[] args = AgentWire.decodeArgs(method, ctx.bodyAsBytes());
            Object result = invoke(method, args);
            ctx.status(200).contentType("application/json").result(AgentWire.encodeResult(result));
        } catch (RuntimeException e) {
            if (AgentWire.status(e) >= 500) log.error("agent call {} failed: {}", name, e.getMessage(), e);
            else log.info("agent call {} refused: {}", name, e.getMessage());
            ctx.status(AgentWire.status(e)).contentType("application/json").result(AgentWire.encodeError(e));
        }
    }

    private Object invoke(Method method, Object[] args) {
        try {
            return method.invoke(agent, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(method.getName() + ": " + e.getCause(), e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot call " + method.getName(), e);
        }
    }

    @Override
    public void close() {
        if (app != null) app.stop();
        try {
            tls.stop();
        } catch (Exception e) {
            log.debug("stopping the TLS context factory: {}", e.toString());
        }
    }
}
