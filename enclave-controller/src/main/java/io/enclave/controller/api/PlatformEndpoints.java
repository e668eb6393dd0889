package io.enclave.controller.api;

import static io.enclave.controller.api.Route.Access.ADMIN;
import static io.enclave.controller.api.Route.Access.ANY_TOKEN;
import static io.enclave.controller.api.Route.Access.PUBLIC;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import io.enclave.controller.api.Requests.ImportImage;
import io.enclave.controller.api.Views.ImageView;
import io.enclave.controller.api.Views.OperationView;
import io.enclave.controller.api.Views.Whoami;
import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.service.ImageService;
import io.enclave.core.error.EnclaveException;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

/** Operations, images, hosts, identity, health and the OpenAPI document. */
final class PlatformEndpoints {
    private final Store store;
    private final ImageService images;
    private final byte[] openapi;

    PlatformEndpoints(Store store, ImageService images) {
        this.store = store;
        this.images = images;
        this.openapi = loadOpenApi();
    }

    List<Route> routes() {
        return List.of(
                new Route(GET, "/v1/health", PUBLIC, (ctx, caller) -> Http.json(ctx, 200, Map.of("status", "ok"))),
                new Route(GET, "/v1/openapi.yaml", PUBLIC, (ctx, caller) ->
                        ctx.contentType("application/yaml").result(openapi)),
                new Route(GET, "/v1/whoami", ANY_TOKEN, (ctx, caller) -> Http.json(ctx, 200, switch (caller) {
                    case Caller.Admin a -> new Whoami("admin", null, a.tokenId());
                    case Caller.TenantMember t -> new Whoami("tenant", t.tenantId(), t.tokenId());
                })),
                new Route(GET, "/v1/operations", ANY_TOKEN, (ctx, caller) -> {
                    int limit = Http.intParam(ctx, "limit", 50, 1, 1000);
                    Http.json(ctx, 200, store.jdbi().withHandle(h -> store.operations()
                            .list(h, Scope.of(caller), ctx.queryParam("targetId"), limit))
                            .stream().map(OperationView::of).toList());
                }),
                new Route(GET, "/v1/operations/{operationId}", ANY_TOKEN, (ctx, caller) -> {
                    String id = ctx.pathParam("operationId");
                    Http.json(ctx, 200, OperationView.of(store.jdbi()
                            .withHandle(h -> store.operations().find(h, Scope.of(caller), id))
                            .orElseThrow(() -> new EnclaveException.NotFound("operation", id))));
                }),
                new Route(GET, "/v1/images", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, images.list().stream().map(ImageView::of).toList())),
                new Route(POST, "/v1/images", ADMIN, (ctx, caller) -> {
                    ImportImage req = Http.body(ctx, ImportImage.class);
                    Http.json(ctx, 201, ImageView.of(images.importDisk(req.name(), req.path(), req.kernel(),
                            req.initrd(), req.cmdline(), Boolean.TRUE.equals(req.guestAgent()))));
                }));
    }

    private static byte[] loadOpenApi() {
        try (InputStream in = PlatformEndpoints.class.getResourceAsStream("/openapi.yaml")) {
            if (in == null) throw new IllegalStateException("openapi.yaml is missing from the classpath");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read openapi.yaml", e);
        }
    }
}
