package io.enclave.controller.persistence;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.controller.auth.Caller;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.controller.scheduler.Scheduler;
import io.enclave.controller.service.TenantService;
import io.enclave.controller.service.VmService;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.HostInfo;
import io.enclave.core.image.Image;
import io.enclave.core.tenant.Quota;
import io.enclave.core.tenant.Tenant;
import io.enclave.core.vm.DesiredState;
import io.enclave.core.vm.Vm;
import io.enclave.core.vm.VmPhase;
import io.enclave.core.vm.VmSpec;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The store behaves the same on H2 and on PostgreSQL. */
class StoreTest {

    record Env(Database db, Store store, TenantService tenants, VmService vms) implements AutoCloseable {
        static Env open(String kind) throws Exception {
            Database db = TestDatabases.open(kind);
            Store store = Store.over(db.jdbi());
            store.jdbi().useTransaction(h -> {
                store.hosts().upsert(h, new HostInfo("host-a", "a", 64, 262_144, "tcg"), "up", Instant.now());
                store.images().upsert(h, new Image("img-1", "base", new BootImage("/img/disk.qcow2", "qcow2", null, null,
                        null, false), 1L << 30, Instant.now()));
            });
            VmService vms = new VmService(store, new Scheduler(16, 1.5), new HostRegistry(), id -> { }, Clock.systemUTC());
            return new Env(db, store, new TenantService(store, Clock.systemUTC()), vms);
        }

        @Override
        public void close() throws Exception {
            TestDatabases.close(db);
        }
    }

    @ParameterizedTest
    @MethodSource("io.enclave.controller.persistence.TestDatabases#kinds")
    void vmRecordsKeepDesiredAndObservedGenerations(String kind) throws Exception {
        try (Env env = Env.open(kind)) {
            Tenant t = env.tenants().create("gen", new Quota(8, 8192, 100, 10));
            Caller caller = new Caller.TenantMember(t.id(), "tok");
            Vm vm = env.vms().create(caller, null, new VmSpec("a", 1, 128, 1, "base"), true, null).vm();
            assertThat(vm.generation()).isEqualTo(1);
            long gen = env.store().jdbi().inTransaction(h -> env.store().vms().setDesired(h, vm.id(), DesiredState.STOPPED,
                    false, 10, Instant.now()));
            assertThat(gen).isEqualTo(2);
            env.store().jdbi().useTransaction(h -> {
                env.store().vms().recordObserved(h, vm.id(), VmPhase.STOPPED, 2, false, null, Instant.now());
                env.store().vms().recordObserved(h, vm.id(), VmPhase.STOPPED, 1, false, "late", Instant.now());
            });
            Vm read = env.vms().get(caller, vm.id());
            assertThat(read.observedGeneration()).as("never lowered").isEqualTo(2);
            assertThat(read.desiredState()).isEqualTo(DesiredState.STOPPED);
            assertThat(read.createdAt()).isNotNull();
            List<String> unconverged = env.store().jdbi().withHandle(h -> env.store().vms().unconvergedIds(h));
            assertThat(unconverged).doesNotContain(vm.id());
        }
    }

    @ParameterizedTest
    @MethodSource("io.enclave.controller.persistence.TestDatabases#kinds")
    void scopeHidesOtherTenantsRows(String kind) throws Exception {
        try (Env env = Env.open(kind)) {
            Tenant a = env.tenants().create("ta", new Quota(8, 8192, 100, 10));
            Tenant b = env.tenants().create("tb", new Quota(8, 8192, 100, 10));
            Caller ca = new Caller.TenantMember(a.id(), "x");
            Caller cb = new Caller.TenantMember(b.id(), "y");
            Vm vm = env.vms().create(ca, null, new VmSpec("same-name", 1, 128, 1, "base"), false, null).vm();
            env.vms().create(cb, null, new VmSpec("same-name", 1, 128, 1, "base"), false, null);
            assertThat(env.vms().list(cb, null, 100)).extracting(Vm::tenantId).containsOnly(b.id());
            assertThat(env.vms().list(new Caller.Admin("z"), null, 100)).hasSize(2);
            try {
                env.vms().get(cb, vm.id());
                throw new AssertionError("tenant b read tenant a's VM");
            } catch (EnclaveException.NotFound expected) {
                assertThat(expected.getMessage()).contains(vm.id());
            }
        }
    }

    @ParameterizedTest
    @MethodSource("io.enclave.controller.persistence.TestDatabases#kinds")
    void parallelCreatesNeverExceedTheQuota(String kind) throws Exception {
        try (Env env = Env.open(kind)) {
            Tenant t = env.tenants().create("edge", new Quota(100, 100_000, 7, 100));
            Caller caller = new Caller.TenantMember(t.id(), "tok");
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(20)) {
                for (int i = 0; i < 20; i++) {
                    String name = "d" + i;
                    results.add(pool.submit(() -> {
                        go.await();
                        try {
                            env.vms().create(caller, null, new VmSpec(name, 1, 128, 1, "base"), false, null);
                            return true;
                        } catch (EnclaveException.QuotaExceeded e) {
                            return false;
                        }
                    }));
                }
                go.countDown();
                int admitted = 0;
                for (Future<Boolean> f : results) if (f.get()) admitted++;
                assertThat(admitted).isEqualTo(7);
            }
            assertThat(env.tenants().usage(t.id()).diskGib()).isEqualTo(7);
        }
    }

    @ParameterizedTest
    @MethodSource("io.enclave.controller.persistence.TestDatabases#kinds")
    void hostAllocationsFollowVmInsertsAndDeletes(String kind) throws Exception {
        try (Env env = Env.open(kind)) {
            Tenant t = env.tenants().create("alloc", new Quota(64, 65_536, 100, 10));
            Caller caller = new Caller.TenantMember(t.id(), "tok");
            Vm a = env.vms().create(caller, null, new VmSpec("a", 2, 512, 1, "base"), false, null).vm();
            env.vms().create(caller, null, new VmSpec("b", 3, 1024, 1, "base"), false, null);
            var before = env.store().jdbi().withHandle(h -> env.store().hosts().allocations(h));
            assertThat(before).singleElement().satisfies(al -> {
                assertThat(al.vcpus()).isEqualTo(5);
                assertThat(al.memoryMib()).isEqualTo(1536);
            });
            env.store().jdbi().useTransaction(h -> env.store().vms().delete(h, a.id()));
            var after = env.store().jdbi().withHandle(h -> env.store().hosts().allocations(h));
            assertThat(after).singleElement().satisfies(al -> {
                assertThat(al.vcpus()).isEqualTo(3);
                assertThat(al.memoryMib()).isEqualTo(1024);
            });
        }
    }
}
