package io.enclave.core.vm;

/** What the tenant asked a VM to be. The reconciler converges the host to it. */
public enum DesiredState { RUNNING, STOPPED, DELETED }
