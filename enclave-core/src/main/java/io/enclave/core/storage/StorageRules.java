package io.enclave.core.storage;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import io.enclave.core.validation.Validator;
import io.enclave.core.vm.VmSpec;
import java.util.HashSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Every check on a storage request that needs no I/O. Field errors are collected in a {@link Validator};
 * state conflicts (attached, running) are {@link EnclaveException.Conflict}s.
 */
public final class StorageRules {

    public static final int MAX_COPIES = 3;
    private static final Pattern SNAPSHOT_NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}");

    /** Upper bound on one volume, whatever the pool: keeps a typo from reserving a whole pool. */
    private final long maxSizeGib;

    public StorageRules(long maxSizeGib) {
        this.maxSizeGib = maxSizeGib;
    }

    /** Registering a device: an absolute, normalised directory path. */
    public static void validateDevicePath(String path, Validator v) {
        if (!v.present(path, "path")) return;
        v.require(path.startsWith("/"), "path", "must be an absolute path, got '" + path + "'");
        v.require(!path.contains("/../") && !path.endsWith("/..") && !path.contains("//") && !path.contains("/./")
                        && !path.contains("\0") && !path.contains(","),
                "path", "must be a normalised path without '..', '.', '//' or ',', got '" + path + "'");
    }

    /** A pool: a DNS-label name and at least one distinct device, all registered on one host. */
    public static void validatePool(String name, List<String> deviceIds, List<StorageDevice> known, Validator v) {
        v.dnsLabel(name, "name");
        if (!v.present(deviceIds, "deviceIds")) return;
        v.require(!deviceIds.isEmpty(), "deviceIds", "must name at least one device");
        v.require(new HashSet<>(deviceIds).size() == deviceIds.size(), "deviceIds", "names a device twice");
        for (String id : deviceIds) {
            v.require(known.stream().anyMatch(d -> d.id().equals(id)), "deviceIds", "unknown device '" + id + "'");
        }
        v.require(known.stream().filter(d -> deviceIds.contains(d.id())).map(StorageDevice::hostId).distinct().count() <= 1,
                "deviceIds", "all devices of a pool must be on one host");
    }

    /**
     * A new volume: name, pool, size and copies are each checked and, when the pool is known, the copies are
     * placed. Returns the chosen devices.
     *
     * @param pool      the named pool, or null when it does not exist
     * @param poolSpace the pool's devices with their reservations
     */
    public List<String> validateCreate(VolumeSpec spec, StoragePool pool, List<DeviceSpace> poolSpace) {
        Validator v = new Validator();
        v.dnsLabel(spec.name(), "name");
        if (v.present(spec.pool(), "pool")) v.require(pool != null, "pool", "unknown pool '" + spec.pool() + "'");
        v.range(spec.sizeGib(), 1, maxSizeGib, "sizeGib", " GiB");
        if (v.present(spec.copies(), "copies")) {
            v.require(spec.copies() >= 1 && spec.copies() <= MAX_COPIES, "copies",
                    "must be between 1 and " + MAX_COPIES + " (got " + spec.copies() + ")");
        }
        v.throwIfInvalid();
        return Placement.place(spec.copies(), spec.sizeGib() << 30, poolSpace);
    }

    /**
     * A new VM's boot volume: checked and placed as a volume named {@code <vm-name>-boot} of the VM's disk size
     * would be, with field errors named as the VM request names them ({@code bootVolume.pool},
     * {@code bootVolume.copies}, {@code diskGib}, {@code name}). It cannot be combined with shared storage: the
     * boot disk is then either the volume or on the shared storage. Returns the chosen devices.
     *
     * @param pool the named pool, or null when it does not exist
     */
    public List<String> validateBootVolume(BootVolumeSpec spec, VmSpec vm, StoragePool pool, List<DeviceSpace> poolSpace) {
        if (vm.placement().sharedStorage()) {
            throw new EnclaveException.InvalidRequest("bootVolume", "cannot be combined with storage 'shared': the boot "
                    + "disk is either a volume in a pool or on shared storage, pick one");
        }
        try {
            return validateCreate(new VolumeSpec(BootVolumeSpec.volumeName(vm.name()), spec.pool(), vm.diskGib(),
                    spec.copies()), pool, poolSpace);
        } catch (EnclaveException.InvalidRequest e) {
            throw new EnclaveException.InvalidRequest(e.fields().stream().map(f -> new FieldError(switch (f.field()) {
                case "pool", "copies" -> "bootVolume." + f.field();
                case "sizeGib" -> "diskGib";
                default -> f.field();
            }, f.field().equals("name") ? "the boot volume's name '" + BootVolumeSpec.volumeName(vm.name()) + "' "
                    + f.reason() : f.reason())).toList());
        }
    }

    /**
     * Growing: the new size must be larger than the current one (volumes never shrink: the guest's
     * filesystem would lose its tail) and fit on every device that holds a copy.
     */
    public void validateGrow(Volume volume, Long newSizeGib, List<DeviceSpace> poolSpace) {
        requireNotBootDisk(volume);
        Validator v = new Validator();
        if (v.present(newSizeGib, "sizeGib")) {
            v.require(newSizeGib > volume.sizeGib(), "sizeGib", "must be larger than the current "
                    + volume.sizeGib() + " GiB (volumes cannot shrink), got " + newSizeGib);
            v.require(newSizeGib <= maxSizeGib, "sizeGib", "must be at most " + maxSizeGib + " GiB, got " + newSizeGib);
        }
        v.throwIfInvalid();
        long extra = (newSizeGib - volume.sizeGib()) << 30;
        for (VolumeCopy copy : volume.placement()) {
            DeviceSpace space = poolSpace.stream().filter(d -> d.deviceId().equals(copy.deviceId())).findFirst()
                    .orElseThrow(() -> new EnclaveException.Conflict("device '" + copy.deviceId() + "' of volume '"
                            + volume.id() + "' is not in its pool"));
            if (space.freeBytes() < extra) {
                throw new EnclaveException.InvalidRequest("sizeGib", "growing by " + Placement.human(extra)
                        + " needs that much free on device '" + copy.deviceId() + "', which has "
                        + Placement.human(space.freeBytes()));
            }
        }
    }

    public static void validateSnapshotName(String name, Validator v) {
        if (v.present(name, "name")) {
            v.require(SNAPSHOT_NAME.matcher(name).matches(), "name",
                    "must be 1-63 characters of letters, digits, '.', '_' and '-', starting with a letter or digit (got '"
                            + name + "')");
        }
    }

    public static void checkNewSnapshot(Volume volume, String name) {
        Validator v = new Validator();
        validateSnapshotName(name, v);
        v.throwIfInvalid();
        if (volume.snapshots().stream().anyMatch(s -> s.name().equals(name))) {
            throw new EnclaveException.Conflict("volume '" + volume.id() + "' already has a snapshot '" + name + "'");
        }
    }

    /** Reverting rewrites the disk under the guest, so the volume must be detached or its VM stopped. */
    public static void checkRevert(Volume volume, String snapshot, boolean vmRunning) {
        requireSnapshot(volume, snapshot);
        if (volume.attached() && vmRunning) {
            throw new EnclaveException.Conflict("volume '" + volume.id() + "' is attached to running VM '"
                    + volume.attachedVmId() + "': stop the VM or detach the volume before reverting");
        }
    }

    public static void requireSnapshot(Volume volume, String snapshot) {
        if (volume.snapshots().stream().noneMatch(s -> s.name().equals(snapshot))) {
            throw new EnclaveException.NotFound("snapshot", volume.id() + "@" + snapshot);
        }
    }

    public static void checkDelete(Volume volume) {
        requireNotBootDisk(volume);
        if (volume.attached()) {
            throw new EnclaveException.Conflict("volume '" + volume.id() + "' is attached to VM '"
                    + volume.attachedVmId() + "': detach it first");
        }
    }

    /**
     * Attaching: same tenant, same host as the pool, and not attached already. A VM of another tenant is
     * reported as not found, as everywhere else.
     */
    public static void checkAttach(Volume volume, String vmId, String vmTenantId, String vmHostId, String poolHostId) {
        if (!volume.tenantId().equals(vmTenantId)) throw new EnclaveException.NotFound("vm", vmId);
        if (volume.attached()) {
            throw new EnclaveException.Conflict("volume '" + volume.id() + "' is already attached to VM '"
                    + volume.attachedVmId() + "'");
        }
        if (!poolHostId.equals(vmHostId)) {
            throw new EnclaveException.InvalidRequest("vmId", "VM '" + vmId + "' runs on host '" + vmHostId
                    + "' but the volume's pool is on host '" + poolHostId + "'");
        }
        if (volume.health() == VolumeHealth.FAILED) {
            throw new EnclaveException.Conflict("volume '" + volume.id() + "' has no in-sync copy");
        }
    }

    /** Detaching: must be attached, and not a VM's boot disk (that lives and dies with its VM). */
    public static void checkDetach(Volume volume) {
        if (!volume.attached()) throw new EnclaveException.Conflict("volume '" + volume.id() + "' is not attached");
        requireNotBootDisk(volume);
    }

    /**
     * A boot volume is created with its VM and deleted with it; it is never detached, deleted or grown on its own
     * (growing would leave the VM's {@code diskGib}, through which it counts against the quota, behind).
     */
    public static void requireNotBootDisk(Volume volume) {
        if (volume.bootDisk()) {
            throw new EnclaveException.Conflict("volume '" + volume.id() + "' is the boot disk of vm '"
                    + volume.attachedVmId() + "'; delete the VM instead");
        }
    }
}
