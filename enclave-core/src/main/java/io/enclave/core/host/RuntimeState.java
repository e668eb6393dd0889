package io.enclave.core.host;

/** What a host agent sees of one VM on its host. */
public enum RuntimeState {
    /** Nothing of the VM exists on the host. */
    ABSENT,
    /** The VM's disk exists; no QEMU process runs for it. */
    DEFINED,
    /** QEMU runs and the guest is executing. */
    RUNNING,
    /** QEMU runs but the guest is paused. */
    PAUSED,
    /** The guest powered itself off; QEMU is still there (it runs with -no-shutdown). */
    GUEST_SHUTDOWN,
    /** The guest kernel panicked (pvpanic); QEMU holds it paused. */
    GUEST_PANICKED,
    /** QEMU was started and is gone without anyone stopping it. */
    PROCESS_DIED
}
