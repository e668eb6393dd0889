package io.enclave.core.tenant;

import io.enclave.core.error.FieldError;
import java.util.ArrayList;
import java.util.List;

/** Upper limits on what one tenant may hold at once. */
public record Quota(int vcpus, long memoryMib, long diskGib, int vms) {

    /** The fields of {@code wanted} that would push {@code used} past this quota, with the room left. */
    public List<FieldError> exceededBy(Usage used, Usage wanted) {
        List<FieldError> errors = new ArrayList<>();
        if (used.vms() + wanted.vms() > vms) {
            errors.add(new FieldError("vms", "tenant already has " + used.vms() + " of " + vms + " VMs"));
        }
        if (used.vcpus() + wanted.vcpus() > vcpus) {
            errors.add(new FieldError("vcpus", "asks " + wanted.vcpus() + " but only " + (vcpus - used.vcpus())
                    + " of " + vcpus + " vCPUs are left in the quota"));
        }
        if (used.memoryMib() + wanted.memoryMib() > memoryMib) {
            errors.add(new FieldError("memoryMib", "asks " + wanted.memoryMib() + " MiB but only "
                    + (memoryMib - used.memoryMib()) + " of " + memoryMib + " MiB are left in the quota"));
        }
        if (used.diskGib() + wanted.diskGib() > diskGib) {
            errors.add(new FieldError("diskGib", "asks " + wanted.diskGib() + " GiB but only "
                    + (diskGib - used.diskGib()) + " of " + diskGib + " GiB are left in the quota"));
        }
        return errors;
    }
}
