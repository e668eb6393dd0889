package io.enclave.core.storage;

import java.util.List;

/** A volume's health, derived from the states of its copies. */
public enum VolumeHealth {
    /** Every copy is in sync. */
    HEALTHY,
    /** At least one copy failed and none is being rebuilt; the volume serves from the others. */
    DEGRADED,
    /** A copy is being rebuilt; the volume serves from the in-sync copies. */
    RESYNCING,
    /** No copy is in sync: the data is lost (or its only device is down). */
    FAILED;

    public static VolumeHealth of(List<VolumeCopy> copies) {
        long inSync = copies.stream().filter(c -> c.state() == CopyState.IN_SYNC).count();
        if (inSync == 0) return FAILED;
        if (inSync == copies.size()) return HEALTHY;
        boolean resyncing = copies.stream().anyMatch(c -> c.state() == CopyState.RESYNCING);
        return resyncing ? RESYNCING : DEGRADED;
    }
}
