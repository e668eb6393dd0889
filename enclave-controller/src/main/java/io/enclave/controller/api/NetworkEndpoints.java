package io.enclave.controller.api;

import static io.enclave.controller.api.Route.Access.ADMIN;
import static io.enclave.controller.api.Route.Access.ANY_TOKEN;
import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import io.enclave.controller.api.Requests.AddEgressRule;
import io.enclave.controller.api.Requests.AddIngressRule;
import io.enclave.controller.api.Requests.AddOneToOneNat;
import io.enclave.controller.api.Requests.AddPortForward;
import io.enclave.controller.api.Requests.CreateNetwork;
import io.enclave.controller.api.Requests.SetPublicNetwork;
import io.enclave.controller.api.Views.FirewallView;
import io.enclave.controller.api.Views.NetworkView;
import io.enclave.controller.api.Views.PublicNetworkView;
import io.enclave.controller.api.Views.RuleView;
import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.FirewallRepository.FirewallRow;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.service.NetworkService;
import io.enclave.controller.service.NetworkService.RuleRequest;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostAgent;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.javalin.http.Context;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Tenant networks, the public network (admin) and the tenant firewall. */
final class NetworkEndpoints {
    private final NetworkService networks;
    private final HostRegistry hosts;

    NetworkEndpoints(NetworkService networks, HostRegistry hosts) {
        this.networks = networks;
        this.hosts = hosts;
    }

    List<Route> routes() {
        return List.of(
                new Route(PUT, "/v1/public-network", ADMIN, (ctx, caller) -> {
                    SetPublicNetwork req = Http.body(ctx, SetPublicNetwork.class);
                    PublicNetwork pub = networks.setPublicNetwork(new PublicNetwork(req.cidr(), req.gateway(), req.uplink(),
                            req.mtu() == null ? 1500 : req.mtu()));
                    Http.json(ctx, 200, PublicNetworkView.of(pub));
                }),
                new Route(GET, "/v1/public-network", ADMIN, (ctx, caller) -> Http.json(ctx, 200, PublicNetworkView.of(
                        networks.publicNetwork().orElseThrow(() -> new EnclaveException.NotFound("public network", "public"))))),
                new Route(POST, "/v1/networks", ANY_TOKEN, (ctx, caller) -> {
                    CreateNetwork req = Http.body(ctx, CreateNetwork.class);
                    Http.json(ctx, 201, NetworkView.of(networks.create(caller, req.tenantId(), req.name(), req.cidr(), req.firewallForm())));
                }),
                new Route(GET, "/v1/networks", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, networks.list(caller).stream().map(NetworkView::of).toList())),
                new Route(GET, "/v1/networks/{networkId}", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, NetworkView.of(networks.get(caller, ctx.pathParam("networkId"))))),
                new Route(DELETE, "/v1/networks/{networkId}", ANY_TOKEN, (ctx, caller) -> {
                    networks.delete(caller, ctx.pathParam("networkId"));
                    ctx.status(204);
                }),
                new Route(GET, "/v1/firewall", ANY_TOKEN, (ctx, caller) -> firewall(ctx, caller)),
                new Route(POST, "/v1/firewall/ingress", ANY_TOKEN, (ctx, caller) -> {
                    AddIngressRule r = Http.body(ctx, AddIngressRule.class);
                    rule(ctx, caller, r.tenantId(), new RuleRequest("ingress", r.protocol(), r.portFrom(), r.portTo(),
                            r.sourceCidr(), null, null, null, null, null));
                }),
                new Route(POST, "/v1/firewall/egress", ANY_TOKEN, (ctx, caller) -> {
                    AddEgressRule r = Http.body(ctx, AddEgressRule.class);
                    rule(ctx, caller, r.tenantId(), new RuleRequest("egress", r.protocol(), r.portFrom(), r.portTo(),
                            null, r.destinationCidr(), null, null, null, null));
                }),
                new Route(POST, "/v1/firewall/forwards", ANY_TOKEN, (ctx, caller) -> {
                    AddPortForward r = Http.body(ctx, AddPortForward.class);
                    rule(ctx, caller, r.tenantId(), new RuleRequest("forward", r.protocol(), null, null, r.sourceCidr(),
                            null, r.publicPort(), r.vmId(), r.networkId(), r.targetPort()));
                }),
                new Route(POST, "/v1/firewall/nat", ANY_TOKEN, (ctx, caller) -> {
                    AddOneToOneNat r = Http.body(ctx, AddOneToOneNat.class);
                    rule(ctx, caller, r.tenantId(), new RuleRequest("nat", null, null, null, null, null, null, r.vmId(),
                            r.networkId(), null));
                }),
                new Route(DELETE, "/v1/firewall/rules/{ruleId}", ANY_TOKEN, (ctx, caller) -> {
                    networks.deleteRule(caller, ctx.pathParam("ruleId"));
                    ctx.status(204);
                }));
    }

    private void rule(Context ctx, Caller caller, String tenantId, RuleRequest request) {
        Http.json(ctx, 201, RuleView.of(networks.addRule(caller, tenantId, request), null));
    }

    private void firewall(Context ctx, Caller caller) {
        FirewallRow fw = networks.firewall(caller, ctx.queryParam("tenantId"));
        Map<String, RuleCounter> counters = new HashMap<>();
        for (HostAgent agent : hosts.all()) {
            Map<String, RuleCounter> onHost;
            try {
                onHost = agent.ruleCounters(fw.tenantId());
            } catch (RuntimeException notAppliedYet) {
                // The firewall exists in the store but not (yet) on this host: no counters to show.
                continue;
            }
            onHost.forEach((id, c) -> counters.merge(id, c,
                    (a, b) -> new RuleCounter(id, a.packets() + b.packets(), a.bytes() + b.bytes())));
        }
        Http.json(ctx, 200, FirewallView.of(fw, networks.rules(fw.tenantId()).stream()
                .map(r -> RuleView.of(r, counters.get(r.id()))).toList()));
    }
}
