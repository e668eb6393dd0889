package io.enclave.controller.api;

import static io.enclave.controller.api.Route.Access.ADMIN;
import static io.enclave.controller.api.Route.Access.ANY_TOKEN;
import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import io.enclave.controller.api.Requests.AttachVolume;
import io.enclave.controller.api.Requests.CreatePool;
import io.enclave.controller.api.Requests.CreateSnapshot;
import io.enclave.controller.api.Requests.CreateVolume;
import io.enclave.controller.api.Requests.GrowVolume;
import io.enclave.controller.api.Requests.RegisterDevice;
import io.enclave.controller.api.Requests.ResyncVolume;
import io.enclave.controller.api.Views.DeviceView;
import io.enclave.controller.api.Views.OperationView;
import io.enclave.controller.api.Views.PoolView;
import io.enclave.controller.api.Views.SnapshotView;
import io.enclave.controller.api.Views.VolumeView;
import io.enclave.controller.service.StorageService;
import io.enclave.controller.service.VolumeService;
import io.enclave.core.storage.VolumeSpec;
import java.util.List;

/** Storage devices and pools (admin) and tenants' volumes with their snapshots. Synchronous but a live resync. */
final class StorageEndpoints {
    private final StorageService storage;
    private final VolumeService volumes;

    StorageEndpoints(StorageService storage, VolumeService volumes) {
        this.storage = storage;
        this.volumes = volumes;
    }

    List<Route> routes() {
        return List.of(
                new Route(POST, "/v1/storage/devices", ADMIN, (ctx, caller) -> {
                    RegisterDevice req = Http.body(ctx, RegisterDevice.class);
                    Http.json(ctx, 201, DeviceView.of(storage.registerDevice(req.hostId(), req.path())));
                }),
                new Route(GET, "/v1/storage/devices", ADMIN, (ctx, caller) ->
                        Http.json(ctx, 200, storage.devices().stream().map(DeviceView::of).toList())),
                new Route(POST, "/v1/storage/pools", ADMIN, (ctx, caller) -> {
                    CreatePool req = Http.body(ctx, CreatePool.class);
                    Http.json(ctx, 201, PoolView.of(storage.createPool(req.name(), req.deviceIds())));
                }),
                new Route(GET, "/v1/storage/pools", ADMIN, (ctx, caller) ->
                        Http.json(ctx, 200, storage.pools().stream().map(PoolView::of).toList())),
                new Route(POST, "/v1/volumes", ANY_TOKEN, (ctx, caller) -> {
                    CreateVolume req = Http.body(ctx, CreateVolume.class);
                    Http.json(ctx, 201, VolumeView.of(volumes.create(caller, req.tenantId(),
                            new VolumeSpec(req.name(), req.pool(), req.sizeGib(), req.copies() == null ? 1 : req.copies()),
                            Http.idempotencyKey(ctx))));
                }),
                new Route(GET, "/v1/volumes", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, volumes.list(caller).stream().map(VolumeView::of).toList())),
                new Route(GET, "/v1/volumes/{volumeId}", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, VolumeView.of(volumes.get(caller, ctx.pathParam("volumeId"))))),
                new Route(DELETE, "/v1/volumes/{volumeId}", ANY_TOKEN, (ctx, caller) -> {
                    volumes.delete(caller, ctx.pathParam("volumeId"));
                    ctx.status(204);
                }),
                new Route(POST, "/v1/volumes/{volumeId}/grow", ANY_TOKEN, (ctx, caller) -> {
                    GrowVolume req = Http.body(ctx, GrowVolume.class);
                    Http.json(ctx, 200, VolumeView.of(volumes.grow(caller, ctx.pathParam("volumeId"), req.sizeGib())));
                }),
                new Route(POST, "/v1/volumes/{volumeId}/attach", ANY_TOKEN, (ctx, caller) -> {
                    AttachVolume req = Http.body(ctx, AttachVolume.class);
                    Http.json(ctx, 200, VolumeView.of(volumes.attach(caller, ctx.pathParam("volumeId"), req.vmId())));
                }),
                new Route(POST, "/v1/volumes/{volumeId}/detach", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, VolumeView.of(volumes.detach(caller, ctx.pathParam("volumeId"))))),
                new Route(POST, "/v1/volumes/{volumeId}/snapshots", ANY_TOKEN, (ctx, caller) -> {
                    CreateSnapshot req = Http.body(ctx, CreateSnapshot.class);
                    Http.json(ctx, 201, SnapshotView.of(volumes.createSnapshot(caller, ctx.pathParam("volumeId"), req.name())));
                }),
                new Route(GET, "/v1/volumes/{volumeId}/snapshots", ANY_TOKEN, (ctx, caller) ->
                        Http.json(ctx, 200, volumes.snapshots(caller, ctx.pathParam("volumeId")).stream()
                                .map(SnapshotView::of).toList())),
                new Route(POST, "/v1/volumes/{volumeId}/snapshots/{name}/revert", ANY_TOKEN, (ctx, caller) -> {
                    volumes.revertSnapshot(caller, ctx.pathParam("volumeId"), ctx.pathParam("name"));
                    Http.json(ctx, 200, VolumeView.of(volumes.get(caller, ctx.pathParam("volumeId"))));
                }),
                new Route(DELETE, "/v1/volumes/{volumeId}/snapshots/{name}", ANY_TOKEN, (ctx, caller) -> {
                    volumes.deleteSnapshot(caller, ctx.pathParam("volumeId"), ctx.pathParam("name"));
                    ctx.status(204);
                }),
                new Route(POST, "/v1/volumes/{volumeId}/resync", ADMIN, (ctx, caller) -> {
                    ResyncVolume req = Http.optionalBody(ctx, ResyncVolume.class, new ResyncVolume(null));
                    String id = ctx.pathParam("volumeId");
                    if (volumes.get(caller, id).volume().attached()) {
                        Http.json(ctx, 202, OperationView.of(volumes.startLiveResync(caller, id, req.deviceId())));
                    } else {
                        Http.json(ctx, 200, VolumeView.of(volumes.resync(caller, id, req.deviceId())));
                    }
                }));
    }
}
