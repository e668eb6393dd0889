package io.enclave.controller.api;

import io.enclave.controller.auth.Authenticator;
import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.service.ImageService;
import io.enclave.controller.service.NetworkService;
import io.enclave.controller.service.StorageService;
import io.enclave.controller.service.TenantService;
import io.enclave.controller.service.VmService;
import io.enclave.controller.service.VolumeService;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import io.javalin.Javalin;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * The public REST API under /v1. It only parses, authenticates and validates requests and hands them to
 * the services; the routes are listed in one table that a test checks against openapi.yaml.
 */
public final class ApiServer implements AutoCloseable {
    private final List<Route> routes;
    private final Authenticator auth;
    private Javalin app;

    public ApiServer(Store store, Authenticator auth, TenantService tenants, VmService vms, ImageService images,
            NetworkService networks, HostRegistry hosts) {
        this(store, auth, tenants, vms, images, networks, hosts, null, null);
    }

    public ApiServer(Store store, Authenticator auth, TenantService tenants, VmService vms, ImageService images,
            NetworkService networks, HostRegistry hosts, StorageService storage, VolumeService volumes) {
        this(store, auth, tenants, vms, images, networks, hosts, storage, volumes, null, null, null);
    }

    public ApiServer(Store store, Authenticator auth, TenantService tenants, VmService vms, ImageService images,
            NetworkService networks, HostRegistry hosts, StorageService storage, VolumeService volumes,
            io.enclave.controller.hosts.HostService hostService, io.enclave.controller.hosts.Maintenance maintenance,
            io.enclave.controller.hosts.MigrationService migrations) {
        this.auth = auth;
        List<Route> all = new ArrayList<>();
        all.addAll(new PlatformEndpoints(store, images).routes());
        all.addAll(new TenantEndpoints(tenants).routes());
        all.addAll(new VmEndpoints(vms).routes());
        all.addAll(new NetworkEndpoints(networks, hosts).routes());
        all.addAll(new StorageEndpoints(storage, volumes).routes());
        all.addAll(new HostEndpoints(hostService, maintenance, migrations).routes());
        this.routes = List.copyOf(all);
    }

    public List<Route> routes() {
        return routes;
    }

    /** Starts listening over plain HTTP; returns the port (useful with port 0). */
    public int start(String host, int port) {
        return start(host, port, null);
    }

    /**
     * Starts listening, over HTTPS only (TLS 1.3, presenting {@code tls}; clients are not asked for a
     * certificate) when {@code tls} is given; returns the port (useful with port 0).
     */
    public int start(String host, int port, TlsIdentity tls) {
        app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            config.useVirtualThreads = true;
            config.http.maxRequestSize = 1024 * 1024;
            if (tls != null) {
                SslContextFactory.Server ssl = new SslContextFactory.Server();
                ssl.setSslContext(PinnedTls.server(tls, List.of()));
                // The only connector: Javalin adds its plain HTTP one only when none is configured.
                config.jetty.addConnector((server, httpConfig) -> {
                    HttpConfiguration https = new HttpConfiguration(httpConfig);
                    https.addCustomizer(new SecureRequestCustomizer(false));
                    ServerConnector connector = new ServerConnector(server, new SslConnectionFactory(ssl, "http/1.1"),
                            new HttpConnectionFactory(https));
                    connector.setHost(host);
                    connector.setPort(port);
                    return connector;
                });
            }
        });
        for (Route route : routes) {
            app.addHttpHandler(route.method(), route.path(), ctx -> {
                long start = System.nanoTime();
                try {
                    serve(route, ctx);
                } finally {
                    // Server-side time of this request, for benchmarks and operators (RFC: Server-Timing).
                    ctx.header("Server-Timing", String.format(java.util.Locale.ROOT, "app;dur=%.3f",
                            (System.nanoTime() - start) / 1e6));
                }
            });
        }
        app.exception(Exception.class, ErrorResponses::handle);
        app.error(404, ctx -> {
            // Javalin's own "endpoint not found" answer is replaced by the API's error body.
            String result = ctx.result();
            if (result == null || !result.startsWith("{\"error\"")) {
                ErrorResponses.handle(new io.javalin.http.NotFoundResponse(), ctx);
            }
        });
        if (tls != null) app.start();
        else app.start(host, port);
        return app.port();
    }

    private void serve(Route route, io.javalin.http.Context ctx) throws Exception {
        Caller caller = switch (route.access()) {
            case PUBLIC -> null;
            case ANY_TOKEN -> auth.authenticate(ctx.header("Authorization"));
            case ADMIN -> {
                Caller c = auth.authenticate(ctx.header("Authorization"));
                Authenticator.requireAdmin(c);
                yield c;
            }
        };
        route.handler().handle(ctx, caller);
    }

    @Override
    public void close() {
        if (app != null) app.stop();
    }
}
