package io.enclave.controller.api;

import static io.enclave.controller.api.Route.Access.ANY_TOKEN;
import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import io.enclave.controller.api.Requests.CreateVm;
import io.enclave.controller.api.Requests.ExecInVm;
import io.enclave.controller.api.Requests.StopVm;
import io.enclave.controller.api.Views.ExecView;
import io.enclave.controller.api.Views.OperationView;
import io.enclave.controller.api.Views.Page;
import io.enclave.controller.api.Views.VmAccepted;
import io.enclave.controller.api.Views.VmView;
import io.enclave.controller.service.VmService;
import io.enclave.controller.service.VmService.Accepted;
import io.enclave.controller.service.VmService.Action;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.BootVolumeSpec;
import io.enclave.core.validation.Validator;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmPlacement;
import io.enclave.core.vm.VmSpec;
import java.time.Duration;
import java.util.List;

final class VmEndpoints {
    static final int MAX_PAGE = 50_000;

    private final VmService vms;

    VmEndpoints(VmService vms) {
        this.vms = vms;
    }

    List<Route> routes() {
        return List.of(
                new Route(POST, "/v1/vms", ANY_TOKEN, (ctx, caller) -> {
                    CreateVm req = Http.body(ctx, CreateVm.class);
                    BootVolumeSpec bootVolume = req.bootVolume() == null ? null
                            : new BootVolumeSpec(req.bootVolume().pool(),
                                    req.bootVolume().copies() == null ? 1 : req.bootVolume().copies());
                    Accepted a = vms.create(caller, req.tenantId(), spec(req), req.networks(), bootVolume,
                            req.start() == null || req.start(), Http.idempotencyKey(ctx));
                    Http.json(ctx, 202, new VmAccepted(a.vm() == null ? null : view(caller, a.vm()),
                            OperationView.of(a.operation())));
                }),
                new Route(GET, "/v1/vms", ANY_TOKEN, (ctx, caller) -> {
                    int limit = Http.intParam(ctx, "limit", 100, 1, MAX_PAGE);
                    List<Vm> page = vms.list(caller, ctx.queryParam("after"), limit);
                    String next = page.size() == limit ? page.getLast().id() : null;
                    var nics = vms.nicsOf(caller, page);
                    var bootVolumes = vms.bootVolumesOf(caller, page);
                    Http.json(ctx, 200, new Page<>(page.stream().map(vm -> VmView.of(vm,
                            nics.getOrDefault(vm.id(), List.of()).stream().map(Views.NicView::of).toList(),
                            bootVolumes.get(vm.id()))).toList(), next));
                }),
                new Route(GET, "/v1/vms/{vmId}", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, view(caller, vms.get(caller, ctx.pathParam("vmId"))))),
                new Route(DELETE, "/v1/vms/{vmId}", ANY_TOKEN, (ctx, caller) -> accepted(ctx,
                        vms.change(caller, ctx.pathParam("vmId"), Action.DELETE, null, Http.idempotencyKey(ctx)))),
                new Route(POST, "/v1/vms/{vmId}/start", ANY_TOKEN, (ctx, caller) -> accepted(ctx,
                        vms.change(caller, ctx.pathParam("vmId"), Action.START, null, Http.idempotencyKey(ctx)))),
                new Route(POST, "/v1/vms/{vmId}/stop", ANY_TOKEN, (ctx, caller) -> {
                    StopVm req = Http.optionalBody(ctx, StopVm.class, new StopVm(null));
                    accepted(ctx, vms.change(caller, ctx.pathParam("vmId"), Action.STOP, req.timeoutSeconds(),
                            Http.idempotencyKey(ctx)));
                }),
                new Route(POST, "/v1/vms/{vmId}/reboot", ANY_TOKEN, (ctx, caller) -> accepted(ctx,
                        vms.change(caller, ctx.pathParam("vmId"), Action.REBOOT, null, Http.idempotencyKey(ctx)))),
                new Route(GET, "/v1/vms/{vmId}/console", ANY_TOKEN, (ctx, caller) -> {
                    int bytes = Http.intParam(ctx, "bytes", 64 * 1024, 1, 4 * 1024 * 1024);
                    ctx.contentType("text/plain; charset=utf-8").result(vms.console(caller, ctx.pathParam("vmId"), bytes));
                }),
                new Route(POST, "/v1/vms/{vmId}/exec", ANY_TOKEN, (ctx, caller) -> {
                    ExecInVm req = Http.body(ctx, ExecInVm.class);
                    Validator v = new Validator();
                    if (v.present(req.command(), "command")) {
                        v.require(!req.command().isEmpty() && req.command().stream().allMatch(s -> s != null && !s.isEmpty()),
                                "command", "must be a non-empty array of non-empty strings (program and arguments)");
                    }
                    int timeout = req.timeoutSeconds() == null ? 30 : req.timeoutSeconds();
                    v.require(timeout >= 1 && timeout <= 600, "timeoutSeconds", "must be between 1 and 600, got " + timeout);
                    v.throwIfInvalid();
                    Http.json(ctx, 200, ExecView.of(vms.exec(caller, ctx.pathParam("vmId"), req.command(),
                            Duration.ofSeconds(timeout))));
                }));
    }

    private VmView view(io.enclave.controller.auth.Caller caller, Vm vm) {
        return VmView.of(vm, vms.nicsOf(caller, List.of(vm)).getOrDefault(vm.id(), List.of()).stream()
                .map(Views.NicView::of).toList(), vms.bootVolumesOf(caller, List.of(vm)).get(vm.id()));
    }

    private static void accepted(io.javalin.http.Context ctx, io.enclave.core.operation.Operation op) {
        Http.json(ctx, 202, OperationView.of(op));
    }

    private static VmSpec spec(CreateVm req) {
        Validator v = new Validator();
        v.present(req.vcpus(), "vcpus");
        v.present(req.memoryMib(), "memoryMib");
        v.present(req.diskGib(), "diskGib");
        v.present(req.name(), "name");
        v.present(req.image(), "image");
        String storage = req.storage() == null ? "local" : req.storage();
        v.require(storage.equals("local") || storage.equals("shared"), "storage",
                "must be 'local' (the host's own disks) or 'shared' (storage several hosts reach), got '" + storage + "'");
        if (v.hasErrors()) throw new EnclaveException.InvalidRequest(v.errors());
        return new VmSpec(req.name(), req.vcpus(), req.memoryMib(), req.diskGib(), req.image(),
                new VmPlacement(Boolean.TRUE.equals(req.highlyAvailable()), req.antiAffinityGroup(), storage.equals("shared")));
    }
}
