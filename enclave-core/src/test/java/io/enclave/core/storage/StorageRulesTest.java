package io.enclave.core.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import io.enclave.core.validation.Validator;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StorageRulesTest {
    static final long GIB = 1L << 30;
    final StorageRules rules = new StorageRules(1024);
    final StoragePool pool = new StoragePool("pool-1", "fast", "host-a", List.of("d1", "d2", "d3"));
    final List<DeviceSpace> space = List.of(
            new DeviceSpace("d1", 100 * GIB, 10 * GIB, true),
            new DeviceSpace("d2", 100 * GIB, 50 * GIB, true),
            new DeviceSpace("d3", 100 * GIB, 0, true));

    static Volume volume(int copies, String attachedTo, boolean boot) {
        List<VolumeCopy> placement = List.of(new VolumeCopy(0, "d1", 0, CopyState.IN_SYNC),
                new VolumeCopy(1, "d2", 0, CopyState.IN_SYNC), new VolumeCopy(2, "d3", 0, CopyState.IN_SYNC)).subList(0, copies);
        return new Volume("vol-1", "t1", "data", "pool-1", 10, copies, placement, attachedTo, boot,
                List.of(new VolumeSnapshot("before", Instant.EPOCH)));
    }

    static List<String> fields(EnclaveException.InvalidRequest e) {
        return e.fields().stream().map(FieldError::field).toList();
    }

    @Test
    void placesCopiesOnDistinctDevicesWithTheMostFreeSpaceFirst() {
        assertThat(rules.validateCreate(new VolumeSpec("data", "fast", 20L, 2), pool, space)).containsExactly("d3", "d1");
        assertThat(rules.validateCreate(new VolumeSpec("data", "fast", 20L, 3), pool, space))
                .containsExactly("d3", "d1", "d2");
        assertThat(Placement.place(1, 20 * GIB, space)).containsExactly("d3");
    }

    @Test
    void skipsFailedDevicesAndDevicesWithoutRoom() {
        List<DeviceSpace> s = List.of(new DeviceSpace("d1", 100 * GIB, 0, false),
                new DeviceSpace("d2", 100 * GIB, 95 * GIB, true), new DeviceSpace("d3", 100 * GIB, 0, true),
                new DeviceSpace("d4", 100 * GIB, 10 * GIB, true));
        assertThat(Placement.place(2, 20 * GIB, s)).containsExactly("d3", "d4");
        assertThatThrownBy(() -> Placement.place(3, 20 * GIB, s))
                .isInstanceOfSatisfying(EnclaveException.InvalidRequest.class,
                        e -> assertThat(fields(e)).containsExactly("sizeGib"))
                .hasMessageContaining("only 2 of the pool's online devices have that much");
    }

    @Test
    void redundancyBeyondTheDeviceCountNamesCopies() {
        StoragePool small = new StoragePool("pool-2", "small", "host-a", List.of("d1", "d2"));
        assertThatThrownBy(() -> rules.validateCreate(new VolumeSpec("data", "small", 1L, 3), small, space.subList(0, 2)))
                .isInstanceOfSatisfying(EnclaveException.InvalidRequest.class,
                        e -> assertThat(fields(e)).containsExactly("copies"))
                .hasMessageContaining("only 2 online devices");
    }

    @Test
    void capacityShortNamesSizeGib() {
        assertThatThrownBy(() -> rules.validateCreate(new VolumeSpec("data", "fast", 60L, 3), pool, space))
                .isInstanceOfSatisfying(EnclaveException.InvalidRequest.class,
                        e -> assertThat(fields(e)).containsExactly("sizeGib"))
                .hasMessageContaining("largest free: 100 GiB");
    }

    @Test
    void badInputNamesEveryField() {
        assertThatThrownBy(() -> rules.validateCreate(new VolumeSpec("Bad_Name", "nope", 0L, 4), null, List.of()))
                .isInstanceOfSatisfying(EnclaveException.InvalidRequest.class,
                        e -> assertThat(fields(e)).containsExactly("name", "pool", "sizeGib", "copies"));
        assertThatThrownBy(() -> rules.validateCreate(new VolumeSpec("x", "fast", null, null), pool, space))
                .isInstanceOfSatisfying(EnclaveException.InvalidRequest.class,
                        e -> assertThat(fields(e)).containsExactly("sizeGib", "copies"));
        assertThatThrownBy(() -> rules.validateCreate(new VolumeSpec("x", "fast", 2000L, 1), pool, space))
                .hasMessageContaining("sizeGib: must be between 1 and 1024 GiB");
        assertThatThrownBy(() -> rules.validateCreate(new VolumeSpec("x", "fast", 1L, 0), pool, space))
                .hasMessageContaining("copies: must be between 1 and 3");
    }

    @Test
    void growingMustGrowAndFitOnEveryCopysDevice() {
        Volume v = volume(2, null, false);
        rules.validateGrow(v, 40L, space);
        assertThatThrownBy(() -> rules.validateGrow(v, 5L, space)).hasMessageContaining("sizeGib: must be larger than the current 10 GiB");
        assertThatThrownBy(() -> rules.validateGrow(v, 10L, space)).hasMessageContaining("cannot shrink");
        assertThatThrownBy(() -> rules.validateGrow(v, null, space)).hasMessageContaining("sizeGib: is required");
        assertThatThrownBy(() -> rules.validateGrow(v, 70L, space))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("device 'd2', which has 50 GiB");
    }

    @Test
    void attachDetachDeleteAndRevertConflicts() {
        Volume free = volume(1, null, false);
        StorageRules.checkAttach(free, "vm-1", "t1", "host-a", "host-a");
        assertThatThrownBy(() -> StorageRules.checkAttach(free, "vm-9", "t2", "host-a", "host-a"))
                .isInstanceOf(EnclaveException.NotFound.class);
        assertThatThrownBy(() -> StorageRules.checkAttach(free, "vm-1", "t1", "host-b", "host-a"))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("vmId");
        Volume attached = volume(1, "vm-1", false);
        assertThatThrownBy(() -> StorageRules.checkAttach(attached, "vm-2", "t1", "host-a", "host-a"))
                .isInstanceOf(EnclaveException.Conflict.class).hasMessageContaining("already attached");
        assertThatThrownBy(() -> StorageRules.checkDelete(attached)).isInstanceOf(EnclaveException.Conflict.class);
        StorageRules.checkDelete(free);
        StorageRules.checkDetach(attached);
        assertThatThrownBy(() -> StorageRules.checkDetach(free)).isInstanceOf(EnclaveException.Conflict.class);
        // A boot volume lives and dies with its VM: never detached, deleted or grown on its own, running or not.
        Volume boot = volume(1, "vm-1", true);
        assertThatThrownBy(() -> StorageRules.checkDetach(boot)).isInstanceOf(EnclaveException.Conflict.class)
                .hasMessage("volume '" + boot.id() + "' is the boot disk of vm 'vm-1'; delete the VM instead");
        assertThatThrownBy(() -> StorageRules.checkDelete(boot)).isInstanceOf(EnclaveException.Conflict.class)
                .hasMessageContaining("boot disk of vm 'vm-1'; delete the VM instead");
        assertThatThrownBy(() -> new StorageRules(100).validateGrow(boot, 5L, List.of()))
                .isInstanceOf(EnclaveException.Conflict.class).hasMessageContaining("boot disk");
        assertThatThrownBy(() -> StorageRules.checkRevert(attached, "before", true)).isInstanceOf(EnclaveException.Conflict.class);
        StorageRules.checkRevert(attached, "before", false);
        assertThatThrownBy(() -> StorageRules.checkRevert(free, "nope", false)).isInstanceOf(EnclaveException.NotFound.class);
        assertThatThrownBy(() -> StorageRules.checkNewSnapshot(free, "before")).isInstanceOf(EnclaveException.Conflict.class);
        assertThatThrownBy(() -> StorageRules.checkNewSnapshot(free, "a b")).hasMessageContaining("name:");
    }

    @Test
    void healthFollowsTheCopies() {
        Volume v = volume(3, null, false);
        assertThat(v.health()).isEqualTo(VolumeHealth.HEALTHY);
        Volume degraded = v.withDeviceFailed("d2");
        assertThat(degraded.health()).isEqualTo(VolumeHealth.DEGRADED);
        assertThat(degraded.placement().get(1).state()).isEqualTo(CopyState.FAILED);
        String target = Placement.replacement(10 * GIB, List.of(new DeviceSpace("d1", 100 * GIB, 0, true),
                new DeviceSpace("d3", 100 * GIB, 0, true), new DeviceSpace("d4", 100 * GIB, 0, true)), Set.of("d1", "d3"));
        assertThat(target).isEqualTo("d4");
        VolumeCopy rebuilt = degraded.placement().get(1).rebuiltOn(target);
        assertThat(rebuilt.generation()).isEqualTo(1);
        Volume resyncing = degraded.withPlacement(List.of(degraded.placement().get(0), rebuilt, degraded.placement().get(2)));
        assertThat(resyncing.health()).isEqualTo(VolumeHealth.RESYNCING);
        assertThat(v.withDeviceFailed("d1").withDeviceFailed("d2").withDeviceFailed("d3").health())
                .isEqualTo(VolumeHealth.FAILED);
        assertThatThrownBy(() -> Placement.replacement(GIB, List.of(new DeviceSpace("d1", 100 * GIB, 0, true)), Set.of("d1")))
                .hasMessageContaining("copies");
    }

    @Test
    void devicePathsAndPools() {
        Validator v = new Validator();
        StorageRules.validateDevicePath("relative", v);
        StorageRules.validateDevicePath("/srv/../etc", v);
        StorageRules.validateDevicePath("/srv/disk1", v);
        assertThat(v.errors()).extracting(FieldError::field).containsExactly("path", "path");
        List<StorageDevice> known = List.of(new StorageDevice("d1", "host-a", "/srv/d1", GIB, DeviceHealth.ONLINE),
                new StorageDevice("d2", "host-b", "/srv/d2", GIB, DeviceHealth.ONLINE));
        Validator p = new Validator();
        StorageRules.validatePool("fast", List.of("d1", "d1", "dx"), known, p);
        assertThat(p.errors()).extracting(FieldError::reason).contains("names a device twice", "unknown device 'dx'");
        Validator q = new Validator();
        StorageRules.validatePool("fast", List.of("d1", "d2"), known, q);
        assertThat(q.errors()).extracting(FieldError::reason).containsExactly("all devices of a pool must be on one host");
    }
}
