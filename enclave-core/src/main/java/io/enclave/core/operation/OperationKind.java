package io.enclave.core.operation;

public enum OperationKind { CREATE_VM, START_VM, STOP_VM, REBOOT_VM, DELETE_VM, RESYNC_VOLUME, MIGRATE_VM, RECOVER_VM }
