package io.enclave.agent.storage;

/** A QEMU block job as seen in query-jobs: status (created, running, ready, concluded …) and bytes done/total. */
public record JobProgress(String jobId, String status, long currentBytes, long totalBytes, String error) {
    public boolean ready() {
        return "ready".equals(status);
    }

    public int percent() {
        return totalBytes <= 0 ? 0 : (int) Math.min(100, currentBytes * 100 / totalBytes);
    }
}
