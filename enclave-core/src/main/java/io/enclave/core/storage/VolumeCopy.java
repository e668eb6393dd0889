package io.enclave.core.storage;

/**
 * Where one copy of a volume lives: copy {@code index} is on device {@code deviceId}. {@code generation}
 * counts rebuilds of this copy; the host names the copy's file and QEMU nodes after it, so a rebuilt copy
 * never collides with the one it replaces.
 */
public record VolumeCopy(int index, String deviceId, int generation, CopyState state) {
    public VolumeCopy withState(CopyState newState) {
        return new VolumeCopy(index, deviceId, generation, newState);
    }

    /** The copy's next incarnation on {@code device}, being rebuilt. */
    public VolumeCopy rebuiltOn(String device) {
        return new VolumeCopy(index, device, generation + 1, CopyState.RESYNCING);
    }
}
