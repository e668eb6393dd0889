package io.enclave.controller.api;

import static io.enclave.controller.api.Route.Access.ADMIN;
import static io.enclave.controller.api.Route.Access.PUBLIC;
import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import io.enclave.controller.api.Requests.Heartbeat;
import io.enclave.controller.api.Requests.JoinHost;
import io.enclave.controller.api.Views.HostView;
import io.enclave.controller.api.Views.JoinedHost;
import io.enclave.controller.api.Requests.MigrateVm;
import io.enclave.controller.api.Views.OperationView;
import io.enclave.controller.hosts.HostService;
import io.enclave.controller.hosts.Maintenance;
import io.enclave.controller.hosts.MigrationService;
import io.enclave.core.validation.Validator;
import java.util.List;

/** Hosts: agents joining and reporting (authenticated by the join token and the host's secret), and the admin's view. */
final class HostEndpoints {
    private final HostService hosts;
    private final Maintenance maintenance;
    private final MigrationService migrations;

    HostEndpoints(HostService hosts, Maintenance maintenance, MigrationService migrations) {
        this.hosts = hosts;
        this.maintenance = maintenance;
        this.migrations = migrations;
    }

    List<Route> routes() {
        return List.of(
                new Route(GET, "/v1/hosts", ADMIN, (ctx, caller) ->
                        Http.json(ctx, 200, hosts.list().stream().map(HostView::of).toList())),
                new Route(GET, "/v1/hosts/{hostId}", ADMIN, (ctx, caller) ->
                        Http.json(ctx, 200, HostView.of(hosts.get(ctx.pathParam("hostId"))))),
                // The agent authenticates with the cluster's join token (not an API token): checked in the service.
                new Route(POST, "/v1/hosts/join", PUBLIC, (ctx, caller) -> {
                    HostService.Joined joined = hosts.join(ctx.header("Authorization"), Http.body(ctx, JoinHost.class));
                    Http.json(ctx, 200, new JoinedHost(HostView.of(joined.host()), joined.controllerCertificate()));
                }),
                new Route(POST, "/v1/hosts/{hostId}/heartbeat", PUBLIC, (ctx, caller) -> {
                    Heartbeat hb = Http.body(ctx, Heartbeat.class);
                    Validator v = new Validator();
                    if (v.present(hb.cpus(), "cpus")) v.require(hb.cpus() >= 1, "cpus", "must be at least 1");
                    if (v.present(hb.memoryMib(), "memoryMib")) v.require(hb.memoryMib() >= 128, "memoryMib", "must be at least 128");
                    v.throwIfInvalid();
                    hosts.heartbeat(ctx.pathParam("hostId"), ctx.header("Authorization"), hb.cpus(), hb.memoryMib());
                    ctx.status(204);
                }),
                new Route(POST, "/v1/hosts/{hostId}/maintenance", ADMIN, (ctx, caller) ->
                        Http.json(ctx, 202, HostView.of(maintenance.enter(ctx.pathParam("hostId"))))),
                new Route(DELETE, "/v1/hosts/{hostId}/maintenance", ADMIN, (ctx, caller) ->
                        Http.json(ctx, 200, HostView.of(maintenance.leave(ctx.pathParam("hostId"))))),
                new Route(POST, "/v1/vms/{vmId}/migrate", ADMIN, (ctx, caller) -> {
                    MigrateVm req = Http.optionalBody(ctx, MigrateVm.class, new MigrateVm(null, null, null));
                    MigrationService.Accepted a = migrations.migrate(ctx.pathParam("vmId"), req.hostId(), req.copyStorage(),
                            Boolean.TRUE.equals(req.cold()), Http.idempotencyKey(ctx));
                    Http.json(ctx, 202, OperationView.of(a.operation()));
                }));
    }
}
