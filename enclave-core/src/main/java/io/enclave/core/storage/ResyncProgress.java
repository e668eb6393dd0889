package io.enclave.core.storage;

/** A live copy rebuild as its host reports it: the block job's status and bytes done of total. */
public record ResyncProgress(String status, long currentBytes, long totalBytes, String error) {
    /** The rebuilt copy has caught up with the volume and can be swapped in. */
    public boolean ready() {
        return "ready".equals(status);
    }

    public int percent() {
        return totalBytes <= 0 ? 0 : (int) Math.min(100, currentBytes * 100 / totalBytes);
    }
}
