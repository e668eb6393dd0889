package io.enclave.controller.api;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.TokenRepository.TokenInfo;
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
            boolean guestReady, String message, Instant createdAt, Instant updatedAt) {
        static VmView of(Vm vm) {
            return new VmView(vm.id(), vm.tenantId(), vm.spec().name(), vm.spec().vcpus(), vm.spec().memoryMib(),
                    vm.spec().diskGib(), vm.spec().image(), vm.hostId(), lower(vm.desiredState()), vm.generation(),
                    lower(vm.phase()), vm.observedGeneration(), vm.guestReady(), vm.message(), vm.createdAt(),
                    vm.updatedAt());
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
            Instant heartbeatAt) {
        static HostView of(HostRow h) {
            return new HostView(h.info().id(), h.info().name(), h.info().cpus(), h.info().memoryMib(),
                    h.info().accelerator(), h.status(), h.heartbeatAt());
        }
    }

    public record ExecView(int exitCode, String stdout, String stderr, boolean timedOut) {
        static ExecView of(ExecResult r) {
            return new ExecView(r.exitCode(), r.stdout(), r.stderr(), r.timedOut());
        }
    }

    public record Whoami(String role, String tenantId, String tokenId) {}

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase();
    }
}
