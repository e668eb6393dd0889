-- Where a migrating VM's volumes go: the copies a live migration makes on a pool of the destination
-- host. Recorded with the migration (before anything reaches the destination), moved into volume_copies when
-- the VM's record moves, dropped when the migration fails, so a restarted controller settles it either way.
CREATE TABLE migration_volume_copies (
    vm_id       VARCHAR(32)  NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    volume_id   VARCHAR(32)  NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
    to_pool_id  VARCHAR(32)  NOT NULL REFERENCES storage_pools(id),
    copy_index  INTEGER      NOT NULL,
    device_id   VARCHAR(32)  NOT NULL REFERENCES storage_devices(id),
    generation  INTEGER      NOT NULL,
    PRIMARY KEY (volume_id, copy_index)
);
CREATE INDEX migration_volume_copies_vm ON migration_volume_copies (vm_id);
