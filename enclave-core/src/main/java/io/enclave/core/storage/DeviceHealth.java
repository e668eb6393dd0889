package io.enclave.core.storage;

/** Whether a storage device answers I/O. */
public enum DeviceHealth {
    /** Mounted where registered, and a probe write + sync + read succeeded. */
    ONLINE,
    /** Unmounted, missing, or returned I/O errors. Copies on it are lost until resynced elsewhere. */
    FAILED
}
