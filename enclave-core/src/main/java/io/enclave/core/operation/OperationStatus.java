package io.enclave.core.operation;

public enum OperationStatus {
    PENDING, RUNNING, SUCCEEDED, FAILED;

    public boolean finished() {
        return this == SUCCEEDED || this == FAILED;
    }
}
