package io.enclave.controller.persistence;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.controller.auth.Caller;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.controller.service.StorageService;
import io.enclave.controller.service.TenantService;
import io.enclave.controller.service.VmService;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.HostInfo;
import io.enclave.core.image.Image;
import io.enclave.core.storage.BootVolumeSpec;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.DeviceHealth;
import io.enclave.core.storage.DeviceReport;
import io.enclave.core.storage.StoragePool;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmSpec;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A VM's boot volume in the store, the same on H2 and PostgreSQL: created with the VM, counted once, deleted with it. */
class BootVolumeStoreTest {

    @ParameterizedTest
    @MethodSource("io.enclave.controller.persistence.TestDatabases#kinds")
    void aBootVolumeIsRecordedWithItsVmCountedOnceAndDeletedWithIt(String kind) throws Exception {
        Database db = TestDatabases.open(kind);
        try {
            Store store = Store.over(db.jdbi());
            Instant now = Instant.now();
            store.jdbi().useTransaction(h -> {
                store.hosts().upsert(h, new HostInfo("host-a", "a", 64, 262_144, "tcg"), "up", now);
                store.hosts().upsert(h, new HostInfo("host-b", "b", 64, 262_144, "tcg"), "up", now);
                store.images().upsert(h, new Image("img-1", "base", new BootImage("/img/disk.qcow2", "qcow2", null, null,
                        null, false), 1L << 30, now));
                DeviceReport online = new DeviceReport(100L << 30, 0, 100L << 30, DeviceHealth.ONLINE, null);
                store.storage().insertDevice(h, "dev-1", "host-b", "/srv/d1", online, now);
                store.storage().insertDevice(h, "dev-2", "host-b", "/srv/d2", online, now);
                store.storage().insertPool(h, new StoragePool("pool-1", "main", "host-b", List.of("dev-1", "dev-2")), now);
            });
            StorageService storage = new StorageService(store, new HostRegistry(), Clock.systemUTC());
            VmService vms = new VmService(store, new Scheduler(16, 1.5), new HostRegistry(), id -> { }, Clock.systemUTC(),
                    null, t -> { }, storage);
            Tenant t = new TenantService(store, Clock.systemUTC()).create("boot", new Quota(8, 8192, 100, 10));
            Caller caller = new Caller.TenantMember(t.id(), "tok");

            // Placed on the pool's host (host-a has as much room: the pool decides), by pool id as well as name.
            Vm vm = vms.create(caller, null, new VmSpec("web", 1, 128, 5, "base"), List.of(),
                    new BootVolumeSpec("pool-1", 2), false, null).vm();
            assertThat(vm.hostId()).isEqualTo("host-b");
            Map<String, String> boot = vms.bootVolumesOf(caller, List.of(vm));
            assertThat(boot).containsOnlyKeys(vm.id());
            Volume volume = store.jdbi().withHandle(h -> store.volumes().bootVolumeOf(h, vm.id())).orElseThrow().volume();
            assertThat(volume.id()).isEqualTo(boot.get(vm.id()));
            assertThat(volume.name()).isEqualTo("web-boot");
            assertThat(volume.bootDisk()).isTrue();
            assertThat(volume.attachedVmId()).isEqualTo(vm.id());
            assertThat(volume.sizeGib()).isEqualTo(5);
            assertThat(volume.placement()).extracting(VolumeCopy::deviceId).containsExactlyInAnyOrder("dev-1", "dev-2");
            Vm plain = vms.create(caller, null, new VmSpec("db", 1, 128, 1, "base"), false, null).vm();
            assertThat(vms.bootVolumesOf(caller, List.of(vm, plain))).containsOnlyKeys(vm.id());

            // Another volume attached to the VM counts; the boot volume does not count twice.
            Volume data = new Volume("vol-data00000000", t.id(), "data", "pool-1", 3, 1,
                    List.of(new VolumeCopy(0, "dev-1", 0, CopyState.IN_SYNC)), vm.id(), false, List.of());
            store.jdbi().useTransaction(h -> store.volumes().insert(h, data, now));
            assertThat(store.jdbi().withHandle(h -> store.tenants().usage(h, t.id())).diskGib()).isEqualTo(5 + 1 + 3);

            store.jdbi().useTransaction(h -> store.vms().delete(h, vm.id()));
            java.util.Optional<VolumeRepository.VolumeRow> gone =
                    store.jdbi().withHandle(h -> store.volumes().find(h, Scope.ALL_TENANTS, volume.id()));
            assertThat(gone).isEmpty();
            Volume left = store.jdbi().withHandle(h -> store.volumes().find(h, Scope.ALL_TENANTS, data.id())).orElseThrow()
                    .volume();
            assertThat(left.attachedVmId()).isNull();
            assertThat(store.jdbi().withHandle(h -> store.tenants().usage(h, t.id())).diskGib()).isEqualTo(1 + 3);
        } finally {
            TestDatabases.close(db);
        }
    }
}
