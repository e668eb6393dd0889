package io.enclave.controller.persistence;

import org.jdbi.v3.core.Jdbi;

/** The database and the repositories over it, handed around as one. */
public record Store(Jdbi jdbi, TenantRepository tenants, TokenRepository tokens, HostRepository hosts,
        ImageRepository images, VmRepository vms, OperationRepository operations, NetworkRepository networks,
        FirewallRepository firewalls, StorageRepository storage, VolumeRepository volumes) {

    public static Store over(Jdbi jdbi) {
        return new Store(jdbi, new TenantRepository(), new TokenRepository(), new HostRepository(),
                new ImageRepository(), new VmRepository(), new OperationRepository(), new NetworkRepository(),
                new FirewallRepository(), new StorageRepository(), new VolumeRepository());
    }
}
