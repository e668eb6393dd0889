package io.enclave.controller.api;

import io.enclave.controller.persistence.FirewallRepository.FirewallRow;
import io.enclave.controller.persistence.FirewallRepository.RuleRow;
import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.NetworkRepository.NetworkRow;
import io.enclave.controller.persistence.NetworkRepository.NicRow;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.controller.persistence.TokenRepository.TokenInfo;
import io.enclave.controller.persistence.VolumeRepository.VolumeRow;
import io.enclave.controller.service.StorageService.DeviceInfo;
import io.enclave.controller.service.StorageService.PoolInfo;
import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeSnapshot;
import io.enclave.core.host.ExecResult;
import io.enclave.core.image.Image;
import io.enclave.core.operation.Operation;
import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.tenant.Usage;
import io.enclave.core.vm.Vm;
import java.time.Instant;
import java.util.List;

/** Response bodies of the public API: what callers see of the domain, with enums in lower case. */
public final class Views {
    private Views() {}

    public record TenantView(String id, String name, Quota quota, Usage usage, Instant createdAt) {
        static TenantView of(Tenant t, Usage usage) {
            return new TenantView(t.id(), t.name(), t.quota(), usage, t.createdAt());
        }
    }

    public record TokenView(String id, String tenantId, String name, Instant createdAt) {
        static TokenView of(TokenInfo t) {
            return new TokenView(t.id(), t.tenantId(), t.name(), t.createdAt());
        }
    }

    public record VmView(String id, String tenantId, String name, int vcpus, long memoryMib, long diskGib, String image,
            String hostId, String desiredState, long generation, String phase, long observedGeneration,
            boolean guestReady, String message, List<NicView> nics, boolean highlyAvailable, String antiAffinityGroup,
            String storage, String bootVolumeId, Instant createdAt, Instant updatedAt) {
        static VmView of(Vm vm) {
            return of(vm, List.of(), null);
        }

        /** {@code bootVolumeId}: the volume the VM boots from, null when it boots from its own overlay disk. */
        static VmView of(Vm vm, List<NicView> nics, String bootVolumeId) {
            return new VmView(vm.id(), vm.tenantId(), vm.spec().name(), vm.spec().vcpus(), vm.spec().memoryMib(),
                    vm.spec().diskGib(), vm.spec().image(), vm.hostId(), lower(vm.desiredState()), vm.generation(),
                    lower(vm.phase()), vm.observedGeneration(), vm.guestReady(), vm.message(), nics,
                    vm.spec().placement().highlyAvailable(), vm.spec().placement().antiAffinityGroup(),
                    vm.spec().placement().sharedStorage() ? "shared" : "local", bootVolumeId, vm.createdAt(),
                    vm.updatedAt());
        }
    }

    public record NicView(String networkId, String mac, String ip) {
        static NicView of(NicRow row) {
            return new NicView(row.nic().networkId(), row.nic().mac(), row.nic().ip());
        }
    }

    public record NetworkView(String id, String tenantId, String name, String cidr, String gateway, int mtu,
            Instant createdAt) {
        static NetworkView of(NetworkRow r) {
            return new NetworkView(r.network().id(), r.tenantId(), r.network().name(), r.network().cidr(),
                    r.network().gateway(), r.network().mtu(), r.createdAt());
        }
    }

    public record PublicNetworkView(String cidr, String gateway, String uplink, int mtu) {
        static PublicNetworkView of(PublicNetwork p) {
            return new PublicNetworkView(p.cidr(), p.gateway(), p.uplink(), p.mtu());
        }
    }

    public record RuleView(String id, String kind, String protocol, Integer portFrom, Integer portTo, String sourceCidr,
            String destinationCidr, Integer publicPort, String vmId, String networkId, Integer targetPort,
            String publicIp, Long packets, Long bytes, Instant createdAt) {
        static RuleView of(RuleRow r, RuleCounter c) {
            return new RuleView(r.id(), r.kind(), r.protocol(), r.portFrom(), r.portTo(), r.sourceCidr(),
                    r.destinationCidr(), r.publicPort(), r.vmId(), r.networkId(), r.targetPort(), r.publicIp(),
                    c == null ? null : c.packets(), c == null ? null : c.bytes(), r.createdAt());
        }
    }

    public record FirewallView(String tenantId, String publicIp, String form, String phase, long generation,
            long observedGeneration, String message, List<RuleView> rules) {
        static FirewallView of(FirewallRow f, List<RuleView> rules) {
            return new FirewallView(f.tenantId(), f.publicIp(), f.form(), f.phase(), f.generation(),
                    f.observedGeneration(), f.message(), rules);
        }
    }

    public record OperationView(String id, String tenantId, String kind, String targetId, long targetGeneration,
            String status, int progress, String message, String error, Instant createdAt, Instant updatedAt) {
        static OperationView of(Operation op) {
            return new OperationView(op.id(), op.tenantId(), lower(op.kind()), op.targetId(), op.targetGeneration(),
                    lower(op.status()), op.progress(), op.message(), op.error(), op.createdAt(), op.updatedAt());
        }
    }

    public record VmAccepted(VmView vm, OperationView operation) {}

    public record Page<T>(List<T> items, String next) {}

    public record ImageView(String id, String name, String diskFormat, boolean directKernelBoot, boolean guestAgent,
            long virtualSizeBytes, Instant createdAt) {
        static ImageView of(Image i) {
            return new ImageView(i.id(), i.name(), i.boot().diskFormat(), i.boot().directKernelBoot(),
                    i.boot().guestAgent(), i.virtualSizeBytes(), i.createdAt());
        }
    }

    public record HostView(String id, String name, int cpus, long memoryMib, String accelerator, String status,
            String maintenance, boolean fenced, String underlayAddress, String sharedStorage, boolean remote,
            Instant heartbeatAt) {
        static HostView of(HostRow h) {
            return new HostView(h.info().id(), h.info().name(), h.info().cpus(), h.info().memoryMib(),
                    h.info().accelerator(), h.status(), h.maintenance(), h.fenced(), h.underlayAddress(),
                    h.sharedStorage(), h.agentUrl() != null, h.heartbeatAt());
        }
    }

    /** The answer to an agent's join: its host, and the certificate the controller presents when calling it. */
    public record JoinedHost(HostView host, String controllerCertificate) {}

    public record ExecView(int exitCode, String stdout, String stderr, boolean timedOut) {
        static ExecView of(ExecResult r) {
            return new ExecView(r.exitCode(), r.stdout(), r.stderr(), r.timedOut());
        }
    }

    public record Whoami(String role, String tenantId, String tokenId) {}

    /**
     * A storage device: the filesystem's capacity and use as its host measured them at {@code probedAt}, and
     * {@code reservedBytes} promised to volume copies on it (each copy at its full size).
     */
    public record DeviceView(String id, String hostId, String path, String poolId, long capacityBytes, long usedBytes,
            long availableBytes, long reservedBytes, String health, String problem, Instant probedAt, Instant createdAt) {
        static DeviceView of(DeviceInfo d) {
            var r = d.row();
            return new DeviceView(r.device().id(), r.device().hostId(), r.device().path(), r.poolId(),
                    r.device().capacityBytes(), r.usedBytes(), r.availableBytes(), d.reservedBytes(),
                    lower(r.device().health()), r.problem(), r.probedAt(), r.createdAt());
        }
    }

    /** A pool: its devices' totals, how many are online, and healthy / degraded (some failed) / failed (all). */
    public record PoolView(String id, String name, String hostId, long capacityBytes, long reservedBytes,
            long freeBytes, int onlineDevices, String health, int volumes, List<DeviceView> devices, Instant createdAt) {
        static PoolView of(PoolInfo p) {
            List<DeviceView> devices = p.devices().stream().map(DeviceView::of).toList();
            long capacity = devices.stream().mapToLong(DeviceView::capacityBytes).sum();
            long reserved = devices.stream().mapToLong(DeviceView::reservedBytes).sum();
            int online = (int) p.devices().stream().filter(d -> d.row().device().health() == DeviceHealth.ONLINE).count();
            String health = online == devices.size() ? "healthy" : online == 0 ? "failed" : "degraded";
            return new PoolView(p.row().pool().id(), p.row().pool().name(), p.row().pool().hostId(), capacity, reserved,
                    Math.max(0, capacity - reserved), online, health, p.volumes(), devices, p.row().createdAt());
        }
    }

    public record VolumeCopyView(int index, String deviceId, int generation, String state) {
        static VolumeCopyView of(VolumeCopy c) {
            return new VolumeCopyView(c.index(), c.deviceId(), c.generation(), lower(c.state()));
        }
    }

    public record VolumeView(String id, String tenantId, String name, String poolId, long sizeGib, int copies,
            String health, String attachedVmId, boolean bootDisk, List<VolumeCopyView> placement,
            List<SnapshotView> snapshots, Instant createdAt, Instant updatedAt) {
        static VolumeView of(VolumeRow row) {
            Volume v = row.volume();
            return new VolumeView(v.id(), v.tenantId(), v.name(), v.poolId(), v.sizeGib(), v.copies(), lower(v.health()),
                    v.attachedVmId(), v.bootDisk(), v.placement().stream().map(VolumeCopyView::of).toList(),
                    v.snapshots().stream().map(SnapshotView::of).toList(), row.createdAt(), row.updatedAt());
        }
    }

    public record SnapshotView(String name, Instant createdAt) {
        static SnapshotView of(VolumeSnapshot s) {
            return new SnapshotView(s.name(), s.createdAt());
        }
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase();
    }
}
