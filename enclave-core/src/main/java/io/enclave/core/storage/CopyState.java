package io.enclave.core.storage;

/** The state of one copy of a volume. */
public enum CopyState {
    /** Holds the volume's current data. */
    IN_SYNC,
    /** Its device failed or it returned errors: it is not trusted and not read. */
    FAILED,
    /** Being rebuilt from an in-sync copy. */
    RESYNCING
}
