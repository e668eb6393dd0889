package io.enclave.core.vm;

/** What the platform last observed a VM to be doing. */
public enum VmPhase {
    PENDING, CREATING, STARTING, RUNNING, REBOOTING, STOPPING, STOPPED, CRASHED, FAILED, DELETING
}
