package io.enclave.controller.api;

import static io.enclave.controller.api.Route.Access.ADMIN;
import static io.enclave.controller.api.Route.Access.ANY_TOKEN;
import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import io.enclave.controller.api.Requests.CreateTenant;
import io.enclave.controller.api.Requests.CreateToken;
import io.enclave.controller.api.Requests.QuotaBody;
import io.enclave.controller.api.Views.TenantView;
import io.enclave.controller.api.Views.TokenView;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.service.TenantService;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.validation.Validator;
import java.util.List;

final class TenantEndpoints {
    private final TenantService tenants;

    TenantEndpoints(TenantService tenants) {
        this.tenants = tenants;
    }

    List<Route> routes() {
        return List.of(
                new Route(POST, "/v1/tenants", ADMIN, (ctx, caller) -> {
                    CreateTenant req = Http.body(ctx, CreateTenant.class);
                    Tenant t = tenants.create(req.name(), quota(req.quota()));
                    Http.json(ctx, 201, TenantView.of(t, tenants.usage(t.id())));
                }),
                new Route(GET, "/v1/tenants", ADMIN, (ctx, caller) -> Http.json(ctx, 200,
                        tenants.list().stream().map(t -> TenantView.of(t, tenants.usage(t.id()))).toList())),
                new Route(GET, "/v1/tenants/{tenantId}", ANY_TOKEN, (ctx, caller) -> {
                    Tenant t = tenants.get(Scope.of(caller), ctx.pathParam("tenantId"));
                    Http.json(ctx, 200, TenantView.of(t, tenants.usage(t.id())));
                }),
                new Route(PUT, "/v1/tenants/{tenantId}/quota", ADMIN, (ctx, caller) -> {
                    Tenant t = tenants.updateQuota(ctx.pathParam("tenantId"), quota(Http.body(ctx, QuotaBody.class)));
                    Http.json(ctx, 200, TenantView.of(t, tenants.usage(t.id())));
                }),
                new Route(DELETE, "/v1/tenants/{tenantId}", ADMIN, (ctx, caller) -> {
                    tenants.delete(ctx.pathParam("tenantId"));
                    ctx.status(204);
                }),
                new Route(POST, "/v1/tenants/{tenantId}/tokens", ADMIN, (ctx, caller) -> {
                    CreateToken req = Http.body(ctx, CreateToken.class);
                    Http.json(ctx, 201, tenants.issueToken(ctx.pathParam("tenantId"), req.name()));
                }),
                new Route(GET, "/v1/tenants/{tenantId}/tokens", ADMIN, (ctx, caller) -> Http.json(ctx, 200,
                        tenants.tokens(ctx.pathParam("tenantId")).stream().map(TokenView::of).toList())),
                new Route(DELETE, "/v1/tenants/{tenantId}/tokens/{tokenId}", ADMIN, (ctx, caller) -> {
                    tenants.revokeToken(ctx.pathParam("tenantId"), ctx.pathParam("tokenId"));
                    ctx.status(204);
                }));
    }

    private static Quota quota(QuotaBody body) {
        if (body == null) throw new EnclaveException.InvalidRequest("quota", "is required");
        Validator v = new Validator();
        v.present(body.vcpus(), "quota.vcpus");
        v.present(body.memoryMib(), "quota.memoryMib");
        v.present(body.diskGib(), "quota.diskGib");
        v.present(body.vms(), "quota.vms");
        v.throwIfInvalid();
        return new Quota(body.vcpus(), body.memoryMib(), body.diskGib(), body.vms());
    }
}
