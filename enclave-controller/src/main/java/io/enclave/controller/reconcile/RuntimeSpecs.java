package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Store;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.image.Image;
import io.enclave.core.network.TenantNetworking;
import io.enclave.core.storage.VolumeOnHost;
import io.enclave.core.vm.Vm;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.stream.Collectors;

/**
 * What a given host needs to run a VM: its shape, image, networking as that host has it, and disk location (its
 * own directory, shared storage, or its boot volume).
 */
public final class RuntimeSpecs {
    private final Store store;
    private final BiFunction<String, String, Optional<TenantNetworking>> networkingForHost;

    /** @param networkingForHost the tenant's networking as a host must have it (tenant id, host id) */
    public RuntimeSpecs(Store store, BiFunction<String, String, Optional<TenantNetworking>> networkingForHost) {
        this.store = store;
        this.networkingForHost = networkingForHost;
    }

    public VmRuntimeSpec forHost(Vm vm, String hostId) {
        Image img = store.jdbi().withHandle(h -> store.images().findByName(h, vm.spec().image()))
                .orElseThrow(() -> new IllegalStateException("image '" + vm.spec().image() + "' no longer exists"));
        boolean hasNics = store.jdbi().withHandle(h -> !store.networks().nicsOfVm(h, vm.id()).isEmpty());
        VmRuntimeSpec spec = new VmRuntimeSpec(vm.id(), vm.tenantId(), vm.spec().name(), vm.spec().vcpus(),
                vm.spec().memoryMib(), vm.spec().diskGib(), img.boot(), List.of(), null,
                hasNics ? networkingForHost.apply(vm.tenantId(), hostId).orElse(null) : null);
        return spec.withDiskDir(diskDir(vm.id(), hostId)).withBootVolume(bootVolume(vm.id()));
    }

    /** The volume the VM boots from, with the host directory of every device of its pool; null when none. */
    private VolumeOnHost bootVolume(String vmId) {
        return store.jdbi().withHandle(h -> store.volumes().bootVolumeOf(h, vmId).map(row -> new VolumeOnHost(row.volume(),
                store.storage().devicesOfPool(h, row.volume().poolId()).stream()
                        .collect(Collectors.toMap(d -> d.device().id(), d -> d.device().path())))).orElse(null));
    }

    /** Where the VM's boot disk lives on the host: null for the host's own storage, else on its shared storage. */
    private String diskDir(String vmId, String hostId) {
        String shared = store.jdbi().withHandle(h -> store.vms().sharedStorage(h, vmId));
        if (shared == null) return null;
        HostRow host = store.jdbi().withHandle(h -> store.hosts().find(h, hostId))
                .orElseThrow(() -> new IllegalStateException("host " + hostId + " is not known"));
        if (!shared.equals(host.sharedStorage()) || host.sharedStoragePath() == null) {
            throw new IllegalStateException("host " + hostId + " does not reach shared storage '" + shared + "' of vm " + vmId);
        }
        return host.sharedStoragePath() + "/vms/" + vmId;
    }
}
