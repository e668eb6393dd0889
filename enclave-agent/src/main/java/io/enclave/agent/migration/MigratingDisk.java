package io.enclave.agent.migration;

/**
 * One disk whose data a live migration with copied storage carries: {@code node}, the block node the guest's
 * device uses on this side, and {@code export}, the NBD export name the destination serves it under ("disk0" for
 * the boot disk, the volume's id for a hot-plugged volume). Both sides derive the export names the same way.
 */
public record MigratingDisk(String node, String export) {
    static final String JOB_PREFIX = "migration-";
    static final String TARGET_PREFIX = "migration-to-";

    public MigratingDisk {
        if (node == null || node.isBlank() || export == null || !export.matches("[a-z][a-z0-9-]{0,22}")) {
            throw new IllegalArgumentException("a migrating disk needs a node and an export name of a-z, 0-9, '-': "
                    + node + " / " + export);
        }
    }

    /** The source's mirror job for this disk. */
    String job() {
        return JOB_PREFIX + export;
    }

    /** The source's NBD client node that writes into the destination's export. */
    String targetNode() {
        return TARGET_PREFIX + export;
    }

    /** The destination's block export id. */
    String exportId() {
        return JOB_PREFIX + export;
    }
}
