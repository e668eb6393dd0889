package io.enclave.core.storage;

import io.enclave.core.error.FieldError;
import java.util.ArrayList;
import java.util.List;

/**
 * A tenant's limits on volumes: their total size (each volume counted once at its size, whatever its
 * number of copies) and their count. Kept apart from {@code tenant.Quota} until the controller wires it.
 */
public record VolumeQuota(long maxTotalGib, int maxVolumes) {

    /** The fields that adding {@code wantedGib} (and {@code wantedVolumes} volumes) would push past the quota. */
    public List<FieldError> exceededBy(long usedGib, int usedVolumes, long wantedGib, int wantedVolumes) {
        List<FieldError> errors = new ArrayList<>();
        if (usedVolumes + wantedVolumes > maxVolumes) {
            errors.add(new FieldError("volumes", "tenant already has " + usedVolumes + " of " + maxVolumes + " volumes"));
        }
        if (usedGib + wantedGib > maxTotalGib) {
            errors.add(new FieldError("sizeGib", "asks " + wantedGib + " GiB but only " + Math.max(0, maxTotalGib - usedGib)
                    + " of " + maxTotalGib + " GiB of volume quota are left"));
        }
        return errors;
    }
}
