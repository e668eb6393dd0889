package io.enclave.server.agent;

import io.enclave.controller.hosts.AgentWire;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostAgent;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Serves one host's {@link HostAgent} to the controller over HTTP, for callers presenting the host's secret. */
public final class AgentRpcServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentRpcServer.class);

    private final HostAgent agent;
    private final byte[] secret;
    private Javalin app;

    public AgentRpcServer(HostAgent agent, String secret) {
        this.agent = agent;
        this.secret = secret.getBytes(StandardCharsets.UTF_8);
    }

    /** Starts listening; returns the port (useful with port 0). */
    public int start(String address, int port) {
        app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.useVirtualThreads = true;
            config.http.maxRequestSize = 16 * 1024 * 1024;
        });
        app.get("/agent/v1/health", ctx -> ctx.result("ok"));
        app.post(AgentWire.CALL_PATH + "{method}", this::call);
        app.start(address, port);
        return app.port();
    }

    private void call(Context ctx) {
        String name = ctx.pathParam("method");
        try {
            authorize(ctx.header("Authorization"));
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

    private void authorize(String header) {
        byte[] presented = header != null && header.startsWith("Bearer ")
                ? header.substring(7).getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (!MessageDigest.isEqual(presented, secret)) {
            throw new EnclaveException.Unauthorized("the host's secret is required");
        }
    }

    @Override
    public void close() {
        if (app != null) app.stop();
    }
}
