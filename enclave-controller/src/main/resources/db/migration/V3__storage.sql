-- Storage devices, pools, redundant volumes, their copies and snapshots (issue 4).

-- A real device of a host: a directory that is the root of its own filesystem. Capacity, use and
-- health are what the host agent measured at registration or at the last probe.
CREATE TABLE storage_devices (
    id               VARCHAR(32)   PRIMARY KEY,
    host_id          VARCHAR(32)   NOT NULL REFERENCES hosts(id),
    path             VARCHAR(4096) NOT NULL,
    capacity_bytes   BIGINT        NOT NULL,
    used_bytes       BIGINT        NOT NULL,
    available_bytes  BIGINT        NOT NULL,
    health           VARCHAR(16)   NOT NULL,
    problem          VARCHAR(4000),
    probed_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT storage_devices_host_path UNIQUE (host_id, path)
);

CREATE TABLE storage_pools (
    id          VARCHAR(32)  PRIMARY KEY,
    name        VARCHAR(63)  NOT NULL UNIQUE,
    host_id     VARCHAR(32)  NOT NULL REFERENCES hosts(id),
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

-- A device belongs to at most one pool.
CREATE TABLE storage_pool_devices (
    pool_id    VARCHAR(32)  NOT NULL REFERENCES storage_pools(id) ON DELETE CASCADE,
    device_id  VARCHAR(32)  NOT NULL UNIQUE REFERENCES storage_devices(id),
    position   INTEGER      NOT NULL,
    PRIMARY KEY (pool_id, device_id)
);

-- A tenant's volume. attached_vm_id has no foreign key: deleting a VM detaches its volumes first
-- (VmRepository.delete), and a volume outlives the VMs it was attached to.
CREATE TABLE volumes (
    id              VARCHAR(32)  PRIMARY KEY,
    tenant_id       VARCHAR(32)  NOT NULL REFERENCES tenants(id),
    name            VARCHAR(63)  NOT NULL,
    pool_id         VARCHAR(32)  NOT NULL REFERENCES storage_pools(id),
    size_gib        BIGINT       NOT NULL,
    copies          INTEGER      NOT NULL,
    attached_vm_id  VARCHAR(32),
    boot_disk       BOOLEAN      NOT NULL,
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT volumes_tenant_name UNIQUE (tenant_id, name)
);
CREATE INDEX volumes_tenant ON volumes (tenant_id, id);
CREATE INDEX volumes_attached ON volumes (attached_vm_id);

-- One copy of a volume on one device; generation counts rebuilds (the host names files after it).
CREATE TABLE volume_copies (
    volume_id   VARCHAR(32)  NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    copy_index  INTEGER      NOT NULL,
    device_id   VARCHAR(32)  NOT NULL REFERENCES storage_devices(id),
    generation  INTEGER      NOT NULL,
    state       VARCHAR(16)  NOT NULL,
    PRIMARY KEY (volume_id, copy_index)
);
CREATE INDEX volume_copies_device ON volume_copies (device_id);

-- Internal qcow2 snapshots, of the same name in every copy.
CREATE TABLE volume_snapshots (
    volume_id   VARCHAR(32)  NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    name        VARCHAR(63)  NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (volume_id, name)
);
