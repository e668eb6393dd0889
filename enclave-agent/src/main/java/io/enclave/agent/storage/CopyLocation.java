package io.enclave.agent.storage;

import io.enclave.core.storage.CopyState;
import java.nio.file.Path;

/**
 * One copy of a volume on one device. {@code generation} counts rebuilds of this copy: a rebuilt copy gets
 * a new file and new QEMU node names, so old and new can both exist while the rebuild runs.
 */
public record CopyLocation(int index, String deviceId, Path deviceDir, int generation, CopyState state) {

    public static final String VOLUMES_DIR = "enclave-volumes";

    public Path file(String volumeId) {
        return deviceDir.resolve(VOLUMES_DIR).resolve(volumeId + "-c" + index + "g" + generation + ".qcow2");
    }

    /** The qcow2 node's name in QEMU's block graph (at most 31 characters with a 16-character volume id). */
    public String formatNode(String volumeId) {
        return volumeId + "-c" + index + "g" + generation;
    }

    /** The file (protocol) node under the qcow2 node. */
    public String fileNode(String volumeId) {
        return formatNode(volumeId) + "f";
    }

    public CopyLocation withState(CopyState newState) {
        return new CopyLocation(index, deviceId, deviceDir, generation, newState);
    }

    public boolean inSync() {
        return state == CopyState.IN_SYNC;
    }
}
