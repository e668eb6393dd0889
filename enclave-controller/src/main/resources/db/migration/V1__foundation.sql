-- Enclave foundation schema. Portable between H2 (embedded default) and PostgreSQL.

CREATE TABLE tenants (
    id               VARCHAR(32)  PRIMARY KEY,
    name             VARCHAR(63)  NOT NULL UNIQUE,
    quota_vcpus      INTEGER      NOT NULL,
    quota_memory_mib BIGINT       NOT NULL,
    quota_disk_gib   BIGINT       NOT NULL,
    quota_vms        INTEGER      NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL
);

-- Bearer tokens, stored only as SHA-256 hashes. tenant_id NULL means an admin token.
CREATE TABLE tokens (
    id          VARCHAR(32)  PRIMARY KEY,
    tenant_id   VARCHAR(32)  REFERENCES tenants(id) ON DELETE CASCADE,
    name        VARCHAR(63)  NOT NULL,
    token_hash  VARCHAR(64)  NOT NULL UNIQUE,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE hosts (
    id            VARCHAR(32)  PRIMARY KEY,
    name          VARCHAR(253) NOT NULL,
    cpus          INTEGER      NOT NULL,
    memory_mib    BIGINT       NOT NULL,
    accelerator   VARCHAR(16)  NOT NULL,
    status        VARCHAR(16)  NOT NULL,
    heartbeat_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE images (
    id            VARCHAR(32)   PRIMARY KEY,
    name          VARCHAR(63)   NOT NULL UNIQUE,
    disk_path     VARCHAR(4096) NOT NULL,
    disk_format   VARCHAR(16)   NOT NULL,
    kernel_path   VARCHAR(4096),
    initrd_path   VARCHAR(4096),
    cmdline       VARCHAR(4096),
    guest_agent   BOOLEAN       NOT NULL,
    virtual_size  BIGINT        NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE vms (
    id                   VARCHAR(32)  PRIMARY KEY,
    tenant_id            VARCHAR(32)  NOT NULL REFERENCES tenants(id),
    name                 VARCHAR(63)  NOT NULL,
    vcpus                INTEGER      NOT NULL,
    memory_mib           BIGINT       NOT NULL,
    disk_gib             BIGINT       NOT NULL,
    image_name           VARCHAR(63)  NOT NULL,
    host_id              VARCHAR(32)  NOT NULL REFERENCES hosts(id),
    desired_state        VARCHAR(16)  NOT NULL,
    generation           BIGINT       NOT NULL,
    reboot_pending       BOOLEAN      NOT NULL,
    stop_timeout_seconds INTEGER      NOT NULL,
    phase                VARCHAR(16)  NOT NULL,
    observed_generation  BIGINT       NOT NULL,
    guest_ready          BOOLEAN      NOT NULL,
    message              VARCHAR(4000),
    failed_attempts      INTEGER      NOT NULL,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT vms_tenant_name UNIQUE (tenant_id, name)
);
CREATE INDEX vms_tenant ON vms (tenant_id, id);
CREATE INDEX vms_host ON vms (host_id);

CREATE TABLE operations (
    id                VARCHAR(32)  PRIMARY KEY,
    tenant_id         VARCHAR(32)  NOT NULL,
    kind              VARCHAR(32)  NOT NULL,
    target_id         VARCHAR(32)  NOT NULL,
    target_generation BIGINT       NOT NULL,
    status            VARCHAR(16)  NOT NULL,
    progress          INTEGER      NOT NULL,
    message           VARCHAR(4000),
    error             VARCHAR(4000),
    caller_scope      VARCHAR(32)  NOT NULL,
    idempotency_key   VARCHAR(255),
    created_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT operations_idempotency UNIQUE (caller_scope, idempotency_key)
);
CREATE INDEX operations_target ON operations (target_id, status);
CREATE INDEX operations_tenant ON operations (tenant_id, created_at);
